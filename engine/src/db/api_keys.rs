//! Queries on `api_keys`: the service API's keys (only their SHA-256), and
//! what each did (counters and last use, written in batches).

use sqlx::FromRow;

use domain::{ApiScope, IntegrationId, UnixTime};

use super::events::{insert_event, NewEvent};
use super::users::{log_account_event, NewAccountEvent};
use super::{query, Database, DatabaseError, Query};

/// A stored key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_at: UnixTime,
    pub created_by: String,
    pub last_used_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
    pub token_handouts: i64,
    pub proxied_calls: i64,
    /// The tags it is confined to, as stored (a JSON object; `{}`: none).
    pub tags: String,
    /// Its weight among the keys calling Jira while a pool paces.
    pub jira_weight: i64,
    /// The most Jira points its calls may spend in any hour.
    pub jira_points_per_hour: Option<i64>,
}

impl ApiKeyRow {
    /// The tags it is confined to.
    pub fn confined_to(&self) -> domain::Tags {
        domain::Tags::from_json(&self.tags)
    }

    /// The scopes it holds (a stored name no release knows is left out).
    pub fn scope_list(&self) -> Vec<ApiScope> {
        self.scopes
            .split_whitespace()
            .filter_map(ApiScope::parse)
            .collect()
    }
}

/// A new key.
pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a [u8],
    pub scopes: &'a str,
    /// A JSON object of strings: the tags it is confined to.
    pub tags: &'a str,
    pub created_by: &'a str,
}

/// What one key did since the last batch, and the events to log for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyUsage {
    pub token_handouts: i64,
    pub proxied_calls: i64,
    pub last_used_at: UnixTime,
    /// Hand-outs to log: (integration, message, actor), at `last_used_at`.
    pub events: Vec<(IntegrationId, String, String)>,
}

const SELECT_KEY: &str = "SELECT id, name, prefix, scopes, created_at, created_by, last_used_at,
    revoked_at, token_handouts, proxied_calls, tags, jira_weight, jira_points_per_hour
    FROM api_keys";

impl Database {
    /// Stores a new key and its account-log entry; answers its id.
    pub async fn insert_api_key(
        &self,
        key: &NewApiKey<'_>,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<i64, DatabaseError> {
        let mut tx = self.begin().await?;
        let id = query(
            "INSERT INTO api_keys (name, prefix, key_hash, scopes, tags, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(key.name)
        .bind(key.prefix)
        .bind(key.key_hash)
        .bind(key.scopes)
        .bind(key.tags)
        .bind(now)
        .bind(key.created_by)
        .scalar::<i64>(&mut tx)
        .await?;
        log_account_event(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every key, newest first, revoked ones included.
    pub(crate) async fn list_api_keys(&self) -> Result<Vec<ApiKeyRow>, DatabaseError> {
        Ok(query(format!("{SELECT_KEY} ORDER BY id DESC"))
            .fetch_all::<ApiKeyRow>(self)
            .await?)
    }

    /// Whether key `id` exists and is not revoked.
    pub(crate) async fn api_key_is_live(&self, id: i64) -> Result<bool, DatabaseError> {
        let live: Option<i64> =
            query("SELECT id FROM api_keys WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .scalar_optional(self)
                .await?;
        Ok(live.is_some())
    }

    /// The tags key `id` is confined to (`None`: no such key).
    pub(crate) async fn api_key_tags(
        &self,
        id: i64,
    ) -> Result<Option<domain::Tags>, DatabaseError> {
        let tags: Option<String> = query("SELECT tags FROM api_keys WHERE id = $1")
            .bind(id)
            .scalar_optional(self)
            .await?;
        Ok(tags.map(|t| domain::Tags::from_json(&t)))
    }

    /// The live (not revoked) key whose SHA-256 is `hash`.
    pub(crate) async fn find_live_api_key(
        &self,
        hash: &[u8],
    ) -> Result<Option<ApiKeyRow>, DatabaseError> {
        Ok(query(format!(
            "{SELECT_KEY} WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(hash)
        .fetch_optional::<ApiKeyRow>(self)
        .await?)
    }

    /// Sets live key `id`'s share of Jira's quota (weight, hourly points)
    /// and logs `event` (built from the key's name); answers the name, or
    /// `None` if no live key has that id.
    pub(crate) async fn set_api_key_jira_share(
        &self,
        id: i64,
        share: (i64, Option<i64>),
        event: impl FnOnce(&str) -> (String, String),
        actor: &str,
        now: UnixTime,
    ) -> Result<Option<String>, DatabaseError> {
        let update = query(
            "UPDATE api_keys SET jira_weight = $1, jira_points_per_hour = $2
             WHERE id = $3 AND revoked_at IS NULL RETURNING name",
        )
        .bind(share.0)
        .bind(share.1)
        .bind(id);
        self.change_live_key(update, "set_api_key_jira_share", event, actor, now)
            .await
    }

    /// Revokes key `id` and logs `event` (built from the key's name); answers
    /// the name, or `None` if no live key has that id.
    pub(crate) async fn revoke_api_key(
        &self,
        id: i64,
        event: impl FnOnce(&str) -> (String, String),
        actor: &str,
        now: UnixTime,
    ) -> Result<Option<String>, DatabaseError> {
        let update = query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING name",
        )
        .bind(now)
        .bind(id);
        self.change_live_key(update, "revoke_api_key", event, actor, now)
            .await
    }

    /// Runs `update` (which answers the changed key's name) and logs
    /// `action` with `event` in the same transaction; `None` (and nothing
    /// logged) when it changed no key.
    async fn change_live_key(
        &self,
        update: Query,
        action: &str,
        event: impl FnOnce(&str) -> (String, String),
        actor: &str,
        now: UnixTime,
    ) -> Result<Option<String>, DatabaseError> {
        let mut tx = self.begin().await?;
        let Some(name) = update.scalar_optional::<String>(&mut tx).await? else {
            return Ok(None);
        };
        let (subject, message) = event(&name);
        log_account_event(
            &mut tx,
            &NewAccountEvent {
                actor,
                action,
                subject: &subject,
                message: &message,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(name))
    }

    /// Adds a batch of usage to the keys' counters and logs its hand-outs, in
    /// one transaction.
    pub(crate) async fn record_key_usage(
        &self,
        usage: &[(i64, KeyUsage)],
    ) -> Result<(), DatabaseError> {
        // In key order: PostgreSQL runs several processes' batches side by
        // side, and row locks taken in one order cannot deadlock. (The batch
        // comes from a map: its order meant nothing before.)
        let mut usage: Vec<&(i64, KeyUsage)> = usage.iter().collect();
        usage.sort_by_key(|(key_id, _)| *key_id);
        let mut tx = self.begin().await?;
        for (key_id, used) in usage {
            Query::dialect(
                "UPDATE api_keys SET token_handouts = token_handouts + $1,
                    proxied_calls = proxied_calls + $2,
                    last_used_at = MAX(COALESCE(last_used_at, 0), $3)
                 WHERE id = $4",
                "UPDATE api_keys SET token_handouts = token_handouts + $1,
                    proxied_calls = proxied_calls + $2,
                    last_used_at = GREATEST(COALESCE(last_used_at, 0), $3)
                 WHERE id = $4",
            )
            .bind(used.token_handouts)
            .bind(used.proxied_calls)
            .bind(used.last_used_at)
            .bind(*key_id)
            .execute(&mut tx)
            .await?;
            for (integration, message, actor) in &used.events {
                insert_event(
                    &mut tx,
                    &NewEvent {
                        integration_id: Some(*integration),
                        kind: domain::EventKind::TokenHandout,
                        outcome: domain::EventOutcome::Ok,
                        http_status: None,
                        error_code: None,
                        message,
                        actor: Some(actor),
                    },
                    used.last_used_at,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
