//! The retention sweep: every so often each server asks the store to remove what is past
//! its account's retention, one small step (one short transaction) at a time, with a
//! pause between steps so ingestion's writes go first (docs/operations.md, Retention).
//! Several servers on one PostgreSQL database may sweep at once: a step removes only
//! what is there, so the second finds less.

use std::time::Duration;

use crate::AppState;

/// How often and how much a server sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSweep {
    /// Time between sweeps; `None` turns the sweep off (`engage retention run` still
    /// does it on demand).
    pub every: Option<Duration>,
    /// Visits removed per step (one transaction).
    pub step_visits: usize,
    /// The pause between steps of one sweep.
    pub pause: Duration,
}

impl Default for RetentionSweep {
    fn default() -> Self {
        RetentionSweep {
            every: Some(Duration::from_secs(300)),
            step_visits: 200,
            pause: Duration::from_millis(20),
        }
    }
}

/// Sweeps for as long as the server runs.
pub(crate) async fn run(state: AppState) {
    let Some(every) = state.retention.every else {
        return;
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        sweep_once(&state).await;
    }
}

/// One sweep: steps until nothing expired is left (or the store fails, logged; the next
/// sweep tries again).
pub(crate) async fn sweep_once(state: &AppState) {
    loop {
        let now = engage_store::ids::now_ms();
        match state
            .store
            .sweep_retention(now, state.retention.step_visits.max(1))
            .await
        {
            Ok(step) => {
                state.metrics.record_retention(&step.removed);
                if !step.more {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "retention sweep step failed; retrying at the next sweep");
                return;
            }
        }
        tokio::time::sleep(state.retention.pause).await;
    }
}
