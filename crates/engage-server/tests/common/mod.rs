//! A real server on a loopback port with a temporary store, for the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use engage_server::{AppState, Limits};
use engage_store::{ExportKind, NewAccount, Store};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub struct TestServer {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub account_id: String,
    pub api_key: String,
    pub client: reqwest::Client,
    /// The server's state, shared with it (its semaphores, caches).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> TestServer {
        TestServer::configured(limits, |state| state).await
    }

    /// A server whose state `configure` changes before it starts (rate limits, ...).
    pub async fn configured(
        limits: Limits,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("engage.db").display());
        let store = engage_store::open(&url).await.unwrap();
        let (api_key, api_key_hash) = engage_server::accounts::generate_api_key().unwrap();
        let account = store
            .create_account(NewAccount {
                name: "test shop".into(),
                api_key_hash,
            })
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let state = configure(AppState::new(store.clone(), limits));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            engage_server::serve(state, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            url: format!("http://{address}"),
            store,
            account_id: account.id,
            api_key,
            client: reqwest::Client::new(),
            state: shared,
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Another server on this one's store and account, its state changed by `configure`
    /// (the fact cache off, say, to compare answers).
    pub async fn alongside(&self, configure: impl FnOnce(AppState) -> AppState) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let state = configure(AppState::new(self.store.clone(), Limits::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            engage_server::serve(state, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            url: format!("http://{address}"),
            store: self.store.clone(),
            account_id: self.account_id.clone(),
            api_key: self.api_key.clone(),
            client: reqwest::Client::new(),
            state: shared,
            shutdown: Some(tx),
            task: Some(task),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn events_url(&self) -> String {
        format!("{}/api/account/{}/events", self.url, self.account_id)
    }

    pub async fn post_events(&self, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.events_url())
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET url` with the account's key, and the JSON answer.
    pub async fn get_json(&self, url: &str) -> Value {
        self.client
            .get(url)
            .bearer_auth(&self.api_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Creates another account in the same store and returns its API key.
    pub async fn other_account_key(&self) -> String {
        self.other_account("another shop").await.1
    }

    /// Creates another account named `name` in the same store; returns its id and API key.
    pub async fn other_account(&self, name: &str) -> (String, String) {
        let (key, hash) = engage_server::accounts::generate_api_key().unwrap();
        let account = self
            .store
            .create_account(NewAccount {
                name: name.into(),
                api_key_hash: hash,
            })
            .await
            .unwrap();
        (account.id, key)
    }

    /// A browser's CORS preflight of a JSON `POST url` from a page of `origin`.
    pub async fn preflight(&self, url: &str, origin: &str) -> reqwest::Response {
        self.client
            .request(reqwest::Method::OPTIONS, url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap()
    }

    /// The preflight is answered 204, letting `origin`'s pages `POST`.
    pub async fn assert_preflight_allows(&self, url: &str, origin: &str) {
        let response = self.preflight(url, origin).await;
        assert_eq!(response.status(), 204);
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
        assert!(response.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn db_path(&self) -> String {
        self._dir.path().join("engage.db").display().to_string()
    }

    /// Stops accepting, waits for in-flight requests, closes the store.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .unwrap()
                .unwrap();
        }
    }

    /// Everything of one kind the account has, as exported.
    pub async fn export(&self, kind: ExportKind) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .export_page(&self.account_id, kind, cursor, 1000)
                .await
                .unwrap();
            let n = page.items.len();
            out.extend(
                page.items
                    .iter()
                    .map(|item| serde_json::from_str::<Value>(item.as_str()).unwrap()),
            );
            match page.cursor {
                Some(c) if n == 1000 => cursor = Some(c),
                _ => return out,
            }
        }
    }
}

pub fn start_event(id: &str, event_name: &str, context: &str, engagement_type: u64) -> Value {
    json!({
        "id": id,
        "time": 1_700_000_000_000u64,
        "appName": "LP_OFFERS",
        "eventName": event_name,
        "data": {
            "contexts": [{"EngagementContext": {"id": context}}, {"pageContext": {"id": "page-1"}}],
            "campaignId": 210599710,
            "engagementId": 210600710,
            "engagementRevision": 18,
            "engagementType": engagement_type,
            "contextId": context,
            "zoneId": 471288710,
            "state": 1,
            "confKey": "210599710_210600710_18",
            "tglName": "slider",
            "done": true,
            "engagementName": "Slide-out chat button"
        }
    })
}

pub fn sde_item(id: &str, sde: Value) -> Value {
    json!({"id": id, "time": 1_700_000_000_500u64, "sde": sde})
}

pub fn batch(events: Vec<Value>, sdes: Vec<Value>) -> Value {
    json!({
        "visitorId": "visitor-1",
        "sessionId": "session-1",
        "pageId": "page-1",
        "page": {"url": "https://shop.example/cart", "referrer": "https://search.example/", "title": "Cart", "sections": ["shop", "cart"]},
        "events": events,
        "sdes": sdes,
    })
}

pub fn cart(total: u64) -> Value {
    json!({"type": "cart", "total": total, "currency": "USD", "numItems": 1,
           "products": [{"product": {"name": "prod1", "category": "shoes", "sku": "sku1", "price": 7.8}, "quantity": 1}]})
}
