//! The refresh as a pure decision: the provider's answer and the row go in;
//! what to store, which event to log and what to tell the user come out. No
//! I/O here, so every rule is a unit test (see the bottom of this file).

use domain::time::ROTATION_LEEWAY_SECS;
use domain::{EventKind, EventOutcome, IntegrationId, UnixTime};

use crate::oauth::TokenSet;
use crate::provider_error::ProviderError;

/// Backoff after transient failures: 30 s, 60 s, 120 s, 240 s, then 300 s, so
/// retries with the same refresh token stay inside the 10-minute leeway.
pub(crate) fn backoff_secs(failures_so_far: i64) -> i64 {
    let exp = u32::try_from(failures_so_far.clamp(0, 4)).unwrap_or(4);
    (30 * 2_i64.pow(exp)).min(300)
}

/// A refresh whose outcome is unknown is retried with the same token no later
/// than this long after that token was first sent: the last retry lands a
/// minute before Atlassian's 10-minute leeway ends, whatever the backoff says.
pub(crate) const LEEWAY_RETRY_BY_SECS: i64 = ROTATION_LEEWAY_SECS - 60;

/// When to retry after a transient failure: the backoff (or the provider's
/// `Retry-After`, if longer), but never past [`LEEWAY_RETRY_BY_SECS`] after the
/// first send while the leeway lasts. After the leeway only the backoff counts.
pub(crate) fn retry_at(
    failures_so_far: i64,
    retry_after_secs: Option<i64>,
    first_sent: UnixTime,
    now: UnixTime,
) -> UnixTime {
    let wait = backoff_secs(failures_so_far).max(retry_after_secs.unwrap_or(0));
    if now - first_sent < ROTATION_LEEWAY_SECS {
        (now + wait).min((first_sent + LEEWAY_RETRY_BY_SECS).max(now))
    } else {
        now + wait
    }
}

/// Why only the user can fix an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReauthReason {
    /// No refresh token: `offline_access` was not granted.
    NoOfflineAccess,
    /// The provider rejected the refresh token (expired, rotated away, revoked).
    RefreshTokenRejected,
}

/// What a refresh came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshResult {
    Refreshed,
    NeedsReauth(ReauthReason),
    /// The app's client credentials were rejected: fix the configuration.
    ConfigurationError,
    /// 5xx, timeout, broken connection, malformed answer: retried later.
    Transient,
    /// The provider rotated the token but storing it failed.
    StoreFailed,
    /// The integration changed while the request was in flight (re-authenticated
    /// or disconnected); the answer was not stored.
    Conflict,
    /// No such connected integration.
    NotFound,
    /// Another error answer from the provider.
    ProviderError,
}

impl RefreshResult {
    /// The result's name in metrics (`result="refreshed"`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            RefreshResult::Refreshed => "refreshed",
            RefreshResult::NeedsReauth(_) => "needs_reauth",
            RefreshResult::ConfigurationError => "configuration_error",
            RefreshResult::Transient => "transient",
            RefreshResult::StoreFailed => "store_failed",
            RefreshResult::Conflict => "conflict",
            RefreshResult::NotFound => "not_found",
            RefreshResult::ProviderError => "provider_error",
        }
    }
}

/// What the provider was asked, and what it said.
#[derive(Debug)]
pub(crate) enum Attempt<'a> {
    /// There was nothing to send: the row holds no refresh token.
    NoRefreshToken,
    /// The token endpoint's answer to the stored refresh token.
    Answered(&'a Result<TokenSet, ProviderError>),
}

/// The write a decision asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// Store the new tokens (compare-and-swap on the refresh token sent).
    Rotation,
    /// The seed's contract: inactive, one more failure, stamped now.
    Deactivation,
    /// Keep the tokens; record the failure and when to retry. The row's
    /// "sent" mark stays: only a stored rotation or a deactivation settles it,
    /// so an earlier lost answer is still retried inside the leeway.
    Failure { retry_after: UnixTime },
}

/// An event to log, before it has an integration and a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedEvent {
    pub kind: EventKind,
    pub outcome: EventOutcome,
    pub http_status: Option<u16>,
    pub error_code: Option<String>,
    /// Never a token.
    pub message: String,
}

/// What to do about one refresh attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub write: Write,
    /// Logged with the write, in its transaction.
    pub event: PlannedEvent,
    pub result: RefreshResult,
    /// What the user reads.
    pub message: String,
}

/// What the row said before the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Before {
    /// Transient failures in a row before this attempt (for the backoff).
    pub transient_failures: i64,
    /// When the refresh token now sent was first sent without a known outcome
    /// (this attempt's own send time when it is the first).
    pub first_sent: UnixTime,
}

/// Decides what a refresh attempt means.
pub(crate) fn decide(attempt: Attempt<'_>, before: Before, now: UnixTime) -> Decision {
    let answer = match attempt {
        Attempt::NoRefreshToken => {
            let message =
                "No refresh token: offline_access was not granted, so Atlassian issued none. \
                           Re-authenticate to keep this integration working.";
            return deactivation(ReauthReason::NoOfflineAccess, None, None, message.into());
        }
        Attempt::Answered(answer) => answer,
    };
    match answer {
        Ok(tokens) => {
            let message = format!(
                "Refreshed; the new access token expires in {} s",
                tokens.expires_in
            );
            Decision {
                write: Write::Rotation,
                event: PlannedEvent {
                    kind: EventKind::Refresh,
                    outcome: EventOutcome::Ok,
                    http_status: Some(200),
                    error_code: None,
                    message,
                },
                result: RefreshResult::Refreshed,
                message: "Token refreshed.".into(),
            }
        }
        Err(err @ ProviderError::RefreshTokenRejected { .. }) => deactivation(
            ReauthReason::RefreshTokenRejected,
            err.status(),
            err.code(),
            format!(
                "Atlassian rejected the refresh token ({}): it expired, was revoked, or was already used. \
                 Re-authenticate to reconnect this integration.",
                err.code().unwrap_or("invalid_grant")
            ),
        ),
        Err(err @ ProviderError::ClientRejected { .. }) => failure(
            err,
            Write::Failure {
                retry_after: now + backoff_secs(before.transient_failures),
            },
            RefreshResult::ConfigurationError,
            "Atlassian rejected the app's client credentials: check JIRA_CLIENT_ID and \
             JIRA_CLIENT_SECRET. The integration was left as it is."
                .into(),
        ),
        Err(err @ ProviderError::Transient { .. }) => {
            let at = retry_at(
                before.transient_failures,
                err.retry_after_secs(),
                before.first_sent,
                now,
            );
            let retry_in = at - now;
            failure(
                err,
                Write::Failure { retry_after: at },
                RefreshResult::Transient,
                format!(
                    "Atlassian did not complete the refresh: {err}. The tokens were kept; \
                     the refresh is retried in {retry_in} s."
                ),
            )
        }
        Err(err @ ProviderError::Rejected { .. }) => failure(
            err,
            Write::Failure {
                retry_after: now + backoff_secs(before.transient_failures),
            },
            RefreshResult::ProviderError,
            format!("Atlassian refused the refresh ({err}). The integration was left as it is."),
        ),
    }
}

/// How a decided write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Written (with its event).
    Done,
    /// The row no longer held the refresh token that was sent: nothing written.
    RowChanged,
    /// The database failed.
    Failed,
}

/// What a write that did not go through means for the user, and the event
/// that says so (logged on its own). `None` when the write went through.
pub(crate) fn after_write(
    decision: &Decision,
    id: IntegrationId,
    stored: Stored,
) -> Option<(RefreshResult, PlannedEvent)> {
    // A refresh attempt's own entry: whatever the decision was, it did not happen.
    let event = |outcome, message: String| PlannedEvent {
        kind: EventKind::Refresh,
        outcome,
        http_status: decision.event.http_status,
        error_code: decision.event.error_code.clone(),
        message,
    };
    match (stored, decision.write) {
        (Stored::Done, _) => None,
        (Stored::RowChanged, _) => Some((
            RefreshResult::Conflict,
            event(
                EventOutcome::Conflict,
                format!(
                    "Integration {id} changed while its token was being refreshed (re-authenticated \
                     or disconnected); nothing was stored."
                ),
            ),
        )),
        (Stored::Failed, Write::Rotation) => Some((
            RefreshResult::StoreFailed,
            event(
                EventOutcome::StoreFailed,
                format!(
                    "Atlassian issued new tokens for integration {id} but they could not be stored; \
                     the previous refresh token stays valid for 10 minutes, so the next refresh retries."
                ),
            ),
        )),
        // The failure or deactivation itself could not be recorded: the
        // user still learns what the provider said; the log has the cause.
        (Stored::Failed, _) => None,
    }
}

fn deactivation(
    reason: ReauthReason,
    http_status: Option<u16>,
    error_code: Option<&str>,
    message: String,
) -> Decision {
    Decision {
        write: Write::Deactivation,
        event: PlannedEvent {
            kind: EventKind::Deactivate,
            outcome: EventOutcome::NeedsReauth,
            http_status,
            error_code: error_code.map(str::to_owned),
            message: message.clone(),
        },
        result: RefreshResult::NeedsReauth(reason),
        message,
    }
}

fn failure(err: &ProviderError, write: Write, result: RefreshResult, message: String) -> Decision {
    Decision {
        write,
        event: PlannedEvent {
            kind: EventKind::Refresh,
            outcome: EventOutcome::Failed,
            http_status: err.status(),
            error_code: err.code().map(str::to_owned),
            message: message.clone(),
        },
        result,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    const NOW: UnixTime = UnixTime(1_000_000);
    const ID: IntegrationId = IntegrationId(7);
    const FIRST: Before = Before {
        transient_failures: 0,
        first_sent: NOW,
    };

    fn after(failures: i64) -> Before {
        Before {
            transient_failures: failures,
            first_sent: NOW,
        }
    }

    fn tokens() -> Result<TokenSet, ProviderError> {
        Ok(TokenSet {
            access_token: Secret::new("sbx_at_secret"),
            refresh_token: Some(Secret::new("sbx_rt_secret")),
            expires_in: 3600,
            scopes: vec![],
        })
    }

    fn rejected(code: &str) -> Result<TokenSet, ProviderError> {
        Err(ProviderError::RefreshTokenRejected {
            status: 403,
            code: code.into(),
            description: "refresh_token is invalid".into(),
        })
    }

    /// A first failure's decision: backed off 30 s, tokens kept, `result`.
    fn first_failure(answer: &Result<TokenSet, ProviderError>, result: RefreshResult) -> Decision {
        let d = decide(Attempt::Answered(answer), FIRST, NOW);
        assert_eq!(
            d.write,
            Write::Failure {
                retry_after: NOW + 30
            }
        );
        assert_eq!(d.result, result);
        d
    }

    fn transient() -> Result<TokenSet, ProviderError> {
        Err(ProviderError::Transient {
            status: Some(502),
            detail: "bad gateway".into(),
            retry_after_secs: None,
        })
    }

    #[test]
    fn backoff_doubles_and_stays_inside_the_leeway() {
        assert_eq!(
            (0..7).map(backoff_secs).collect::<Vec<_>>(),
            vec![30, 60, 120, 240, 300, 300, 300]
        );
    }

    #[test]
    fn new_tokens_are_stored_and_logged_without_the_token() {
        let answer = tokens();
        let d = decide(Attempt::Answered(&answer), after(3), NOW);
        assert_eq!(d.write, Write::Rotation);
        assert_eq!(d.result, RefreshResult::Refreshed);
        assert_eq!(
            (d.event.kind, d.event.outcome),
            (EventKind::Refresh, EventOutcome::Ok)
        );
        assert_eq!(d.event.http_status, Some(200));
        assert!(!d.event.message.contains("secret") && !d.message.contains("secret"));
    }

    #[test]
    fn no_refresh_token_deactivates_and_says_offline_access() {
        let d = decide(Attempt::NoRefreshToken, FIRST, NOW);
        assert_eq!(d.write, Write::Deactivation);
        assert_eq!(
            d.result,
            RefreshResult::NeedsReauth(ReauthReason::NoOfflineAccess)
        );
        assert_eq!(d.event.outcome, EventOutcome::NeedsReauth);
        assert!(d.message.contains("offline_access"));
    }

    #[test]
    fn a_rejected_refresh_token_deactivates_with_the_providers_code() {
        for code in ["invalid_grant", "unauthorized_client"] {
            let answer = rejected(code);
            let d = decide(Attempt::Answered(&answer), FIRST, NOW);
            assert_eq!(d.write, Write::Deactivation);
            assert_eq!(
                d.result,
                RefreshResult::NeedsReauth(ReauthReason::RefreshTokenRejected)
            );
            assert_eq!(d.event.error_code.as_deref(), Some(code));
            assert_eq!(d.event.http_status, Some(403));
            assert!(d.message.contains(code));
        }
    }

    #[test]
    fn bad_client_credentials_keep_the_integration_and_back_off() {
        let answer = Err(ProviderError::ClientRejected {
            status: 401,
            code: "access_denied".into(),
        });
        // Backed off like any failure: a wrong secret must not hammer the provider.
        let d = first_failure(&answer, RefreshResult::ConfigurationError);
        assert!(d.message.contains("JIRA_CLIENT_SECRET"));
    }

    #[test]
    fn transient_failures_keep_the_tokens_and_back_off() {
        let answer = transient();
        for (failures, wait) in [(0, 30), (1, 60), (4, 300), (9, 300)] {
            let d = decide(Attempt::Answered(&answer), after(failures), NOW);
            assert_eq!(
                d.write,
                Write::Failure {
                    retry_after: NOW + wait
                }
            );
            assert_eq!(d.result, RefreshResult::Transient);
            assert!(d.message.contains(&format!("retried in {wait} s")));
        }
    }

    #[test]
    fn every_retry_of_a_lost_answer_lands_inside_the_leeway() {
        // The schedule a row sees after a first send at NOW that keeps failing.
        let mut at = NOW;
        let mut times = Vec::new();
        for failures in 0..5 {
            at = retry_at(failures, None, NOW, at);
            times.push(at - NOW);
        }
        assert_eq!(times, [30, 90, 210, 450, LEEWAY_RETRY_BY_SECS]);
        // In the leeway's last minute: again at the next tick.
        assert_eq!(retry_at(5, None, NOW, NOW + 570), NOW + 570);
        // After the leeway, plain backoff.
        assert_eq!(retry_at(5, None, NOW, NOW + 600), NOW + 900);
    }

    #[test]
    fn retry_after_lengthens_the_wait_but_not_past_the_leeway() {
        assert_eq!(retry_at(0, Some(120), NOW, NOW), NOW + 120);
        assert_eq!(
            retry_at(0, Some(3_600), NOW, NOW),
            NOW + LEEWAY_RETRY_BY_SECS
        );
        // A row first sent long ago: Retry-After rules.
        assert_eq!(retry_at(0, Some(900), NOW - 10_000, NOW), NOW + 900);
    }

    #[test]
    fn other_provider_errors_change_nothing_but_the_log() {
        let answer = Err(ProviderError::Rejected {
            status: 400,
            code: "invalid_request".into(),
            description: "x".into(),
        });
        first_failure(&answer, RefreshResult::ProviderError);
    }

    #[test]
    fn a_write_that_found_the_row_changed_is_a_conflict() {
        let answer = tokens();
        let d = decide(Attempt::Answered(&answer), FIRST, NOW);
        assert_eq!(after_write(&d, ID, Stored::Done), None);
        let (result, event) = after_write(&d, ID, Stored::RowChanged).expect("conflict");
        assert_eq!(result, RefreshResult::Conflict);
        assert_eq!(event.outcome, EventOutcome::Conflict);
        let deactivation = decide(Attempt::NoRefreshToken, FIRST, NOW);
        let (result, _) = after_write(&deactivation, ID, Stored::RowChanged).expect("conflict");
        assert_eq!(result, RefreshResult::Conflict);
    }

    #[test]
    fn a_rotation_that_could_not_be_stored_says_the_leeway_saves_it() {
        let answer = tokens();
        let d = decide(Attempt::Answered(&answer), FIRST, NOW);
        let (result, event) = after_write(&d, ID, Stored::Failed).expect("store failed");
        assert_eq!(result, RefreshResult::StoreFailed);
        assert_eq!(event.outcome, EventOutcome::StoreFailed);
        assert!(event.message.contains("10 minutes") && event.message.contains("integration 7"));
        let failure = decide(Attempt::Answered(&transient()), FIRST, NOW);
        assert_eq!(after_write(&failure, ID, Stored::Failed), None);
    }
}
