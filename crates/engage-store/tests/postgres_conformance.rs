//! The conformance suite against the PostgreSQL backend, plus what only PostgreSQL has
//! (its keys, its partitions, two stores on one database).
//!
//! Each test gets a database of its own, `engage_test_<pid>_<n>`, created on the server
//! `ENGAGE_TEST_DATABASE_URL` names (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and dropped when the test's directory goes (also when the test failed). Databases
//! left by a test process that was killed are dropped by the next run. When no server
//! answers, the tests fail and say what to set: they never skip.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use engage_store::postgres::PostgresStore;
use engage_store::Store;
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server the tests create their databases on.
pub fn server_url() -> String {
    std::env::var("ENGAGE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `url` with its database replaced by `database`.
pub fn database_url(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{database}?{q}"),
        None => format!("{host_part}/{database}"),
    }
}

async fn admin_client() -> tokio_postgres::Client {
    let url = server_url();
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
            "PostgreSQL at {url} does not answer ({e}). Start one, or set ENGAGE_TEST_DATABASE_URL \
             to a server where this user may CREATE DATABASE (scripts/test starts one)."
        )
        });
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Drops the databases of earlier test processes that no longer run.
async fn sweep_stale(client: &tokio_postgres::Client) {
    let rows = client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'engage\\_test\\_%'",
            &[],
        )
        .await
        .unwrap();
    for row in rows {
        let name: String = row.get(0);
        let pid = name
            .strip_prefix("engage_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|p| p.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// A new empty database; its URL.
pub async fn create_database() -> (String, String) {
    static SWEPT: OnceCell<()> = OnceCell::const_new();
    static N: AtomicU64 = AtomicU64::new(0);
    let client = admin_client().await;
    SWEPT.get_or_init(|| sweep_stale(&client)).await;
    let name = format!(
        "engage_test_{}_{}_{}",
        std::process::id(),
        engage_store::ids::now_ms(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
    let url = database_url(&server_url(), &name);
    (name, url)
}

/// Drops a test database (closing whatever connections it still has), off the caller's
/// runtime: this runs from `Drop`.
pub fn drop_database(name: String) {
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to drop the test database");
        runtime.block_on(async {
            let client = admin_client().await;
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
        })
    })
    .join();
    if let Ok(Err(e)) = dropped {
        eprintln!("dropping a test database failed: {e}");
    }
}

const NAME_FILE: &str = "postgres-database";

fn drop_directory_database(dir: &Path) {
    if let Ok(name) = std::fs::read_to_string(dir.join(NAME_FILE)) {
        drop_database(name);
    }
}

/// The suite's `open`: the directory names its database (made on first use), so
/// opening the same directory again opens the same data.
async fn open_postgres(dir: PathBuf) -> Arc<dyn Store> {
    engage_store::conformance::on_directory_removed(drop_directory_database);
    let file = dir.join(NAME_FILE);
    let name = match std::fs::read_to_string(&file) {
        Ok(name) => name,
        Err(_) => {
            let (name, _) = create_database().await;
            std::fs::write(&file, &name).unwrap();
            name
        }
    };
    let url = database_url(&server_url(), &name);
    Arc::new(
        PostgresStore::open(&url)
            .await
            .expect("opening the postgres store"),
    )
}

engage_store::store_conformance_tests!(open_postgres);

#[test]
fn database_urls_keep_their_server_and_options() {
    assert_eq!(
        database_url("postgres://u:p@h:5433/postgres?sslmode=disable", "x"),
        "postgres://u:p@h:5433/x?sslmode=disable"
    );
    assert_eq!(database_url("postgresql://h", "x"), "postgresql://h/x");
}

#[tokio::test]
async fn open_accepts_postgres_and_postgresql_urls() {
    let (name, url) = create_database().await;
    for url in [url.clone(), url.replacen("postgres://", "postgresql://", 1)] {
        let store = engage_store::open(&url).await.unwrap();
        assert_eq!(store.backend(), "postgres");
        store.close().await.unwrap();
    }
    drop_database(name);
}
