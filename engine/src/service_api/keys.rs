//! API keys: `jdk_` and 43 characters of base64url (32 random bytes). Only the
//! key's SHA-256 is stored (32 random bytes need no slow hash: there is nothing
//! to guess); its first 12 characters are kept to tell keys apart in lists.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

use domain::api_scope::{MAX_JIRA_POINTS_PER_HOUR, MAX_JIRA_WEIGHT};
use domain::{Actor, ApiScope, Tags};

use crate::db::{ApiKeyRow, NewAccountEvent, NewApiKey};
use crate::engine_handle::storage;
use crate::jira_limits::Share;
use crate::{Engine, EngineError};

/// What every key starts with (so secret scanners can spot a leaked one).
pub(crate) const KEY_PREFIX: &str = "jdk_";
/// How many of the key's first characters lists show.
const SHOWN_PREFIX_CHARS: usize = 12;
/// The longest key name accepted.
pub(crate) const MAX_KEY_NAME_CHARS: usize = 80;

/// A live key, as a request presents it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<ApiScope>,
    /// The tags it is confined to: it sees and acts on only the integrations
    /// carrying all of them (none: the whole fleet).
    pub tags: Tags,
    /// Its share of Jira's quota (weight and hourly points budget).
    pub jira_share: Share,
}

impl ApiKey {
    /// Whether the key holds `scope`.
    pub fn may(&self, scope: ApiScope) -> bool {
        self.scopes.contains(&scope)
    }

    /// The actor the event log names for this key.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey {
            id: self.id,
            name: self.name.clone(),
        }
    }
}

/// A key just created: the only time the key itself exists outside its holder.
pub struct CreatedKey {
    pub row: ApiKeyRow,
    /// The key, to show once. (Not `Debug`: it must not reach a log.)
    pub key: String,
}

/// Why a key could not be created or revoked; the text is for the admin.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("Give the key a name (at most {MAX_KEY_NAME_CHARS} characters), e.g. the service that will use it.")]
    BadName,
    #[error("Choose at least one scope.")]
    NoScope,
    /// The tags it would be confined to break a rule (the sentence says which).
    #[error("{0}")]
    BadTags(String),
    #[error("A key confined to tags cannot read the metrics: they count the whole fleet.")]
    ConfinedMetrics,
    #[error("A key's Jira weight is a whole number from 1 to {MAX_JIRA_WEIGHT}, and its hourly points budget a whole number from 1 to {MAX_JIRA_POINTS_PER_HOUR} (or empty for none).")]
    BadShare,
    #[error("No live API key has id {0}: it was revoked already, or never existed.")]
    NotFound(i64),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The stored hash of `key`.
fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Engine {
    /// Creates a key named `name` with `scopes`, by `by` (an admin).
    pub async fn create_api_key(
        &self,
        name: &str,
        scopes: &[ApiScope],
        by: &Actor,
    ) -> Result<CreatedKey, ApiKeyError> {
        self.create_confined_api_key(name, scopes, &Tags::default(), by)
            .await
    }

    /// Creates a key confined to `tags` (none: the whole fleet): it sees,
    /// refreshes, proxies for and makes connect links for only the
    /// integrations carrying all of them.
    pub async fn create_confined_api_key(
        &self,
        name: &str,
        scopes: &[ApiScope],
        tags: &Tags,
        by: &Actor,
    ) -> Result<CreatedKey, ApiKeyError> {
        let tags = Tags::checked(tags.0.clone()).map_err(ApiKeyError::BadTags)?;
        if !tags.is_empty() && scopes.contains(&ApiScope::MetricsRead) {
            return Err(ApiKeyError::ConfinedMetrics);
        }
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_KEY_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(ApiKeyError::BadName);
        }
        if scopes.is_empty() {
            return Err(ApiKeyError::NoScope);
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let prefix: String = key.chars().take(SHOWN_PREFIX_CHARS).collect();
        let scopes = ApiScope::join(scopes);
        let actor = by.stored();
        let confined = match tags.is_empty() {
            true => String::new(),
            false => format!(", confined to {}", tags.written()),
        };
        let message =
            format!("Created API key \"{name}\" ({prefix}…) with scopes {scopes}{confined}");
        let tags_json = tags.to_json();
        let id = self
            .db()
            .insert_api_key(
                &NewApiKey {
                    name,
                    prefix: &prefix,
                    key_hash: &key_hash(&key),
                    scopes: &scopes,
                    tags: &tags_json,
                    created_by: &actor,
                },
                &NewAccountEvent {
                    actor: &actor,
                    action: "create_api_key",
                    subject: name,
                    message: &message,
                },
                self.now(),
            )
            .await
            .map_err(storage("store the API key"))?;
        let row = self
            .api_keys()
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or(EngineError::Storage("read the new API key back"))?;
        Ok(CreatedKey { row, key })
    }

    /// Every key, newest first (revoked ones too, marked).
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, EngineError> {
        self.db()
            .list_api_keys()
            .await
            .map_err(storage("list the API keys"))
    }

    /// Revokes key `id` at once: its next request is refused.
    pub async fn revoke_api_key(&self, id: i64, by: &Actor) -> Result<String, ApiKeyError> {
        self.db()
            .revoke_api_key(
                id,
                |name| (name.to_owned(), format!("Revoked API key \"{name}\"")),
                &by.stored(),
                self.now(),
            )
            .await
            .map_err(storage("revoke the API key"))?
            .ok_or(ApiKeyError::NotFound(id))
    }

    /// Sets key `id`'s share of Jira's quota: its `weight` among the keys
    /// calling while a pool paces, and the most points its calls may spend
    /// in any hour (`None`: no cap). Logged in the account log.
    pub async fn set_api_key_jira_share(
        &self,
        id: i64,
        weight: u32,
        points_per_hour: Option<u64>,
        by: &Actor,
    ) -> Result<String, ApiKeyError> {
        if !(1..=MAX_JIRA_WEIGHT).contains(&weight)
            || points_per_hour.is_some_and(|p| !(1..=MAX_JIRA_POINTS_PER_HOUR).contains(&p))
        {
            return Err(ApiKeyError::BadShare);
        }
        let budget = match points_per_hour {
            Some(points) => format!("at most {points} points an hour"),
            None => "no hourly budget".to_owned(),
        };
        let stored = (
            i64::from(weight),
            points_per_hour.and_then(|p| i64::try_from(p).ok()),
        );
        self.db()
            .set_api_key_jira_share(
                id,
                stored,
                |name| {
                    (
                        name.to_owned(),
                        format!("Set API key \"{name}\"'s Jira share: weight {weight}, {budget}"),
                    )
                },
                &by.stored(),
                self.now(),
            )
            .await
            .map_err(storage("set the API key's Jira share"))?
            .ok_or(ApiKeyError::NotFound(id))
    }

    /// The live key `presented` is, if any. Anything that is not a key of
    /// ours (wrong form, unknown, revoked) is `None`.
    pub async fn authenticate_api_key(
        &self,
        presented: &str,
    ) -> Result<Option<ApiKey>, EngineError> {
        if !presented.starts_with(KEY_PREFIX) || presented.len() > 128 {
            return Ok(None);
        }
        let row = self
            .db()
            .find_live_api_key(&key_hash(presented))
            .await
            .map_err(storage("check the API key"))?;
        Ok(row.map(|row| ApiKey {
            jira_share: Share::of(&row),
            scopes: row.scope_list(),
            tags: row.confined_to(),
            id: row.id,
            name: row.name,
        }))
    }
}
