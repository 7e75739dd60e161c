//! What the benchmarks share: the `engage serve` child process they drive, and how they
//! turn measurements into figures.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::http_client::Connection;

/// Where a benchmark keeps its store: a directory (SQLite, the default) or the
/// database `--database URL` names.
#[derive(Debug, Clone)]
pub enum Storage {
    Dir(PathBuf),
    Url(String),
}

impl Storage {
    /// `dir`, unless `--database` gave a URL.
    pub fn new(dir: &Path, database: Option<&str>) -> Storage {
        match database {
            Some(url) => Storage::Url(url.to_owned()),
            None => Storage::Dir(dir.to_owned()),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Storage::Dir(dir) => format!("sqlite://{}", dir.join("engage.db").display()),
            Storage::Url(url) => url.clone(),
        }
    }

    /// What `engage serve` is given to open it.
    fn serve_args(&self) -> Vec<std::ffi::OsString> {
        match self {
            Storage::Dir(dir) => vec!["--data".into(), dir.into()],
            Storage::Url(url) => vec!["--database".into(), url.into()],
        }
    }
}

/// An `engage serve` child process on a free loopback port, stopped (SIGTERM, then
/// SIGKILL) when dropped.
pub struct ServerProcess {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl ServerProcess {
    /// Starts `engage serve` on `storage` and waits until it answers `/healthz`, for at most
    /// `wait` (opening a large store can take a moment).
    pub async fn start(storage: &Storage, wait: Duration) -> anyhow::Result<ServerProcess> {
        ServerProcess::start_with(storage, wait, &[]).await
    }

    /// [`ServerProcess::start`] with more `engage serve` arguments.
    pub async fn start_with(
        storage: &Storage,
        wait: Duration,
        extra: &[&str],
    ) -> anyhow::Result<ServerProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address = format!("127.0.0.1:{port}");
        let child = std::process::Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", &address])
            .args(storage.serve_args())
            // The load comes from one address as fast as the server takes it: the
            // public routes' rate limits would measure themselves, not the server.
            .args(["--rate-limit-per-ip", "0", "--rate-limit-per-account", "0"])
            .args(extra)
            .env("ENGAGE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start `engage serve`")?;
        let mut server = ServerProcess { child, address };
        let started = Instant::now();
        loop {
            if let Ok(mut c) = Connection::open(&server.address).await {
                if c.get("/healthz").await.ok() == Some(200) {
                    return Ok(server);
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                anyhow::bail!("`engage serve` exited before it answered /healthz ({status})");
            }
            if started.elapsed() > wait {
                terminate(&mut server.child);
                anyhow::bail!(
                    "the server did not answer /healthz within {} s",
                    wait.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flush; returns once the process is gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stop(mut self) {
        terminate(&mut self.child);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Peak resident memory of a process (VmHWM), in MB; Linux only.
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The `p` quantile (0 to 1) of sorted latencies, in ms, by nearest rank; NaN when empty.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

pub fn now_ms() -> u64 {
    u64::try_from(engage_store::ids::now_ms()).unwrap_or(0)
}
