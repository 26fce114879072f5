//! The refresh engine: one function ([`Engine::refresh`]) serves the button,
//! the API and the scheduler. At most one token request per integration is in
//! flight (concurrent callers share its outcome), the row is updated only if it
//! still holds the refresh token that was sent, and every failure is classified:
//! a dead refresh token deactivates (the seed's contract); a configuration or
//! transient error leaves the integration alone.
//!
//! - [`decision`]: the pure part (answer + row -> what to store, log and say).
//! - this file: the I/O shell around it (claim, ask, write) and single-flight:
//!   in this process through [`Flights`], across processes through the row's
//!   lease in the database (owner, expiry, fencing counter; see the
//!   `refresh_lease` migration). The lease is claimed in the same durable
//!   write that marks the refresh token as sent, so a refresh whose answer is
//!   lost, or whose process dies, is found and retried inside the leeway.

mod decision;
pub(crate) mod refreshing;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::{Actor, EventKind, EventOutcome, IntegrationId, WebhookEvent};
use tokio::sync::watch;
use tracing::Instrument as _;

pub(crate) use decision::backoff_secs;
use decision::ReauthReason;
pub use decision::RefreshResult;
use decision::{after_write, decide, Attempt, Before, Decision, PlannedEvent, Stored, Write};

use crate::db::{Announce, AnnounceIf, Claim, Fenced, Lease, NewEvent, RefreshRow, Rotation};
use crate::oauth::TokenSet;
use crate::provider_pace::Signal;
use crate::vault::Column;
use crate::webhooks::FAILING_NOTICE_AFTER_SECS;
use crate::{Engine, Integration};
use domain::Notice;

/// The outcome every caller of one refresh shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshOutcome {
    pub integration_id: IntegrationId,
    pub result: RefreshResult,
    /// A sentence for the user; never a token.
    pub message: String,
}

impl RefreshOutcome {
    pub fn ok(&self) -> bool {
        self.result == RefreshResult::Refreshed
    }

    pub fn requires_reauth(&self) -> bool {
        matches!(self.result, RefreshResult::NeedsReauth(_))
    }
}

/// A refresh's outcome and the integration as it stands afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    pub outcome: RefreshOutcome,
    pub integration: Integration,
}

/// How long a claimed refresh lease lasts without renewal (engine clock): a
/// process that dies holding one delays that integration's refresh by at
/// most this long; callers waiting for it then take over.
pub const LEASE_SECS: i64 = 15;
/// How often the holder renews its lease while the token request runs: two
/// renewals may fail (a slow database) before the lease runs out.
const LEASE_RENEW_EVERY: Duration = Duration::from_secs(5);
/// The part of a lease a holder never spends: a token is not sent, and a
/// token request not kept waiting, with less than this left (the engine
/// clock counts whole seconds, and processes' clocks differ a little).
const LEASE_MARGIN: Duration = Duration::from_secs(3);
/// How often a caller waiting for another process's lease looks again.
const LEASE_POLL_EVERY: Duration = Duration::from_millis(250);

/// Until when (this process's monotonic clock) a lease renewed at `asked`
/// with expiry `until` (engine clock, read again as `now` after the renewal)
/// may be spent: the earlier of the two clocks' views, less
/// [`LEASE_MARGIN`]. `None` when nothing of it is left.
fn lease_deadline(
    asked: Instant,
    until: domain::UnixTime,
    now: domain::UnixTime,
) -> Option<Instant> {
    let by_engine_clock = Duration::from_secs((until - now).max(0).unsigned_abs());
    let by_own_clock =
        Duration::from_secs(LEASE_SECS.unsigned_abs()).saturating_sub(asked.elapsed());
    by_engine_clock
        .min(by_own_clock)
        .checked_sub(LEASE_MARGIN)
        .filter(|left| !left.is_zero())
        .map(|left| Instant::now() + left)
}

/// Resolves once the lease's deadline (as renewals move it) has passed.
async fn lease_runs_out(held: &mut watch::Receiver<Option<Instant>>) {
    loop {
        let deadline = *held.borrow_and_update();
        let Some(deadline) = deadline else { return };
        tokio::select! {
            () = tokio::time::sleep_until(deadline.into()) => {
                if *held.borrow() == Some(deadline) {
                    return;
                }
            }
            changed = held.changed() => {
                if changed.is_err() {
                    // The renewer stopped (the lease was lost): what is held
                    // now is all there is.
                    let last = *held.borrow();
                    if let Some(deadline) = last {
                        tokio::time::sleep_until(deadline.into()).await;
                    }
                    return;
                }
            }
        }
    }
}

/// Aborts the task when dropped: the lease renewer never outlives its request,
/// not even one that panicked.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The refreshes in flight in this process, one per integration. Each runs on
/// a task of its own and publishes its outcome on a watch channel, so a caller
/// that goes away (a closed browser tab) abandons nothing, and the next caller
/// joins the same request instead of sending the token a second time.
#[derive(Default)]
pub(crate) struct Flights(Mutex<HashMap<IntegrationId, watch::Receiver<Option<RefreshOutcome>>>>);

impl Engine {
    /// Refreshes integration `id`, or joins the refresh already in flight (in
    /// this process, or through the database lease, in another).
    #[tracing::instrument(skip(self), fields(integration = %id))]
    pub async fn refresh(&self, id: IntegrationId, actor: &Actor) -> RefreshOutcome {
        self.refresh_with(id, actor, None).await
    }

    /// [`Engine::refresh`] for a caller that saw access token `seen` and
    /// wants it replaced: a flight that starts after that token was already
    /// replaced (by a flight that finished between the caller's read and its
    /// call) sends nothing and answers `Refreshed`. Two callers racing past a
    /// finished flight thus never rotate twice.
    pub(crate) async fn refresh_replacing(
        &self,
        id: IntegrationId,
        actor: &Actor,
        seen: &crate::Secret,
    ) -> RefreshOutcome {
        self.refresh_with(id, actor, Some(seen.clone())).await
    }

    async fn refresh_with(
        &self,
        id: IntegrationId,
        actor: &Actor,
        seen: Option<crate::Secret>,
    ) -> RefreshOutcome {
        let mut receiver = {
            let mut flights = self
                .refreshing()
                .flights()
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match flights.get(&id) {
                Some(receiver) => receiver.clone(),
                None => {
                    let (sender, receiver) = watch::channel(None);
                    flights.insert(id, receiver.clone());
                    let engine = self.clone();
                    // The events name whoever started the flight; joiners share it.
                    let actor = actor.stored();
                    let task = async move {
                        let replaced = match &seen {
                            Some(seen) => engine.access_token_replaced(id, seen).await,
                            None => false,
                        };
                        let started = Instant::now();
                        let outcome = if replaced {
                            RefreshOutcome {
                                integration_id: id,
                                result: RefreshResult::Refreshed,
                                message: "The token had been refreshed meanwhile.".to_owned(),
                            }
                        } else {
                            engine.refresh_once(id, &actor).await
                        };
                        // Published before anyone hears the outcome: an open
                        // page learns of it no later than the caller.
                        if outcome.result != RefreshResult::NotFound && !replaced {
                            engine.publish(id).await;
                        }
                        if !replaced {
                            metrics::counter!(
                                "jira_dashboard_refreshes_total",
                                "result" => outcome.result.name()
                            )
                            .increment(1);
                            metrics::histogram!("jira_dashboard_refresh_duration_seconds")
                                .record(started.elapsed().as_secs_f64());
                        }
                        engine
                            .refreshing()
                            .flights()
                            .0
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&id);
                        // Nobody may be listening any more: that is fine.
                        let _ = sender.send(Some(outcome));
                    };
                    tokio::spawn(task.in_current_span());
                    receiver
                }
            }
        };
        let outcome = receiver.wait_for(Option::is_some).await.map(|o| o.clone());
        match outcome {
            Ok(Some(outcome)) => outcome,
            // The task ended without an outcome (it panicked): say so; the
            // "sent" mark and the lease's expiry make the scheduler retry.
            _ => {
                self.refreshing()
                    .flights()
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                RefreshOutcome {
                    integration_id: id,
                    result: RefreshResult::StoreFailed,
                    message: format!(
                        "The refresh of integration {id} stopped unexpectedly; it is retried."
                    ),
                }
            }
        }
    }

    /// Waits until no refresh of this process is in flight, or `limit` has
    /// passed: at shutdown, a token request already sent gets its answer
    /// stored instead of being cut off. Answers whether all finished.
    pub async fn finish_refreshes(&self, limit: Duration) -> bool {
        let started = Instant::now();
        loop {
            let in_flight = self
                .refreshing()
                .flights()
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len();
            if in_flight == 0 {
                return true;
            }
            if started.elapsed() >= limit {
                tracing::warn!(in_flight, "stopping with refreshes in flight: the scheduler retries them inside the leeway");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// [`Engine::refresh`], then the integration as it stands: the button's and
    /// the API's use case. `NotFound` for an unknown or disconnected id.
    pub async fn refresh_integration(
        &self,
        id: IntegrationId,
        actor: &Actor,
    ) -> Result<Refreshed, crate::EngineError> {
        let outcome = self.refresh(id, actor).await;
        if outcome.result == RefreshResult::NotFound {
            return Err(crate::EngineError::NotFound(id));
        }
        let integration = self.integration(id).await?;
        Ok(Refreshed {
            outcome,
            integration,
        })
    }

    /// One attempt: take the lease, ask the provider, decide, write.
    async fn refresh_once(&self, id: IntegrationId, actor: &str) -> RefreshOutcome {
        let outcome = |result, message: String| RefreshOutcome {
            integration_id: id,
            result,
            message,
        };
        let row = match self.claim(id).await {
            Ok(row) => row,
            Err(done) => return done,
        };
        let claimed_at = Instant::now();
        let fence = row.lease_fence;
        let sent = row.refresh_token.as_deref();
        let now = self.clock().now();
        let answer = match sent {
            None => None,
            Some(blob) => match self.vault().decrypt(id, Column::RefreshToken, blob) {
                Ok(token) => match self.ask_holding_lease(id, fence, claimed_at, &token).await {
                    Some(answer) => Some(answer),
                    None => {
                        return outcome(
                            RefreshResult::Transient,
                            format!("The refresh of integration {id} lost its lease before the token was sent; it is retried."),
                        )
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "could not decrypt the refresh token");
                    let message = format!(
                        "The refresh token of integration {id} could not be decrypted (was TOKEN_ENCRYPTION_KEY changed?)."
                    );
                    let event = PlannedEvent {
                        kind: EventKind::Refresh,
                        outcome: EventOutcome::Failed,
                        http_status: None,
                        error_code: None,
                        message: message.clone(),
                    };
                    let retry = now + backoff_secs(row.transient_failures);
                    let failing = self.failing_announcement(id, &message);
                    if let Err(e) = self
                        .db()
                        .record_refresh_failure(row.fenced(), retry, &new_event(id, &event, actor), Some(&failing), now)
                        .await
                    {
                        tracing::error!(error = %e, "could not record the failure");
                        self.release(id, fence, false).await;
                    }
                    return outcome(RefreshResult::StoreFailed, message);
                }
            },
        };
        let now = self.clock().now();
        let attempt = match &answer {
            None => Attempt::NoRefreshToken,
            Some(answer) => Attempt::Answered(answer),
        };
        if let Some(Err(e)) = &answer {
            if e.is_rate_limited() {
                self.rate_limited(now, e.retry_after_secs().unwrap_or(60))
                    .await;
            } else if matches!(e, crate::ProviderError::ClientRejected { .. }) {
                // The app's credentials are wrong for every integration alike.
                // Not shared with other processes: one may hold the right
                // ones (a new secret being rolled out).
                self.refreshing()
                    .slow_down(now, backoff_secs(row.transient_failures));
            }
        }
        let before = Before {
            transient_failures: row.transient_failures,
            first_sent: row.refresh_sent_at.unwrap_or(now),
        };
        let decision = decide(attempt, before, now);
        let tokens = answer.as_ref().and_then(|a| a.as_ref().ok());
        let stored = self
            .write(row.fenced(), &decision, tokens, actor, row.troubled)
            .await;
        if stored != Stored::Done {
            // Nothing was written, so the lease is still ours: give it back.
            self.release(id, fence, false).await;
        }
        match after_write(&decision, id, stored) {
            None => outcome(decision.result, decision.message),
            Some((result, event)) => {
                self.record_event(&new_event(id, &event, actor)).await;
                outcome(result, event.message)
            }
        }
    }

    /// Takes the row's lease. When another process holds it, waits (reading,
    /// not writing) until it is free: if the holder rotated meanwhile, its
    /// refresh is the one this caller asked for; if it failed and asked for a
    /// pause, this caller does not send the token again before then.
    async fn claim(&self, id: IntegrationId) -> Result<RefreshRow, RefreshOutcome> {
        let outcome = |result, message: String| RefreshOutcome {
            integration_id: id,
            result,
            message,
        };
        let unreadable = |e: crate::DatabaseError| {
            tracing::error!(error = %e, "could not read the integration");
            outcome(
                RefreshResult::StoreFailed,
                format!("Integration {id} could not be read from the database; the server logged the cause."),
            )
        };
        let by_another = || {
            outcome(
                RefreshResult::Refreshed,
                "Token refreshed (by another server process).".into(),
            )
        };
        let waiting_since = Instant::now();
        let mut seen: Option<Option<Vec<u8>>> = None;
        loop {
            let now = self.clock().now();
            let held = match self
                .db()
                .claim_refresh(id, self.refreshing().owner(), now + LEASE_SECS, now)
                .await
            {
                Ok(Claim::Claimed(row)) => {
                    if seen.as_ref().is_some_and(|t| *t != row.refresh_token) {
                        // The claim marked the new token as sent: nothing was.
                        let marked_now = row.refresh_sent_at == Some(now);
                        self.release(id, row.lease_fence, marked_now).await;
                        return Err(by_another());
                    }
                    return Ok(row);
                }
                Ok(Claim::Held { refresh_token }) => refresh_token,
                Ok(Claim::Missing) => {
                    return Err(outcome(
                        RefreshResult::NotFound,
                        format!("Integration {id} does not exist or was disconnected."),
                    ))
                }
                Err(e) => return Err(unreadable(e)),
            };
            let first = seen.get_or_insert(held).clone();
            loop {
                if waiting_since.elapsed() > self.atlassian().settings().timeout + LEASE_RENEW_EVERY
                {
                    return Err(outcome(
                        RefreshResult::Transient,
                        format!("Another server process is refreshing integration {id}; try again in a moment."),
                    ));
                }
                tokio::time::sleep(LEASE_POLL_EVERY).await;
                let now = self.clock().now();
                match self.db().lease_state(id, now).await {
                    Ok(Some(state)) if state.refresh_token != first => return Err(by_another()),
                    Ok(Some(state)) if state.held => {}
                    Ok(Some(state)) => {
                        if let Some(at) = state.retry_after.filter(|at| *at > now) {
                            return Err(outcome(
                                RefreshResult::Transient,
                                format!("The last refresh of integration {id} failed; it is retried in {} s.", at - now),
                            ));
                        }
                        break;
                    }
                    Ok(None) => {
                        return Err(outcome(
                            RefreshResult::NotFound,
                            format!("Integration {id} does not exist or was disconnected."),
                        ))
                    }
                    Err(e) => return Err(unreadable(e)),
                }
            }
        }
    }

    /// The token request, with the lease renewed while it runs. `None` when
    /// the lease was lost, or ran out, before the token could be sent (a
    /// stalled process must not send a token another process may already
    /// have rotated). The request runs only while the lease is held: it is
    /// cut (an unknown outcome, retried with the same token) once the lease
    /// runs out unrenewed.
    async fn ask_holding_lease(
        &self,
        id: IntegrationId,
        fence: i64,
        claimed_at: Instant,
        token: &crate::Secret,
    ) -> Option<Result<TokenSet, crate::ProviderError>> {
        let lease = Lease {
            owner: self.refreshing().owner(),
            fence,
        };
        let fresh = claimed_at.elapsed() < Duration::from_secs(LEASE_SECS.unsigned_abs() / 2);
        let asked_to_renew = Instant::now();
        let until = self.clock().now() + LEASE_SECS;
        if !fresh || !matches!(self.db().renew_lease(id, lease, until).await, Ok(true)) {
            tracing::warn!("the refresh lease was lost before the token was sent; nothing sent");
            return None;
        }
        // Held until `until` by the engine's clock, and for at most
        // LEASE_SECS from before the renewal by this process's own.
        let (held_until, mut held) =
            watch::channel(lease_deadline(asked_to_renew, until, self.clock().now()));
        let _renewing = AbortOnDrop({
            let engine = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LEASE_RENEW_EVERY).await;
                    let lease = Lease {
                        owner: engine.refreshing().owner(),
                        fence,
                    };
                    let asked = Instant::now();
                    let until = engine.clock().now() + LEASE_SECS;
                    match engine.db().renew_lease(id, lease, until).await {
                        Ok(true) => {
                            let _ =
                                held_until.send(lease_deadline(asked, until, engine.clock().now()));
                        }
                        Ok(false) => {
                            // Lost (taken over after it ran out): the request
                            // is cut at once.
                            let _ = held_until.send(None);
                            break;
                        }
                        Err(e) => tracing::warn!(error = %e, "could not renew the refresh lease"),
                    }
                }
            })
        });
        // Immediately before sending: a process paused since the renewal
        // (a stop, a swap storm, a long GC of the host) finds its lease spent.
        // By both clocks: this process's monotonic one stops while a virtual
        // machine is suspended; the engine's is the one other processes read.
        let margin = i64::try_from(LEASE_MARGIN.as_secs()).unwrap_or(i64::MAX);
        let still_held = held
            .borrow()
            .is_some_and(|deadline| deadline > Instant::now())
            && self.clock().now() + margin < until;
        if !still_held {
            tracing::warn!("the refresh lease ran out before the token was sent; nothing sent");
            return None;
        }
        let asked = Instant::now();
        let answer = tokio::select! {
            answer = self.atlassian().refresh(token) => answer,
            () = lease_runs_out(&mut held) => {
                // Not the provider's slowness (the database could not renew
                // the lease): the pace learns nothing from it.
                tracing::warn!("the refresh lease ran out during the token request; its outcome is unknown and it is retried with the same token");
                return Some(Err(crate::ProviderError::transient(
                    "the refresh lease ran out before the answer came",
                )));
            }
        };
        // The pace learns from the provider's own answer time: the claims and
        // writes around it are the database's latency, not the provider's.
        let signal = match &answer {
            Err(crate::ProviderError::Transient { .. }) => Signal::Overloaded,
            _ => Signal::Answered,
        };
        self.refreshing().pace().record(signal, asked.elapsed());
        Some(answer)
    }

    /// Gives the lease back after an attempt that stores no outcome.
    async fn release(&self, id: IntegrationId, fence: i64, unmark: bool) {
        let lease = Lease {
            owner: self.refreshing().owner(),
            fence,
        };
        if let Err(e) = self.db().release_lease(id, lease, unmark).await {
            tracing::warn!(error = %e, "could not release the refresh lease (it expires on its own)");
        }
    }

    /// Carries out the decision's write (with its event and its webhook
    /// announcement, in one transaction), fenced by the lease it was claimed with.
    async fn write(
        &self,
        at: Fenced<'_>,
        decision: &Decision,
        tokens: Option<&TokenSet>,
        actor: &str,
        troubled: bool,
    ) -> Stored {
        let id = at.id;
        let event = new_event(id, &decision.event, actor);
        let now = self.clock().now();
        let rule = self.settings().status_rule();
        let written = match (decision.write, tokens) {
            (Write::Rotation, Some(tokens)) => match self.seal(id, tokens) {
                Ok(rotation) => {
                    let recovered = troubled.then(|| Announce {
                        notice: Notice::new(
                            WebhookEvent::Recovered,
                            Some("refreshed"),
                            format!("Integration {id} works again: its token was refreshed after failures."),
                        ),
                        rule,
                        when: AnnounceIf::Always,
                    });
                    self.db()
                        .store_rotation(at, &rotation, &event, recovered.as_ref(), now)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            },
            (Write::Rotation, None) => Err("a rotation without tokens".to_owned()),
            (Write::Deactivation, _) => {
                let reason = match decision.result {
                    RefreshResult::NeedsReauth(ReauthReason::NoOfflineAccess) => {
                        "no_offline_access"
                    }
                    _ => "refresh_token_rejected",
                };
                let announce = Announce {
                    notice: Notice::new(
                        WebhookEvent::NeedsReauth,
                        Some(reason),
                        decision.message.clone(),
                    ),
                    rule,
                    when: AnnounceIf::WasActive,
                };
                self.db()
                    .deactivate(at, &event, &announce, now)
                    .await
                    .map_err(|e| e.to_string())
            }
            (Write::Failure { retry_after }, _) => {
                let failing = self.failing_announcement(id, &decision.message);
                self.db()
                    .record_refresh_failure(at, retry_after, &event, Some(&failing), now)
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        match written {
            Ok(true) => {
                self.wake_webhooks();
                Stored::Done
            }
            Ok(false) => Stored::RowChanged,
            Err(e) => {
                tracing::error!(write = ?decision.write, error = %e, "could not store the refresh's outcome");
                Stored::Failed
            }
        }
    }

    /// `integration.refresh_failing`, sent once a failure streak is 10 minutes old.
    fn failing_announcement(&self, id: IntegrationId, last: &str) -> Announce {
        Announce {
            notice: Notice::new(
                WebhookEvent::RefreshFailing,
                Some("refresh_failing"),
                format!(
                    "Refreshes of integration {id} have failed for {} minutes; the last said: {last}",
                    FAILING_NOTICE_AFTER_SECS / 60
                ),
            ),
            rule: self.settings().status_rule(),
            when: AnnounceIf::FailingFor(FAILING_NOTICE_AFTER_SECS),
        }
    }

    /// The new tokens, encrypted for row `id`.
    fn seal(
        &self,
        id: IntegrationId,
        tokens: &TokenSet,
    ) -> Result<Rotation, crate::vault::VaultError> {
        Ok(Rotation {
            access_token: self
                .vault()
                .encrypt(id, Column::AccessToken, &tokens.access_token)?,
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| self.vault().encrypt(id, Column::RefreshToken, t))
                .transpose()?,
            expires_in: tokens.expires_in,
        })
    }
}

/// A planned event, for row `id`.
pub(crate) fn new_event<'a>(
    id: IntegrationId,
    event: &'a PlannedEvent,
    actor: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        integration_id: Some(id),
        kind: event.kind,
        outcome: event.outcome,
        http_status: event.http_status,
        error_code: event.error_code.as_deref(),
        message: &event.message,
        actor: Some(actor),
    }
}

impl Engine {
    /// Whether the stored access token of `id` is no longer `seen`.
    async fn access_token_replaced(&self, id: IntegrationId, seen: &crate::Secret) -> bool {
        let Ok(Some((Some(blob), _))) = self.db().encrypted_tokens(id).await else {
            return false;
        };
        self.vault()
            .decrypt(id, Column::AccessToken, &blob)
            .is_ok_and(|stored| &stored != seen)
    }
}
