//! The `engage` binary on PostgreSQL: `account create`, two `engage serve` processes on
//! one database (a batch posted to one is read back through the other's Engagement
//! History API), `account keys` and `export`.
//!
//! The database is made for the test on the server `ENGAGE_TEST_DATABASE_URL` names
//! (default `postgres://postgres@127.0.0.1:5432/postgres`) and dropped afterwards. When no
//! server answers, the test fails and says what to set.

use crate::server::{self, ServerProcess};

use std::process::Command;

use serde_json::{json, Value};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn server_url() -> String {
    std::env::var("ENGAGE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

async fn admin(sql: String) {
    let url = server_url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {url} does not answer ({e}). Start one, or set \
                 ENGAGE_TEST_DATABASE_URL to a server where this user may CREATE DATABASE \
                 (scripts/test starts one)."
            )
        });
    tokio::spawn(connection);
    client.batch_execute(&sql).await.unwrap();
}

/// A database of its own, dropped (with its connections) when this goes.
pub(crate) struct Database {
    name: String,
    pub(crate) url: String,
}

impl Database {
    pub(crate) async fn create() -> Database {
        let name = format!(
            "engage_test_{}_cli_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        admin(format!("CREATE DATABASE {name}")).await;
        let base = server_url();
        let (before, after) = base.rsplit_once('/').unwrap();
        let query = after.split_once('?').map(|(_, q)| format!("?{q}"));
        let url = format!("{before}/{name}{}", query.unwrap_or_default());
        Database { name, url }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(admin(sql));
        })
        .join();
    }
}

pub(crate) fn engage(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_share_what_they_store() {
    let db = Database::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = engage(&["account", "create", "--name", "Shop", "--database", &db.url]);
    assert_eq!(code, Some(0), "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let account = created["accountId"].as_str().unwrap().to_owned();
    let key = created["apiKey"].as_str().unwrap().to_owned();

    let writer = ServerProcess::start_with(dir.path(), &["--database", &db.url]);
    let reader = ServerProcess::start_with(dir.path(), &["--database", &db.url]);
    let client = reqwest::Client::new();
    let body = json!({
        "visitorId": "v1", "sessionId": "s1", "pageId": "p1",
        "page": {"url": "https://shop.example/cart"},
        "events": [server::event("e-1", "START", "1"), server::event("e-2", "OFFER_CLICK", "1")],
        "sdes": [{"id": "s-1", "time": 1700000000000u64,
                  "sde": {"type": "purchase", "total": "11.7", "orderId": "DRV1534XC"}}]
    });
    let answer: Value = client
        .post(writer.events_url(&account))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (answer["accepted"].clone(), answer["duplicates"].clone()),
        (json!(3), json!(0)),
        "{answer}"
    );
    // The same batch through the other server: stored once.
    let again: Value = client
        .post(reader.events_url(&account))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (again["accepted"].clone(), again["duplicates"].clone()),
        (json!(0), json!(3)),
        "{again}"
    );

    let search = |query: Value| {
        let request = client
            .post(format!(
                "{}/interaction_history/api/account/{account}/interactions/search",
                reader.url
            ))
            .bearer_auth(&key)
            .json(&query);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let window = json!({"from": 1_699_999_000_000u64, "to": 1_700_001_000_000u64});
    let found = search(json!({"start": window})).await;
    assert_eq!(found["_metadata"]["count"], 1, "{found}");
    let record = &found["interactionHistoryRecords"][0];
    assert_eq!(record["info"]["visitorId"], "v1", "{record}");
    assert_eq!(record["info"]["engagementId"], "1", "{record}");
    let by_order = search(json!({"start": window, "keyword": "drv1534xc"})).await;
    assert_eq!(by_order["_metadata"]["count"], 1, "{by_order}");
    let other_order = search(json!({"start": window, "keyword": "DRV9999"})).await;
    assert_eq!(other_order["_metadata"]["count"], 0, "{other_order}");
    drop(writer);
    drop(reader);

    let (code, out, err) = engage(&[
        "account",
        "keys",
        "create",
        "--account",
        &account,
        "--oauth1",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let app_key = serde_json::from_str::<Value>(out.lines().last().unwrap()).unwrap()["appKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = engage(&[
        "account",
        "keys",
        "list",
        "--account",
        &account,
        "--database",
        &db.url,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&app_key), "{out}");

    let (code, out, err) = engage(&["export", "--account", &account, "--database", &db.url]);
    assert_eq!(code, Some(0), "{err}");
    let ids: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].clone())
        .collect();
    assert_eq!(ids, [json!("e-1"), json!("e-2")]);
    let (code, out, err) = engage(&[
        "export",
        "--account",
        &account,
        "--kind",
        "sdes",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("DRV1534XC"), "{out}");
}

#[test]
fn a_postgres_url_that_does_not_answer_is_an_error_without_its_password() {
    let (code, _, err) = engage(&[
        "account",
        "create",
        "--name",
        "Shop",
        "--database",
        "postgres://engage:s3cr3t@127.0.0.1:1/engage?connect_timeout=2",
    ]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("cannot open the store at postgres://engage:***@127.0.0.1:1/engage"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_ingest_drives_two_servers_on_one_database_and_reports_each_and_the_sum() {
    let db = Database::create().await;
    let (code, out, err) = engage(&[
        "bench",
        "ingest",
        "--database",
        &db.url,
        "--servers",
        "2",
        "--duration",
        "1",
        "--concurrency",
        "4",
        "--batch",
        "5",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let figures: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(figures["servers"], 2, "{figures}");
    let each: Vec<f64> = figures["per_server_items_per_sec"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(each.len(), 2, "{figures}");
    assert!(
        each.iter().all(|&r| r > 0.0),
        "both servers took items: {figures}"
    );
    let sum = figures["items_per_sec"].as_f64().unwrap();
    assert!((each[0] + each[1] - sum).abs() <= 2.0, "{figures}");
    // What the two servers acknowledged is all in the one database.
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let accounts: i64 = client
        .query_one("SELECT count(DISTINCT account) FROM visits", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(accounts, 2, "the servers' account and the ceiling's");
}

#[test]
fn bench_ingest_refuses_two_servers_on_sqlite() {
    let (code, _, err) = engage(&["bench", "ingest", "--servers", "2", "--duration", "1"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--servers above 1 needs --database postgres://"),
        "{err}"
    );
}

/// A setting of the PostgreSQL server the tests use (`SHOW name`).
async fn server_setting(name: &str) -> String {
    let (client, connection) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one(&format!("SHOW {name}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// What `engage serve` on `url` writes to stderr before it says it is listening.
fn serve_stderr(url: &str) -> String {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            url,
            "--data",
        ])
        .arg(dir.path())
        .env("ENGAGE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.contains("engage listening on") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        said.contains("engage listening on"),
        "the server did not start:\n{said}"
    );
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_warns_when_nothing_will_vacuum_its_database() {
    let db = Database::create().await;
    // Sessions of this database count no rows, so autovacuum has nothing to go by.
    admin(format!("ALTER DATABASE {} SET track_counts = off", db.name)).await;
    let said = serve_stderr(&db.url);
    let setting = if server_setting("autovacuum").await == "off" {
        "autovacuum = off"
    } else {
        "track_counts = off"
    };
    assert!(
        said.contains(&format!("runs with {setting}"))
            && said.contains("run VACUUM (ANALYZE) on a schedule"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_warns_about_autovacuum_exactly_when_the_database_server_runs_without_it() {
    let db = Database::create().await;
    let off = server_setting("autovacuum").await == "off";
    let said = serve_stderr(&db.url);
    assert_eq!(said.contains("runs with autovacuum = off"), off, "{said}");
    assert!(!said.contains("track_counts = off"), "{said}");
}
