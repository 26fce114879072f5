//! The background scheduler: each tick refreshes every active integration with
//! a refresh token that is within the margin of expiry (not on demand:
//! [`RefreshPolicy::OnDemand`]) or whose refresh token has idled 30 days (so
//! Atlassian's 90-day inactivity expiry never strikes),
//! flags expired integrations that have no way to refresh, and warns of
//! consents that end within 30, 7 or 1 days (webhooks). Refreshes run as
//! many at once as the provider's pace allows ([`crate::provider_pace`]), a
//! full batch is followed at once by the next, and each refresh runs
//! with bounded concurrency, each with its own timeout, so one slow site never
//! stalls the others. Each batch is claimed in the database for this process
//! (`scheduled_by`, for [`crate::db::SCHEDULER_CLAIM_SECS`], renewed while
//! the tick runs), so several
//! processes sharing a database refresh each due integration once, and a
//! backlog spreads over all of them.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use domain::{EventKind, EventOutcome, IntegrationId, RefreshPolicy, UnixTime, WebhookEvent};

use crate::db::{
    Announce, AnnounceIf, DueBatch, NewEvent, SCHEDULER_CLAIM_RENEW_SECS, SCHEDULER_CLAIM_SECS,
};
use crate::refresh::RefreshOutcome;
use crate::Engine;
use domain::Notice;

pub use domain::time::IDLE_REFRESH_SECS;
/// Integrations handled per tick at least (the rest wait for the next
/// tick); more while the provider's pace allows more in flight.
pub const BATCH: i64 = 500;

/// How long a tick goes on starting refreshes. A batch sized for a quick
/// provider drains slowly if the provider slows down mid-tick (timeouts
/// halve the pace down to one at a time), and what is unresolved waits for
/// the tick's end to be retried, with Atlassian's 10-minute leeway running:
/// after this long the tick stops starting refreshes, waits for those in
/// flight (each has its own timeout) and reports itself full, so the next
/// tick starts at once, unresolved refreshes first.
pub(crate) const TICK_BUDGET: Duration = Duration::from_secs(60);

/// A tick's batch: [`BATCH`], or four times the pace if that is more, so the
/// batch's tail (the wait for its slowest answers before the next batch is
/// read) stays a small part of it.
fn batch_size(engine: &Engine) -> i64 {
    BATCH.max(
        i64::try_from(engine.refreshing().pace().limit())
            .unwrap_or(BATCH)
            .saturating_mul(4),
    )
}

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub refreshed: Vec<RefreshOutcome>,
    pub flagged: Vec<IntegrationId>,
    /// Integrations whose consent's end was announced (30, 7 or 1 days ahead).
    pub consent_warned: Vec<IntegrationId>,
    /// How many were due (up to the batch).
    pub due: usize,
    /// The batch was full: more are waiting.
    pub full: bool,
}

/// Runs one tick at the engine's current time, within [`TICK_BUDGET`].
pub async fn tick(engine: &Engine) -> TickReport {
    tick_within(engine, TICK_BUDGET).await
}

/// Runs one tick that starts refreshes for `budget` at most (what is left
/// waits for the next tick, which the report's `full` starts at once).
#[tracing::instrument(skip(engine))]
pub async fn tick_within(engine: &Engine, budget: Duration) -> TickReport {
    let now = engine.clock().now();
    let mut report = TickReport {
        flagged: flag_the_unrefreshable(engine, now).await,
        consent_warned: engine.warn_expiring_consents(now).await,
        ..TickReport::default()
    };
    let batch = batch_size(engine);
    // The clock read again: flagging and warning may have taken a while, and
    // a claim must last its full length from when it is made.
    let Some((due, unresolved)) = due(engine, engine.clock().now(), batch).await else {
        return report;
    };
    report.due = due.len();
    report.full = i64::try_from(due.len()).unwrap_or(i64::MAX) >= batch;
    // As many in flight as the provider's pace allows (it adapts to the
    // answers as they come), a new one started as soon as one ends.
    let claimed = due.clone();
    // The claims live SCHEDULER_CLAIM_SECS unless renewed: renewed while
    // this tick runs, they end soon after a process that died mid-tick.
    let _renewing = crate::refresh::AbortOnDrop(tokio::spawn({
        let engine = engine.clone();
        let claimed = claimed.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(SCHEDULER_CLAIM_RENEW_SECS)).await;
                let until = engine.clock().now() + SCHEDULER_CLAIM_SECS;
                if let Err(e) = engine
                    .db()
                    .renew_claims(engine.refreshing().owner(), &claimed, until)
                    .await
                {
                    tracing::warn!(error = %e, "could not renew the tick's claims");
                }
            }
        }
    }));
    let ticking = Instant::now();
    let mut cut_short = false;
    let mut queue = due.into_iter();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < engine.refreshing().pace().limit() {
            if ticking.elapsed() >= budget && !queue.as_slice().is_empty() {
                if !cut_short {
                    tracing::warn!(
                        left = queue.len(),
                        "the tick ran out of time: the rest waits for the next tick"
                    );
                }
                cut_short = true;
                report.full = true;
                queue = Vec::new().into_iter();
                break;
            }
            let Some(id) = queue.next() else { break };
            let engine = engine.clone();
            let exempt = unresolved.contains(&id);
            tasks.spawn(async move {
                // A 429 from the token endpoint slows the whole fleet down: what
                // has not started yet waits for the next tick after the pause.
                if !exempt && engine.refreshing().slowed_down(engine.now()) {
                    return None;
                }
                Some(engine.refresh(id, &domain::Actor::Scheduler).await)
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        match done {
            Ok(None) => {}
            Ok(Some(outcome)) => {
                tracing::info!(
                    integration = %outcome.integration_id,
                    ok = outcome.ok(),
                    "scheduled refresh"
                );
                report.refreshed.push(outcome);
            }
            Err(e) => tracing::error!(error = %e, "a scheduled refresh stopped unexpectedly"),
        }
    }
    // What is still due (failed, or not started) goes to whichever
    // scheduler looks next, this one or another.
    if let Err(e) = engine
        .db()
        .release_claims(engine.refreshing().owner(), &claimed)
        .await
    {
        tracing::warn!(error = %e, "could not give back the tick's claims; they end by themselves");
    }
    report.refreshed.sort_by_key(|o| o.integration_id);
    report
}

/// Flags active integrations whose access token expired with no refresh token
/// to revive it: only a person can. Answers the ids flagged now.
async fn flag_the_unrefreshable(engine: &Engine, now: UnixTime) -> Vec<IntegrationId> {
    let mut flagged = Vec::new();
    match engine.db().expired_without_refresh(now).await {
        Ok(listed) => {
            for (id, fence) in listed {
                if flag_if_still_unrefreshable(engine, id, fence, now).await {
                    flagged.push(id);
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "could not list expired integrations"),
    }
    flagged
}

/// Flags one integration listed as expired without a refresh token (with
/// the lease's fencing counter read then), unless it changed since: one
/// re-authenticated meanwhile keeps working and no false
/// `integration.needs_reauth` goes out. Answers whether it was flagged.
pub async fn flag_if_still_unrefreshable(
    engine: &Engine,
    id: IntegrationId,
    fence: i64,
    now: UnixTime,
) -> bool {
    let event = NewEvent {
        integration_id: Some(id),
        kind: EventKind::Expired,
        outcome: EventOutcome::NeedsReauth,
        http_status: None,
        error_code: None,
        message: "The access token expired and there is no refresh token (offline_access was not \
                  granted): re-authenticate to reconnect.",
        actor: Some("scheduler"),
    };
    let announce = Announce {
        notice: Notice::new(
            WebhookEvent::NeedsReauth,
            Some("no_offline_access"),
            event.message,
        ),
        rule: engine.settings().status_rule(),
        when: AnnounceIf::Always,
    };
    match engine
        .db()
        .flag_needs_reauth(id, fence, &event, &announce, now)
        .await
    {
        Ok(true) => {
            engine.wake_webhooks();
            engine.publish(id).await;
            true
        }
        Ok(false) => false,
        Err(e) => {
            tracing::error!(integration = %id, error = %e, "could not flag the integration");
            false
        }
    }
}

/// What this tick refreshes, and (while the provider asks everyone to wait)
/// which of those are exempt from the pause. `None` when the list could not be read.
async fn due(
    engine: &Engine,
    now: UnixTime,
    batch: i64,
) -> Option<(Vec<IntegrationId>, HashSet<IntegrationId>)> {
    // While the provider asks everyone to wait, only refreshes whose outcome
    // is unknown go ahead: their token dies with the leeway, not with the pause.
    // Another process may have been asked (the feed's follower also looks,
    // mid-tick: the batch's unresolved refreshes stay exempt then too).
    if let Err(e) = engine.learn_fleet_pause().await {
        tracing::warn!(error = %e, "could not read the provider's pause");
    }
    let paused = engine.refreshing().slowed_down(now);
    let due = if paused {
        tracing::info!("the provider asked to slow down: only unresolved refreshes run");
        engine
            .db()
            .claim_unresolved(engine.refreshing().owner(), now, batch)
            .await
            .map(|ids| DueBatch {
                unresolved: ids.iter().copied().collect(),
                ids,
            })
    } else {
        // On demand, access tokens are refreshed when something needs one:
        // the scheduler only keeps refresh tokens alive.
        let settings = engine.settings();
        let expiring_before = match settings.refresh_policy {
            RefreshPolicy::Scheduled => now + settings.refresh_margin_secs,
            RefreshPolicy::OnDemand => UnixTime(i64::MIN),
        };
        engine
            .db()
            .claim_due_for_refresh(
                engine.refreshing().owner(),
                expiring_before,
                now - IDLE_REFRESH_SECS,
                now,
                batch,
            )
            .await
    };
    match due {
        Ok(batch) => Some((batch.ids, batch.unresolved)),
        Err(e) => {
            tracing::error!(error = %e, "could not list integrations due for refresh");
            None
        }
    }
}

/// Runs [`tick`] every `interval` until the process ends.
pub fn spawn(engine: Engine, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(interval);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            // A full batch means a backlog: the next batch starts at once,
            // so the pace, not the interval, bounds the throughput.
            while tick(&engine).await.full {
                if engine.refreshing().slowed_down(engine.now()) {
                    break;
                }
            }
        }
    })
}
