//! Where a consent lands, and what the event log says about it: the connect
//! flow's rules as pure functions (the storage layer only runs the queries),
//! and which webhook messages it sends.

use domain::{ConnectFailure, EventKind, IntegrationId, Tags, WebhookEvent};

use crate::db::{GrantLookup, PriorState};
use domain::Notice;

/// The row a consent is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// A new integration.
    New,
    /// The account already had an integration: that row is updated.
    Reconnect(IntegrationId),
    /// The integration the flow was started for is repaired.
    Reauthenticate(IntegrationId),
}

/// Who a connect link's consent is for: the end user it was made for, and
/// the tags of the key that made it (the key sees only integrations carrying
/// them all).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkOwner<'a> {
    pub end_user_id: &'a str,
    pub confined_to: &'a Tags,
}

/// One integration per Atlassian account (one grant per app and account), and
/// a re-authentication must come back with the integration's own account:
/// anything else would silently move integration N to another account.
/// Through a connect link (`link`), an account that already has an
/// integration lands on it only when it belongs to the same end user and the
/// link's key may see it, or when it was disconnected (then the link's
/// customer takes it over, as a new connection): a customer never takes over
/// another's live integration, nor one made on the dashboard. A link never
/// re-authenticates a disconnected integration (a disconnect is not undone
/// by a link made before it).
pub(crate) fn place_grant(
    account_id: &str,
    reauth_of: Option<IntegrationId>,
    rows: &GrantLookup,
    link: Option<LinkOwner<'_>>,
) -> Result<Placement, ConnectFailure> {
    match (reauth_of, &rows.reauth_account) {
        (Some(_), None | Some(None)) => Err(ConnectFailure::UnknownIntegration),
        (Some(_), _) if link.is_some() && rows.reauth_disconnected => {
            Err(ConnectFailure::UnknownIntegration)
        }
        (Some(id), Some(Some(owner))) if owner == account_id => Ok(Placement::Reauthenticate(id)),
        (Some(_), Some(Some(_))) => Err(ConnectFailure::OtherAccount),
        (None, _) => match (rows.by_account, link) {
            (None, _) => Ok(Placement::New),
            (Some(id), None) => Ok(Placement::Reconnect(id)),
            (Some(id), Some(_)) if rows.account_disconnected => Ok(Placement::Reconnect(id)),
            (Some(id), Some(link)) => match &rows.account_owner {
                Some((Some(end_user), tags))
                    if end_user == link.end_user_id && tags.includes(link.confined_to) =>
                {
                    Ok(Placement::Reconnect(id))
                }
                _ => Err(ConnectFailure::OtherOwner),
            },
        },
    }
}

/// The event a stored consent writes: its kind and its sentence.
pub(crate) fn connection_event(
    placement: Placement,
    account_name: &str,
    sites: usize,
    has_refresh_token: bool,
) -> (EventKind, String) {
    let (kind, what) = match placement {
        Placement::New => (
            EventKind::Connect,
            format!("Connected {account_name} with {sites} site(s)"),
        ),
        Placement::Reauthenticate(_) => (
            EventKind::Reauth,
            format!("Re-authenticated {account_name}"),
        ),
        Placement::Reconnect(_) => (
            EventKind::Reauth,
            format!("Reconnected {account_name} (existing integration updated)"),
        ),
    };
    let offline = if has_refresh_token {
        "with a refresh token"
    } else {
        "without a refresh token (offline_access not granted)"
    };
    (kind, format!("{what}, {offline}"))
}

/// The webhook messages a stored consent sends, given how its row stood
/// before (`None`: a new row): `integration.connected` for a new or a
/// disconnected one; otherwise `integration.reauthenticated`, followed by
/// `integration.recovered` when the row was deactivated or failing.
pub(crate) fn connection_notices(
    prior: Option<PriorState>,
    account_name: &str,
    message: &str,
) -> Vec<Notice> {
    match prior {
        None
        | Some(PriorState {
            disconnected: true, ..
        }) => {
            vec![Notice::new(WebhookEvent::Connected, None, message)]
        }
        Some(state) => {
            let mut notices = vec![Notice::new(WebhookEvent::Reauthenticated, None, message)];
            if !state.active || state.failing {
                notices.push(Notice::new(
                    WebhookEvent::Recovered,
                    Some("reauthenticated"),
                    format!("{account_name} works again: a person re-authenticated it."),
                ));
            }
            notices
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(by_account: Option<i64>, reauth_account: Option<Option<&str>>) -> GrantLookup {
        GrantLookup {
            by_account: by_account.map(IntegrationId),
            account_owner: by_account.map(|_| (None, Tags::default())),
            account_disconnected: false,
            reauth_disconnected: false,
            reauth_account: reauth_account.map(|a| a.map(str::to_owned)),
        }
    }

    #[test]
    fn a_new_account_gets_a_new_integration_and_a_known_one_its_own() {
        assert_eq!(
            place_grant("ada", None, &rows(None, None), None),
            Ok(Placement::New)
        );
        assert_eq!(
            place_grant("ada", None, &rows(Some(4), None), None),
            Ok(Placement::Reconnect(IntegrationId(4)))
        );
    }

    #[test]
    fn a_reauthentication_repairs_its_own_integration() {
        assert_eq!(
            place_grant(
                "ada",
                Some(IntegrationId(4)),
                &rows(Some(4), Some(Some("ada"))),
                None
            ),
            Ok(Placement::Reauthenticate(IntegrationId(4)))
        );
    }

    #[test]
    fn a_reauthentication_with_another_account_is_refused() {
        // Grace has no integration yet: without this rule, #4 would become hers.
        assert_eq!(
            place_grant(
                "grace",
                Some(IntegrationId(4)),
                &rows(None, Some(Some("ada"))),
                None
            ),
            Err(ConnectFailure::OtherAccount)
        );
        // Grace already owns #5.
        assert_eq!(
            place_grant(
                "grace",
                Some(IntegrationId(4)),
                &rows(Some(5), Some(Some("ada"))),
                None
            ),
            Err(ConnectFailure::OtherAccount)
        );
    }

    #[test]
    fn a_reauthentication_of_a_vanished_integration_is_refused() {
        assert_eq!(
            place_grant("ada", Some(IntegrationId(4)), &rows(None, Some(None)), None),
            Err(ConnectFailure::UnknownIntegration)
        );
    }

    #[test]
    fn a_link_lands_only_on_its_own_end_user_s_integration() {
        let acme = Tags([("tenant".to_owned(), "acme".to_owned())].into());
        let link = |end_user_id| LinkOwner {
            end_user_id,
            confined_to: &acme,
        };
        let owned = |end_user: Option<&str>, tags: &Tags| GrantLookup {
            by_account: Some(IntegrationId(4)),
            account_owner: Some((end_user.map(str::to_owned), tags.clone())),
            account_disconnected: false,
            reauth_disconnected: false,
            reauth_account: None,
        };
        // A new account: a new integration.
        assert_eq!(
            place_grant("ada", None, &rows(None, None), Some(link("c-1"))),
            Ok(Placement::New)
        );
        // The same customer, under the same key's tags: the same integration.
        assert_eq!(
            place_grant("ada", None, &owned(Some("c-1"), &acme), Some(link("c-1"))),
            Ok(Placement::Reconnect(IntegrationId(4)))
        );
        // Another customer's, one made on the dashboard, or one outside the
        // key's tags: refused.
        for rows in [
            owned(Some("c-2"), &acme),
            owned(None, &acme),
            owned(Some("c-1"), &Tags::default()),
        ] {
            assert_eq!(
                place_grant("ada", None, &rows, Some(link("c-1"))),
                Err(ConnectFailure::OtherOwner)
            );
        }
        // A disconnected one is anyone's to take over.
        let gone = GrantLookup {
            account_disconnected: true,
            ..owned(Some("c-2"), &Tags::default())
        };
        assert_eq!(
            place_grant("ada", None, &gone, Some(link("c-1"))),
            Ok(Placement::Reconnect(IntegrationId(4)))
        );
        // A link never repairs a disconnected integration; the dashboard may.
        let disconnected = GrantLookup {
            reauth_account: Some(Some("ada".to_owned())),
            reauth_disconnected: true,
            ..rows(Some(4), None)
        };
        assert_eq!(
            place_grant(
                "ada",
                Some(IntegrationId(4)),
                &disconnected,
                Some(link("c-1"))
            ),
            Err(ConnectFailure::UnknownIntegration)
        );
        assert_eq!(
            place_grant("ada", Some(IntegrationId(4)), &disconnected, None),
            Ok(Placement::Reauthenticate(IntegrationId(4)))
        );
        // The dashboard's own flow reconnects whoever owns it.
        assert_eq!(
            place_grant("ada", None, &owned(Some("c-2"), &acme), None),
            Ok(Placement::Reconnect(IntegrationId(4)))
        );
    }

    #[test]
    fn the_event_says_what_happened_and_whether_refresh_is_possible() {
        let (kind, text) = connection_event(Placement::New, "Ada", 2, true);
        assert_eq!(kind, EventKind::Connect);
        assert_eq!(text, "Connected Ada with 2 site(s), with a refresh token");
        let (kind, text) =
            connection_event(Placement::Reauthenticate(IntegrationId(1)), "Ada", 1, false);
        assert_eq!(kind, EventKind::Reauth);
        assert!(
            text.starts_with("Re-authenticated Ada") && text.contains("offline_access not granted")
        );
        let (kind, text) = connection_event(Placement::Reconnect(IntegrationId(1)), "Ada", 1, true);
        assert_eq!(kind, EventKind::Reauth);
        assert!(text.starts_with("Reconnected Ada"));
    }

    #[test]
    fn a_consent_announces_connected_reauthenticated_and_recovered_by_the_row_s_past() {
        let events = |prior| -> Vec<WebhookEvent> {
            connection_notices(prior, "Ada", "m")
                .into_iter()
                .map(|n| n.event)
                .collect()
        };
        let state = |disconnected, active, failing| {
            Some(PriorState {
                disconnected,
                active,
                failing,
            })
        };
        assert_eq!(events(None), [WebhookEvent::Connected]);
        assert_eq!(events(state(true, false, false)), [WebhookEvent::Connected]);
        assert_eq!(
            events(state(false, true, false)),
            [WebhookEvent::Reauthenticated]
        );
        assert_eq!(
            events(state(false, false, false)),
            [WebhookEvent::Reauthenticated, WebhookEvent::Recovered]
        );
        assert_eq!(
            events(state(false, true, true)),
            [WebhookEvent::Reauthenticated, WebhookEvent::Recovered]
        );
    }
}
