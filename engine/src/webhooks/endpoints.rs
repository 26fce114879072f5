//! The settings page's webhook use cases: endpoints (add with a secret shown
//! once, enable, disable, delete), "Send test event", "Redeliver", the
//! private-address setting, and the endpoint from `WEBHOOK_URL` /
//! `WEBHOOK_SECRET`, kept in step with the environment at every start.
//! Each change is logged in the account log, naming who made it, in the
//! change's own transaction ([`super::audit`] words the entries).

use domain::{Actor, UnixTime, WebhookEvent};
use url::Url;

use super::address_rules::{self, AddressError};
use super::audit::{action, LogEntry, ENVIRONMENT};
use super::signing;
use crate::db::NewEndpointRow;
use crate::db::{filter_admits, AttemptRow, DeliveryRow, EndpointRow};
use crate::{Engine, Secret};
use domain::webhook_message::DELIVERY_WINDOW_SECS;
use domain::Notice;

/// The longest endpoint URL accepted.
pub(crate) const MAX_URL_LEN: usize = 2_000;
/// Deliveries shown per endpoint, and attempts per delivery (the newest).
pub(crate) const DELIVERIES_SHOWN: i64 = 20;
pub(crate) const ATTEMPTS_SHOWN: usize = 10;

/// Why a webhook use case could not be carried out: a sentence for the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("The endpoint URL {0}.")]
    BadUrl(&'static str),
    #[error("The endpoint URL is refused: {0}.")]
    Address(#[from] AddressError),
    #[error("There is no such webhook endpoint.")]
    NotFound,
    #[error("The endpoint from WEBHOOK_URL is managed by the environment: change or unset WEBHOOK_URL instead.")]
    FromEnvironment,
    #[error("That delivery cannot be sent again: it does not exist or its endpoint is disabled (enable it first).")]
    CannotRedeliver,
    #[error("That delivery is waiting for its next attempt already.")]
    AlreadyPending,
    #[error("Could not {0}; the server logged the cause.")]
    Storage(&'static str),
}

/// A new endpoint and its secret, shown once.
#[derive(Debug)]
pub struct NewEndpoint {
    pub id: i64,
    pub secret: Secret,
}

/// An endpoint as the settings page shows it.
#[derive(Debug, Clone)]
pub struct EndpointSummary {
    pub endpoint: EndpointRow,
    /// The event types of its filter; empty means every type.
    pub events: Vec<WebhookEvent>,
    pub deliveries: Vec<DeliveryRecord>,
}

/// A delivery and its attempts, newest first.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub delivery: DeliveryRow,
    pub attempts: Vec<AttemptRow>,
}

/// How bringing the environment's endpoint in step went.
enum InStep {
    Done,
    /// Another process changed it between this one's read and write.
    Raced,
}

/// The administrators' webhook settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    pub allow_private_addresses: bool,
}

fn storage(what: &'static str) -> impl FnOnce(crate::DatabaseError) -> WebhookError {
    move |e| {
        tracing::error!(error = %e, "could not {what}");
        WebhookError::Storage(what)
    }
}

/// Parses and checks an endpoint URL's shape (not yet its address).
pub(crate) fn parse_endpoint_url(text: &str) -> Result<Url, WebhookError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(WebhookError::BadUrl("is missing"));
    }
    if text.len() > MAX_URL_LEN {
        return Err(WebhookError::BadUrl("is longer than 2,000 characters"));
    }
    let url = Url::parse(text).map_err(|_| WebhookError::BadUrl("is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(WebhookError::BadUrl("must start with https:// or http://"));
    }
    if url.host().is_none() {
        return Err(WebhookError::BadUrl("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebhookError::BadUrl(
            "must not carry a user name or password (the signature authenticates the sender)",
        ));
    }
    if url.fragment().is_some() {
        return Err(WebhookError::BadUrl("must not have a #fragment"));
    }
    Ok(url)
}

/// What an endpoint receives, as the account log says it.
fn events_sentence(events: &[WebhookEvent]) -> String {
    match filter_text(events) {
        all if all.is_empty() => "every event type".to_owned(),
        some => some.replace(' ', ", "),
    }
}

fn filter_text(events: &[WebhookEvent]) -> String {
    let chosen: Vec<&str> = WebhookEvent::SUBSCRIBABLE
        .iter()
        .filter(|e| events.contains(e))
        .map(|e| e.as_str())
        .collect();
    if chosen.len() == WebhookEvent::SUBSCRIBABLE.len() {
        String::new()
    } else {
        chosen.join(" ")
    }
}

impl Engine {
    /// Adds an endpoint for `events` (none chosen: every type); its secret is
    /// made here and returned once. The URL must pass the address rule unless
    /// private addresses are allowed. Logged naming `actor`.
    pub async fn add_webhook_endpoint(
        &self,
        url: &str,
        events: &[WebhookEvent],
        actor: &Actor,
    ) -> Result<NewEndpoint, WebhookError> {
        let url = parse_endpoint_url(url)?;
        let allow = self
            .db()
            .webhooks_allow_private()
            .await
            .map_err(storage("read the webhook settings"))?;
        let public = address_rules::check_url(&url, false).await;
        if !allow {
            public.clone()?;
        }
        // Messages name accounts and sites: over the internet, only
        // encrypted. Plain http only to a private address (allowed above).
        if url.scheme() != "https" && public.is_ok() {
            return Err(WebhookError::BadUrl(
                "must start with https:// (plain http only to a private address, with private addresses allowed)",
            ));
        }
        let entry = LogEntry::endpoint(actor.stored(), action::ADD, url.as_str(), |label| {
            // The log says so when the address rule let it through only
            // because private addresses are allowed.
            let private = if public.is_err() {
                " (not a public address: private addresses are allowed)"
            } else {
                ""
            };
            format!(
                "Added webhook endpoint {label}{private} for {}",
                events_sentence(events)
            )
        });
        let secret = signing::new_secret();
        let vault = self.vault().clone();
        let sealed_secret = secret.clone();
        let id = self
            .db()
            .insert_webhook_endpoint(
                NewEndpointRow {
                    url: url.as_str(),
                    event_types: &filter_text(events),
                    from_environment: false,
                    created_by: Some(&actor.stored()),
                },
                move |id| vault.encrypt_webhook_secret(id, &sealed_secret),
                &entry.event(),
                self.clock().now(),
            )
            .await
            .map_err(storage("add the webhook endpoint"))?
            .map_err(|e| {
                tracing::error!(error = %e, "could not seal a webhook secret");
                WebhookError::Storage("seal the endpoint's secret")
            })?;
        // The host only: a path may carry the receiver's own credential.
        tracing::info!(
            endpoint = id,
            host = url.host_str().unwrap_or_default(),
            actor = %actor.stored(),
            "webhook endpoint added"
        );
        Ok(NewEndpoint { id, secret })
    }

    /// Every endpoint with its latest deliveries and their attempts.
    pub async fn webhook_endpoints(&self) -> Result<Vec<EndpointSummary>, WebhookError> {
        let rows = self
            .db()
            .webhook_endpoints()
            .await
            .map_err(storage("list the webhook endpoints"))?;
        let mut out = Vec::with_capacity(rows.len());
        for endpoint in rows {
            let deliveries = self
                .db()
                .webhook_deliveries(endpoint.id, DELIVERIES_SHOWN)
                .await
                .map_err(storage("list the webhook deliveries"))?;
            let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
            let mut attempts = self
                .db()
                .webhook_attempts(&ids)
                .await
                .map_err(storage("list the webhook attempts"))?;
            let deliveries = deliveries
                .into_iter()
                .map(|delivery| {
                    let (mut own, rest): (Vec<AttemptRow>, Vec<AttemptRow>) = attempts
                        .drain(..)
                        .partition(|a| a.delivery_id == delivery.id);
                    attempts = rest;
                    own.truncate(ATTEMPTS_SHOWN);
                    DeliveryRecord {
                        delivery,
                        attempts: own,
                    }
                })
                .collect();
            let events = WebhookEvent::SUBSCRIBABLE
                .iter()
                .copied()
                .filter(|e| {
                    !endpoint.event_types.trim().is_empty()
                        && filter_admits(&endpoint.event_types, *e)
                })
                .collect();
            out.push(EndpointSummary {
                endpoint,
                events,
                deliveries,
            });
        }
        Ok(out)
    }

    /// The endpoint `id`, or [`WebhookError::NotFound`].
    async fn endpoint_row(&self, id: i64) -> Result<EndpointRow, WebhookError> {
        self.db()
            .webhook_endpoint(id)
            .await
            .map_err(storage("read the webhook endpoint"))?
            .ok_or(WebhookError::NotFound)
    }

    /// Enables (forgetting past failures) or disables an endpoint, by `by`.
    pub async fn set_webhook_endpoint_enabled(
        &self,
        id: i64,
        enabled: bool,
        by: &Actor,
    ) -> Result<(), WebhookError> {
        let row = self.endpoint_row(id).await?;
        let entry = if enabled {
            LogEntry::endpoint(by.stored(), action::ENABLE, &row.url, |e| {
                format!("Enabled webhook endpoint {e}")
            })
        } else {
            LogEntry::endpoint(by.stored(), action::DISABLE, &row.url, |e| {
                format!("Disabled webhook endpoint {e}")
            })
        };
        let changed = self
            .db()
            .set_webhook_endpoint_enabled(id, enabled, &entry.event(), self.clock().now())
            .await
            .map_err(storage("change the webhook endpoint"))?;
        if !changed {
            return Err(WebhookError::NotFound);
        }
        if enabled {
            self.wake_webhooks();
        }
        Ok(())
    }

    /// Deletes an endpoint added in the UI, with its deliveries, by `by`.
    pub async fn delete_webhook_endpoint(&self, id: i64, by: &Actor) -> Result<(), WebhookError> {
        let row = self.endpoint_row(id).await?;
        if row.from_environment {
            return Err(WebhookError::FromEnvironment);
        }
        let entry = LogEntry::endpoint(by.stored(), action::DELETE, &row.url, |e| {
            format!("Deleted webhook endpoint {e} with its deliveries")
        });
        let deleted = self
            .db()
            .delete_webhook_endpoint(id, false, &entry.event(), self.clock().now())
            .await
            .map_err(storage("delete the webhook endpoint"))?;
        if !deleted {
            // Deleted by someone else meanwhile (their entry is the log's).
            return Err(WebhookError::NotFound);
        }
        Ok(())
    }

    /// Queues a `webhook.test` message for endpoint `id` alone, by `by`; its id.
    pub async fn send_test_webhook(&self, id: i64, by: &Actor) -> Result<String, WebhookError> {
        let row = self.endpoint_row(id).await?;
        if !row.enabled {
            return Err(WebhookError::CannotRedeliver);
        }
        let notice = Notice::new(
            WebhookEvent::Test,
            None,
            "A test event from the Jira Integrations dashboard, sent from its settings page.",
        );
        let entry = LogEntry::endpoint(by.stored(), action::TEST, &row.url, |e| {
            format!("Sent a test event to webhook endpoint {e}")
        });
        let message = self
            .db()
            .enqueue_test_webhook(id, &notice, &entry.event(), self.clock().now())
            .await
            .map_err(storage("queue the test event"))?;
        self.wake_webhooks();
        Ok(message)
    }

    /// Sends a finished delivery `id` again, now, with a new day of
    /// retries, by `by`.
    pub async fn redeliver_webhook(&self, id: i64, by: &Actor) -> Result<(), WebhookError> {
        let target = self
            .db()
            .webhook_delivery_target(id)
            .await
            .map_err(storage("read the delivery"))?;
        let Some((_, message_id, event_type, url)) = target else {
            return Err(WebhookError::CannotRedeliver);
        };
        let entry = LogEntry::endpoint(by.stored(), action::REDELIVER, &url, |e| {
            format!("Sent message {message_id} ({event_type}) again to webhook endpoint {e}")
        });
        let again = self
            .db()
            .redeliver_webhook(id, self.clock().now(), DELIVERY_WINDOW_SECS, &entry.event())
            .await
            .map_err(storage("queue the delivery again"))?;
        if !again {
            // Its state now, not before: it may have been sent again meanwhile.
            let state = self
                .db()
                .webhook_delivery_target(id)
                .await
                .map_err(storage("read the delivery"))?
                .map(|(state, ..)| state);
            return Err(if state.as_deref() == Some("pending") {
                WebhookError::AlreadyPending
            } else {
                WebhookError::CannotRedeliver
            });
        }
        self.wake_webhooks();
        Ok(())
    }

    /// Sends again everything endpoint `id` did not receive (failed, or
    /// skipped while it was disabled), by `by`; how many deliveries.
    pub async fn redeliver_undelivered(&self, id: i64, by: &Actor) -> Result<u64, WebhookError> {
        let row = self.endpoint_row(id).await?;
        let entry =
            LogEntry::endpoint(by.stored(), action::REDELIVER_UNDELIVERED, &row.url, |_| {
                String::new()
            });
        let subject = entry.subject.clone();
        let n = self
            .db()
            .redeliver_undelivered(
                id,
                self.clock().now(),
                DELIVERY_WINDOW_SECS,
                &entry.event(),
                |n| {
                    let messages = if n == 1 { "message" } else { "messages" };
                    format!("Sent {n} undelivered {messages} again to webhook endpoint {subject}")
                },
            )
            .await
            .map_err(storage("queue the deliveries again"))?;
        self.wake_webhooks();
        Ok(n)
    }

    pub async fn webhook_settings(&self) -> Result<WebhookSettings, WebhookError> {
        Ok(WebhookSettings {
            allow_private_addresses: self
                .db()
                .webhooks_allow_private()
                .await
                .map_err(storage("read the webhook settings"))?,
        })
    }

    /// Changes the settings, by `by`; logged when that changes anything
    /// (allowing private addresses turns the address rule off).
    pub async fn set_webhook_settings(
        &self,
        settings: WebhookSettings,
        by: &Actor,
    ) -> Result<(), WebhookError> {
        let allow = settings.allow_private_addresses;
        let entry = LogEntry::private_addresses(by.stored(), allow);
        let changed = self
            .db()
            .set_webhooks_allow_private(allow, &entry.event(), self.clock().now())
            .await
            .map_err(storage("change the webhook settings"))?;
        if changed {
            tracing::info!(actor = %by.stored(), allow_private = allow, "webhook address rule changed");
        }
        Ok(())
    }

    /// Brings the endpoint of `WEBHOOK_URL` / `WEBHOOK_SECRET` in step with
    /// the environment: created, updated (a new URL starts afresh), or
    /// removed when the variables are unset. It receives every event type.
    /// A change is logged with the actor "environment"; a start with the
    /// same URL and secret writes nothing.
    pub async fn configure_environment_webhook(
        &self,
        endpoint: Option<(&Url, &Secret)>,
    ) -> Result<(), WebhookError> {
        match self.configure_environment_webhook_once(endpoint).await {
            // Another process sharing the database added or changed it at
            // the same moment (processes start together): this one now
            // finds it and brings it in step instead (quietly, when the
            // other process made the same change).
            Err(WebhookError::Storage(_)) | Ok(InStep::Raced) if endpoint.is_some() => {
                match self.configure_environment_webhook_once(endpoint).await? {
                    InStep::Done => Ok(()),
                    InStep::Raced => Err(WebhookError::Storage(
                        "update the WEBHOOK_URL endpoint (other processes keep changing it)",
                    )),
                }
            }
            done => done.map(|_| ()),
        }
    }

    async fn configure_environment_webhook_once(
        &self,
        endpoint: Option<(&Url, &Secret)>,
    ) -> Result<InStep, WebhookError> {
        let now: UnixTime = self.clock().now();
        let existing = self
            .db()
            .environment_endpoint()
            .await
            .map_err(storage("read the WEBHOOK_URL endpoint"))?;
        match (endpoint, existing) {
            (None, None) => Ok(InStep::Done),
            (None, Some((id, was_url, _))) => {
                let entry = LogEntry::endpoint(ENVIRONMENT, action::DELETE, &was_url, |e| {
                    format!("Removed webhook endpoint {e}: WEBHOOK_URL is no longer set")
                });
                // False: another process removed it first (and logged it).
                self.db()
                    .delete_webhook_endpoint(id, true, &entry.event(), now)
                    .await
                    .map_err(storage("remove the WEBHOOK_URL endpoint"))?;
                Ok(InStep::Done)
            }
            (Some((url, secret)), Some((id, was_url, was_sealed))) => {
                let same_url = was_url == url.as_str();
                // A secret that no longer opens counts as changed.
                let same_secret = self
                    .vault()
                    .decrypt_webhook_secret(id, &was_sealed)
                    .is_ok_and(|was| was.expose() == secret.expose());
                // Unchanged: nothing to write or log, unless the secret is
                // sealed with a key that is no longer the newest (a key
                // rotation): sealed anew, quietly, as every start did.
                let reseal = same_url && same_secret;
                if reseal && !self.vault().needs_reseal(&was_sealed) {
                    return Ok(InStep::Done);
                }
                let was_label = super::audit::endpoint_label(&was_url);
                let entry = LogEntry::endpoint(ENVIRONMENT, action::CHANGE, url.as_str(), |e| {
                    match (same_url, same_secret) {
                        (false, true) => {
                            format!("WEBHOOK_URL changed: the endpoint now sends to {e} (was {was_label})")
                        }
                        (false, false) => format!(
                            "WEBHOOK_URL and WEBHOOK_SECRET changed: the endpoint now sends to {e} (was {was_label}) and signs with the new secret"
                        ),
                        _ => format!(
                            "WEBHOOK_SECRET changed: webhook endpoint {e} signs with the new secret"
                        ),
                    }
                });
                let sealed = self
                    .vault()
                    .encrypt_webhook_secret(id, secret)
                    .map_err(|_| WebhookError::Storage("seal WEBHOOK_SECRET"))?;
                let updated = self
                    .db()
                    .update_environment_endpoint(
                        id,
                        url.as_str(),
                        &sealed,
                        &was_sealed,
                        (!reseal).then(|| entry.event()).as_ref(),
                        now,
                    )
                    .await
                    .map_err(storage("update the WEBHOOK_URL endpoint"))?;
                Ok(if updated { InStep::Done } else { InStep::Raced })
            }
            (Some((url, secret)), None) => {
                let entry = LogEntry::endpoint(ENVIRONMENT, action::ADD, url.as_str(), |e| {
                    format!("Added webhook endpoint {e} from WEBHOOK_URL for every event type")
                });
                let vault = self.vault().clone();
                let secret = secret.clone();
                self.db()
                    .insert_webhook_endpoint(
                        NewEndpointRow {
                            url: url.as_str(),
                            event_types: "",
                            from_environment: true,
                            created_by: Some(ENVIRONMENT),
                        },
                        move |id| vault.encrypt_webhook_secret(id, &secret),
                        &entry.event(),
                        now,
                    )
                    .await
                    .map_err(storage("add the WEBHOOK_URL endpoint"))?
                    .map_err(|_| WebhookError::Storage("seal WEBHOOK_SECRET"))?;
                Ok(InStep::Done)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_checked_for_shape() {
        assert!(parse_endpoint_url("https://hooks.example.com/jira").is_ok());
        for bad in [
            "",
            "hooks.example.com",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "javascript:alert(1)",
        ] {
            assert!(parse_endpoint_url(bad).is_err(), "{bad}");
        }
        assert!(parse_endpoint_url(&format!("https://e.com/{}", "a".repeat(2_100))).is_err());
    }

    #[test]
    fn a_filter_of_every_type_is_stored_as_empty() {
        assert_eq!(filter_text(WebhookEvent::SUBSCRIBABLE), "");
        assert_eq!(filter_text(&[]), "");
        let some = filter_text(&[WebhookEvent::NeedsReauth, WebhookEvent::Connected]);
        assert_eq!(some, "integration.connected integration.needs_reauth");
        assert!(filter_admits(&some, WebhookEvent::NeedsReauth));
        assert!(!filter_admits(&some, WebhookEvent::Recovered));
        assert!(filter_admits("", WebhookEvent::Recovered));
    }
}
