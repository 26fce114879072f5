//! Connect links (DESIGN.md, "Connect links"): a service with the `connect`
//! scope makes a link for one of its customers ([`Engine::create_connect_link`]);
//! the customer, with no account here, opens it ([`Engine::connect_link`]),
//! starts the OAuth flow from its page ([`Engine::start_connect_link`], which
//! spends the link and binds the flow to that browser), and comes back
//! through the callback ([`Engine::finish_link_connect`]), which stores the
//! integration with its end user and tags.
//!
//! A link is a bearer secret: 256 random bits, of which only the SHA-256 is
//! stored; it works once, for [`LINK_LIFETIME_SECS`] (a webhook's
//! `reconnectUrl` for [`RECONNECT_LINK_LIFETIME_SECS`]); a key makes at most
//! [`LINKS_PER_KEY_PER_MINUTE`]; a key confined to tags makes links only for
//! integrations carrying them, and gives new ones its tags.
//!
//! [`RECONNECT_LINK_LIFETIME_SECS`]: domain::webhook_message::RECONNECT_LINK_LIFETIME_SECS

use url::Url;

pub use super::link_settings::LinkSettings;

use domain::{Actor, EndUser, IntegrationId, Tags, UnixTime};

use super::{
    binding_of, random_text, ConnectError, Connected, LinkOwner, StartedFlow, StateProblem,
    STATE_LIFETIME_SECS,
};
use crate::connect::CallbackParams;
use crate::db::{ConnectSessionRow, NewAccountEvent, NewConnectSession, NewOAuthState};
use crate::engine_handle::storage;
use crate::secret::token_hash;
use crate::service_api::ApiKey;
use crate::{Engine, EngineError};

/// A link made by a service works this long.
const LINK_LIFETIME_SECS: i64 = 30 * 60;
/// The most links one key makes in a minute.
const LINKS_PER_KEY_PER_MINUTE: i64 = 60;
/// How a flow started by a link names its OAuth state: the callback needs no
/// dashboard session for these (and the engine checks the stored row agrees).
const LINK_STATE_PREFIX: &str = "link.";
/// The parameters added to `returnUrl` when the customer comes back.
const RETURN_PARAMS: [&str; 3] = ["connectSessionId", "integrationId", "result"];

/// The longest `returnUrl` accepted.
const MAX_RETURN_URL_CHARS: usize = 2_000;

/// What a service asks for (`POST /v1/connect-sessions`).
#[derive(Debug, Clone, Default)]
pub struct LinkRequest {
    pub end_user_id: String,
    pub display_name: Option<String>,
    pub tags: Tags,
    /// Re-authenticate this integration instead of connecting a new one.
    pub integration_id: Option<IntegrationId>,
    pub return_url: Option<String>,
}

/// A link just made. (No `Debug`: the URL is a bearer secret.)
pub struct MadeLink {
    pub id: i64,
    pub url: String,
    pub expires_at: UnixTime,
}

/// Why a link was not made.
#[derive(Debug, thiserror::Error)]
pub enum LinkRefused {
    /// Bad input: the sentence says what.
    #[error("{0}")]
    BadInput(String),
    /// No such connected integration, or one the key may not see.
    #[error("Integration {0} does not exist or is already disconnected.")]
    UnknownIntegration(IntegrationId),
    #[error("This key made {LINKS_PER_KEY_PER_MINUTE} connect links in the last minute: wait a minute before making more.")]
    TooMany,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// What a link's page tells its visitor: nothing about any integration but
/// the name the service gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInvitation {
    pub display_name: Option<String>,
    /// It repairs an existing connection rather than making one.
    pub reauthenticates: bool,
    /// The Jira access asked for (OAuth scopes).
    pub scopes: Vec<String>,
}

/// Why a link cannot be used: the sentence is the page's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkProblem {
    #[error("This connect link is not known. Ask whoever sent it for a new one.")]
    Unknown,
    #[error("This connect link was already used: each link works once. Ask whoever sent it for a new one.")]
    Used,
    #[error("This connect link has expired. Ask whoever sent it for a new one.")]
    Expired,
    #[error("This connect link was withdrawn. Ask whoever sent it for a new one.")]
    Withdrawn,
    #[error("This connect link cannot be opened right now. Try again in a minute.")]
    Unavailable,
}

impl LinkProblem {
    /// The HTTP status its page answers with.
    pub fn status(self) -> u16 {
        match self {
            LinkProblem::Unknown => 404,
            LinkProblem::Used | LinkProblem::Expired | LinkProblem::Withdrawn => 410,
            LinkProblem::Unavailable => 503,
        }
    }
}

/// What a link's flow came to, as `returnUrl` is told (`?result=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Connected,
    Reauthenticated,
    Declined,
    Failed,
}

impl LinkOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkOutcome::Connected => "connected",
            LinkOutcome::Reauthenticated => "reauthenticated",
            LinkOutcome::Declined => "declined",
            LinkOutcome::Failed => "failed",
        }
    }

    fn of(result: &Result<Connected, ConnectError>) -> Self {
        match result {
            Ok(Connected::New(_) | Connected::Reconnected(_)) => LinkOutcome::Connected,
            Ok(Connected::Reauthenticated(_)) => LinkOutcome::Reauthenticated,
            Err(ConnectError::Declined) => LinkOutcome::Declined,
            Err(_) => LinkOutcome::Failed,
        }
    }
}

/// A link's flow, finished.
#[derive(Debug)]
pub struct LinkFinish {
    /// The link's id (`connectSessionId`, as its creation answered).
    pub session_id: i64,
    pub result: Result<Connected, ConnectError>,
    pub outcome: LinkOutcome,
    /// Where to send the browser (`?integrationId=&result=` added by the caller).
    pub return_url: Option<Url>,
}

/// A link's token: 256 random bits, URL-safe.
fn new_token() -> String {
    random_text()
}

/// Whether `token` could be one of ours (43 URL-safe characters); anything
/// else is unknown without a lookup.
fn plausible(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether an OAuth state was made by a link's flow (by its spelling; the
/// stored row must agree).
pub fn is_link_state(state: &str) -> bool {
    state.starts_with(LINK_STATE_PREFIX)
}

impl Engine {
    /// Makes a connect link for `request` on behalf of `key`.
    #[tracing::instrument(skip_all, fields(key = key.id))]
    pub async fn create_connect_link(
        &self,
        key: &ApiKey,
        request: LinkRequest,
    ) -> Result<MadeLink, LinkRefused> {
        let now = self.now();
        // The rate limit first: a key over it learns nothing more (the
        // count is made again, atomically, as the link is stored).
        let made = self
            .db()
            .connect_sessions_made_since(key.id, now - 60)
            .await
            .map_err(storage("count the key's connect links"))?;
        if made >= LINKS_PER_KEY_PER_MINUTE {
            return Err(LinkRefused::TooMany);
        }
        domain::end_user::check_end_user_id(&request.end_user_id).map_err(LinkRefused::BadInput)?;
        if let Some(name) = &request.display_name {
            domain::end_user::check_display_name(name).map_err(LinkRefused::BadInput)?;
        }
        let asked = Tags::checked(request.tags.0.clone()).map_err(LinkRefused::BadInput)?;
        for (k, v) in &key.tags.0 {
            if asked.0.get(k).is_some_and(|asked| asked != v) {
                return Err(LinkRefused::BadInput(format!(
                    "This key is confined to {}: its links cannot set {k} to another value.",
                    key.tags.written()
                )));
            }
        }
        let tags = Tags::checked(asked.merged(&key.tags).0).map_err(LinkRefused::BadInput)?;
        if let Some(id) = request.integration_id {
            let integration = self
                .db()
                .find_integration(id)
                .await
                .map_err(storage("read the integration"))?
                .filter(|i| i.disconnected_at.is_none() && i.tags.includes(&key.tags))
                .ok_or(LinkRefused::UnknownIntegration(id))?;
            // A link repairs its own customer's integration; it never gives
            // one an owner (or tags) it did not have. (The sentence names
            // no one: a key that may only make links learns nothing here.)
            if integration
                .end_user
                .is_none_or(|u| u.id != request.end_user_id)
            {
                return Err(LinkRefused::BadInput(format!(
                    "Integration {id} was not connected for end user \"{}\": a link re-authenticates only its own end user's integration (one connected on the dashboard is repaired there, or through its webhooks' reconnectUrl).",
                    request.end_user_id
                )));
            }
        }
        let return_url = match &request.return_url {
            None => None,
            Some(raw) => Some(self.allowed_return_url(raw)?),
        };
        let actor = key.actor().stored();
        let reauth = request
            .integration_id
            .map(|id| format!(" to re-authenticate integration {id}"))
            .unwrap_or_default();
        let tagged = match tags.is_empty() {
            true => String::new(),
            false => format!(", tagged {}", tags.written()),
        };
        let message = format!(
            "Made a connect link for end user \"{}\"{reauth}{tagged}",
            request.end_user_id
        );
        let made = self
            .store_link(
                &NewConnectSession {
                    token_hash: &[],
                    end_user_id: Some(&request.end_user_id),
                    end_user_name: request.display_name.as_deref(),
                    tags: &tags.to_json(),
                    integration_id: request.integration_id,
                    return_url: return_url.as_ref().map(Url::as_str),
                    api_key_id: Some(key.id),
                    created_by: &actor,
                    expires_at: now + LINK_LIFETIME_SECS,
                },
                &NewAccountEvent {
                    actor: &actor,
                    action: "create_connect_link",
                    subject: &request.end_user_id,
                    message: &message,
                },
                now,
            )
            .await?;
        made.ok_or(LinkRefused::TooMany)
    }

    /// Stores `new` under a fresh token (its hash); the link, or `None` when
    /// its key is over [`LINKS_PER_KEY_PER_MINUTE`].
    async fn store_link(
        &self,
        new: &NewConnectSession<'_>,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<Option<MadeLink>, EngineError> {
        let token = new_token();
        let hash = token_hash(&token);
        let id = self
            .db()
            .insert_connect_session(
                &NewConnectSession {
                    token_hash: &hash,
                    ..*new
                },
                event,
                LINKS_PER_KEY_PER_MINUTE,
                now,
            )
            .await
            .map_err(storage("store the connect link"))?;
        let Some(id) = id else { return Ok(None) };
        Ok(Some(MadeLink {
            id,
            url: self.link_url(&token),
            expires_at: new.expires_at,
        }))
    }

    /// `{PUBLIC_URL}/connect/{token}`.
    pub(crate) fn link_url(&self, token: &str) -> String {
        let base = self
            .link_settings()
            .public_url
            .as_str()
            .trim_end_matches('/');
        format!("{base}/connect/{token}")
    }

    /// `raw` as a return address: http(s), on an allowed origin.
    fn allowed_return_url(&self, raw: &str) -> Result<Url, LinkRefused> {
        let refused = || {
            LinkRefused::BadInput(format!(
                "returnUrl must be an http(s) address on an origin listed in CONNECT_RETURN_ORIGINS ({}).",
                match self.link_settings().return_origins.is_empty() {
                    true => "none is".to_owned(),
                    false => self.link_settings().return_origins.join(", "),
                }
            ))
        };
        if raw.len() > MAX_RETURN_URL_CHARS {
            return Err(LinkRefused::BadInput(format!(
                "returnUrl must be at most {MAX_RETURN_URL_CHARS} characters."
            )));
        }
        let url = Url::parse(raw).map_err(|_| refused())?;
        if url
            .query_pairs()
            .any(|(name, _)| RETURN_PARAMS.contains(&name.as_ref()))
        {
            return Err(LinkRefused::BadInput(format!(
                "returnUrl must not carry {} itself: they are added when the customer comes back.",
                RETURN_PARAMS.join(", ")
            )));
        }
        let origin = url.origin().ascii_serialization();
        let allowed = matches!(url.scheme(), "http" | "https")
            && url.username().is_empty()
            && url.password().is_none()
            && self.link_settings().return_origins.contains(&origin);
        if !allowed {
            return Err(refused());
        }
        Ok(url)
    }

    /// The link behind `token`, if it can still be used.
    async fn usable_link(&self, token: &str) -> Result<ConnectSessionRow, LinkProblem> {
        if !plausible(token) {
            return Err(LinkProblem::Unknown);
        }
        let unavailable = |e: crate::DatabaseError| {
            tracing::error!(error = %e, "could not read a connect link");
            LinkProblem::Unavailable
        };
        let row = self
            .db()
            .connect_session_by_hash(&token_hash(token))
            .await
            .map_err(unavailable)?
            .ok_or(LinkProblem::Unknown)?;
        if row.opened_at.is_some() {
            return Err(LinkProblem::Used);
        }
        if let Some(key) = row.api_key_id {
            let live = self.db().api_key_is_live(key).await.map_err(unavailable)?;
            if !live {
                return Err(LinkProblem::Withdrawn);
            }
        }
        if let Some(id) = row.integration_id {
            let connected = self
                .db()
                .find_integration(id)
                .await
                .map_err(unavailable)?
                .is_some_and(|i| i.disconnected_at.is_none());
            if !connected {
                return Err(LinkProblem::Withdrawn);
            }
        }
        if self.now() >= row.expires_at {
            return Err(LinkProblem::Expired);
        }
        Ok(row)
    }

    /// What link `token`'s page shows (reading it spends nothing: a mail
    /// scanner that opens the link does not use it up).
    pub async fn connect_link(&self, token: &str) -> Result<LinkInvitation, LinkProblem> {
        let row = self.usable_link(token).await?;
        Ok(LinkInvitation {
            display_name: row.end_user_name,
            reauthenticates: row.integration_id.is_some(),
            scopes: self.atlassian().settings().scopes.clone(),
        })
    }

    /// Spends link `token` and starts its OAuth flow, bound to the browser
    /// that gets the cookie.
    #[tracing::instrument(skip_all)]
    pub async fn start_connect_link(&self, token: &str) -> Result<StartedFlow, LinkProblem> {
        let row = self.usable_link(token).await?;
        let now = self.now();
        let state = format!("{LINK_STATE_PREFIX}{}", random_text());
        let cookie = random_text();
        let (authorize_url, verifier) = self.atlassian().authorize_url(&state);
        let opened = self
            .db()
            .open_connect_session(
                row.id,
                &NewOAuthState {
                    state: &state,
                    browser_binding: &binding_of(&cookie),
                    pkce_verifier: &verifier,
                    integration_id: row.integration_id,
                    connect_session_id: Some(row.id),
                    expires_at: now + STATE_LIFETIME_SECS,
                },
                now,
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "could not start a connect link's flow");
                LinkProblem::Unavailable
            })?;
        if !opened {
            // Another request spent it (or it expired) in between.
            return Err(LinkProblem::Used);
        }
        Ok(StartedFlow {
            authorize_url,
            browser_cookie: cookie,
        })
    }

    /// Finishes a link's flow from the callback: the state is checked and
    /// spent first, then the consent is stored for the link's end user with
    /// its tags, and what became of it is recorded on the link.
    #[tracing::instrument(skip_all)]
    pub async fn finish_link_connect(
        &self,
        params: &CallbackParams,
        cookie: Option<&str>,
    ) -> Result<LinkFinish, StateProblem> {
        let stored = self.spend_state(params.state.as_deref(), cookie).await?;
        let session_id = stored.connect_session_id.ok_or(StateProblem::Unknown)?;
        let unknown = |e: crate::DatabaseError| {
            tracing::error!(error = %e, "could not read a connect link");
            StateProblem::Unknown
        };
        let link = self
            .db()
            .connect_session(session_id)
            .await
            .map_err(unknown)?
            .ok_or(StateProblem::Unknown)?;
        // The key that made the link: its tags confine where the consent
        // may land; revoked (or gone) since, the flow stores nothing.
        let (confined_to, withdrawn) = match link.api_key_id {
            Some(key) => {
                let live = self.db().api_key_is_live(key).await.map_err(unknown)?;
                match self.db().api_key_tags(key).await.map_err(unknown)? {
                    Some(tags) => (tags, !live),
                    None => (Tags::default(), true),
                }
            }
            None => (Tags::default(), false),
        };
        // A webhook's reconnectUrl for an integration made on the dashboard
        // has no end user: it repairs the integration and gives it none.
        let end_user = link.end_user_id.clone().map(|id| EndUser {
            id,
            display_name: link.end_user_name.clone(),
        });
        let who = link.end_user_id.clone().unwrap_or_default();
        let actor = Actor::EndUser(who.clone());
        let grant = LinkGrant {
            owner: LinkOwner {
                end_user_id: &who,
                confined_to: &confined_to,
            },
            end_user: end_user.as_ref(),
            tags: &Tags::from_json(&link.tags),
        };
        let result = match withdrawn {
            true => Err(ConnectError::failed(domain::ConnectFailure::LinkWithdrawn)),
            false => {
                self.finish_trusted(params, stored, &actor, Some(&grant))
                    .await
            }
        };
        let outcome = LinkOutcome::of(&result);
        let integration = result.as_ref().ok().map(|c| c.id());
        let message = match &result {
            Ok(c) => format!(
                "Connect link for end user \"{who}\": {} integration {}",
                outcome.as_str(),
                c.id()
            ),
            Err(e) => format!(
                "Connect link for end user \"{who}\": {} ({e})",
                outcome.as_str()
            ),
        };
        if let Err(e) = self
            .db()
            .finish_connect_session(
                session_id,
                outcome.as_str(),
                integration,
                &NewAccountEvent {
                    actor: &actor.stored(),
                    action: "use_connect_link",
                    subject: &who,
                    message: &message,
                },
                self.now(),
            )
            .await
        {
            tracing::error!(error = %e, "could not record a connect link's outcome");
        }
        Ok(LinkFinish {
            session_id,
            result,
            outcome,
            return_url: link.return_url.as_deref().and_then(|u| Url::parse(u).ok()),
        })
    }

    /// The links made for integration `id` (newest first, at most `limit`).
    pub async fn connect_links_of(
        &self,
        id: IntegrationId,
        limit: i64,
    ) -> Result<Vec<ConnectSessionRow>, EngineError> {
        self.db()
            .connect_sessions_of(id, limit)
            .await
            .map_err(storage("list the integration's connect links"))
    }
}

/// Who a link's consent is stored for.
pub(crate) struct LinkGrant<'a> {
    pub owner: LinkOwner<'a>,
    /// `None`: a reconnect link for an integration made on the dashboard.
    pub end_user: Option<&'a EndUser>,
    /// The tags the link gives the integration (the key's among them).
    pub tags: &'a Tags,
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    #[test]
    fn tokens_are_256_random_bits_and_only_ours_are_looked_up() {
        let a = new_token();
        assert!(plausible(&a), "{a}");
        assert_ne!(a, new_token());
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).expect("base64").len(), 32);
        assert!(!plausible("short"));
        assert!(!plausible(&format!("{}=", &a[..42])));
        assert!(!plausible(&"x".repeat(44)));
    }

    #[test]
    fn outcomes_name_what_returnurl_hears() {
        let id = IntegrationId(3);
        assert_eq!(
            LinkOutcome::of(&Ok(Connected::New(id))),
            LinkOutcome::Connected
        );
        assert_eq!(
            LinkOutcome::of(&Ok(Connected::Reconnected(id))),
            LinkOutcome::Connected
        );
        assert_eq!(
            LinkOutcome::of(&Ok(Connected::Reauthenticated(id))),
            LinkOutcome::Reauthenticated
        );
        assert_eq!(
            LinkOutcome::of(&Err(ConnectError::Declined)),
            LinkOutcome::Declined
        );
        assert_eq!(LinkOutcome::Failed.as_str(), "failed");
    }

    #[test]
    fn link_states_are_told_by_their_prefix() {
        assert!(is_link_state("link.abc"));
        assert!(!is_link_state("abc"));
    }
}
