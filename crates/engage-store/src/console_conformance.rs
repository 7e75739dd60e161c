//! The conformance suite's part for console sessions: signed in through one handle (on
//! PostgreSQL, one server), known through every other, ended everywhere at sign-out,
//! gone once expired, and bounded per account.
//!
//! [`store_conformance_tests!`](crate::store_conformance_tests) expands these with the
//! rest of the suite.

// A test suite: a panic is a failed test, with the message saying which expectation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::conformance::{account, fresh};
use crate::{ConsoleSession, Store, StoreError, MAX_CONSOLE_SESSIONS_PER_ACCOUNT};

/// Expands the console session tests into one `#[tokio::test]` each for a backend.
#[macro_export]
macro_rules! console_conformance_tests {
    ($open:path) => {
        $crate::console_conformance_tests!(@expand $open;
            a_console_session_is_found_through_every_handle_until_it_ends,
            a_console_session_expires_and_belongs_to_its_account,
            console_sessions_are_bounded_per_account_keeping_the_newest,
            a_console_session_of_an_unknown_account_is_refused,
        );
    };
    (@expand $open:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                $crate::console_conformance::$test($open).await;
            }
        )*
    };
}

fn session(account: &str, token_hash: &str, created_ms: i64) -> ConsoleSession {
    ConsoleSession {
        account: account.into(),
        token_hash: token_hash.into(),
        csrf_token: format!("csrf-{token_hash}"),
        created_ms,
        expires_ms: created_ms + 3_600_000,
    }
}

const NOW: i64 = 1_765_000_000_000;

pub async fn a_console_session_is_found_through_every_handle_until_it_ends<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let other = open(dir.path().to_owned()).await;
    let s = session(&a, "h1", NOW);
    store.create_console_session(s.clone()).await.unwrap();
    assert_eq!(
        store.console_session(&a, "h1", NOW + 1).await.unwrap(),
        Some(s.clone())
    );
    // Another handle (on PostgreSQL, another server) knows it.
    assert_eq!(
        other.console_session(&a, "h1", NOW + 1).await.unwrap(),
        Some(s)
    );
    assert_eq!(store.console_session(&a, "h2", NOW).await.unwrap(), None);
    // Signed out on the other handle: ended for both.
    assert!(other.end_console_session(&a, "h1").await.unwrap());
    assert_eq!(
        store.console_session(&a, "h1", NOW + 2).await.unwrap(),
        None
    );
    assert!(!store.end_console_session(&a, "h1").await.unwrap());
}

pub async fn a_console_session_expires_and_belongs_to_its_account<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let b = account(&store).await;
    let s = session(&a, "h1", NOW);
    store.create_console_session(s.clone()).await.unwrap();
    assert_eq!(
        store
            .console_session(&a, "h1", s.expires_ms - 1)
            .await
            .unwrap(),
        Some(s.clone())
    );
    assert_eq!(
        store.console_session(&a, "h1", s.expires_ms).await.unwrap(),
        None,
        "expired at expires_ms"
    );
    // The same token hash under another account names nothing.
    assert_eq!(store.console_session(&b, "h1", NOW).await.unwrap(), None);
    assert!(!store.end_console_session(&b, "h1").await.unwrap());
    // A later sign-in prunes what expired.
    store
        .create_console_session(session(&a, "h2", s.expires_ms + 10))
        .await
        .unwrap();
    assert_eq!(
        store.console_session(&a, "h1", NOW).await.unwrap(),
        None,
        "pruned"
    );
}

pub async fn console_sessions_are_bounded_per_account_keeping_the_newest<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let a = account(&store).await;
    let b = account(&store).await;
    store
        .create_console_session(session(&b, "b0", NOW))
        .await
        .unwrap();
    let n = MAX_CONSOLE_SESSIONS_PER_ACCOUNT + 3;
    for i in 0..n {
        store
            .create_console_session(session(&a, &format!("a{i:03}"), NOW + i as i64))
            .await
            .unwrap();
    }
    let at = NOW + n as i64;
    for i in 0..3 {
        assert_eq!(
            store
                .console_session(&a, &format!("a{i:03}"), at)
                .await
                .unwrap(),
            None,
            "the oldest sessions end past the cap"
        );
    }
    for i in 3..n {
        assert!(
            store
                .console_session(&a, &format!("a{i:03}"), at)
                .await
                .unwrap()
                .is_some(),
            "session {i} kept"
        );
    }
    // Another account's session is not counted against this one.
    assert!(store.console_session(&b, "b0", at).await.unwrap().is_some());
}

pub async fn a_console_session_of_an_unknown_account_is_refused<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let refused = store
        .create_console_session(session("no-such-account", "h1", NOW))
        .await;
    assert!(
        matches!(refused, Err(StoreError::UnknownAccount(_))),
        "{refused:?}"
    );
}
