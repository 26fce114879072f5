//! Announcing a change: the webhook message a change is worth, written in the
//! change's own transaction with the integration as that change left it
//! ([`IntegrationView::at`], the wire contract's own rendering), so a change
//! and its announcement land together or not at all.

use domain::webhook_message::RECONNECT_URL_PLACEHOLDER;
use domain::{IntegrationId, IntegrationView, Notice, StatusRule, UnixTime};

use super::integration_rows::find_integration_on;
use super::webhook_outbox;
use super::{DatabaseError, Tx};

/// A webhook message a change may announce, and when.
#[derive(Debug, Clone)]
pub struct Announce {
    pub notice: Notice,
    /// How the integration's status is judged in the message (the engine's
    /// margin and policy).
    pub rule: StatusRule,
    pub when: AnnounceIf,
}

/// The condition under which a change is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceIf {
    /// Whenever the change is written.
    Always,
    /// Only if the integration was active before (a deactivation, once).
    WasActive,
    /// Only if its failure streak began this many seconds ago or earlier and
    /// was not announced yet (once per streak).
    FailingFor(i64),
}

/// Enqueues `announce`'s notice about `integration_id` on `tx`, rendered
/// from the row as `tx` sees it now: the message's id, or `None` when no
/// endpoint wants it (nothing is read or written then). A notice that asks
/// for a person's consent again ([`domain::WebhookEvent::offers_reconnect`])
/// carries `reconnectUrl`: stored as [`RECONNECT_URL_PLACEHOLDER`], each
/// attempt to send it makes a connect link of its own
/// (`crate::webhooks::delivery`), so no link's token is ever stored.
pub(super) async fn enqueue(
    tx: &mut Tx,
    integration_id: IntegrationId,
    announce: &Announce,
    now: UnixTime,
) -> Result<Option<String>, DatabaseError> {
    let notice = &announce.notice;
    if !webhook_outbox::wanted(tx, notice.event).await? {
        return Ok(None);
    }
    let Some(integration) = find_integration_on(tx.into(), integration_id).await? else {
        return Ok(None);
    };
    let mut notice = notice.clone();
    if notice.event.offers_reconnect() {
        notice.reconnect_url = Some(RECONNECT_URL_PLACEHOLDER.to_owned());
    }
    let view = IntegrationView::at(integration, now, announce.rule);
    let body = notice.body(Some(&view), now);
    webhook_outbox::insert(tx, Some(integration_id), notice.event, &body, now)
        .await
        .map(Some)
}
