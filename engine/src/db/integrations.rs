//! Queries on `integrations` and `integration_sites`.

use std::collections::HashMap;

use sqlx::FromRow;

use super::events::{insert_event, NewEvent};
use super::{Database, DatabaseError};
use crate::integration::{Integration, Site};
use crate::secret::Secret;
use crate::vault::{TokenVault, VaultError};

#[derive(FromRow)]
pub(super) struct IntegrationRow {
    pub(super) id: i64,
    account_id: String,
    account_name: String,
    account_email: Option<String>,
    scopes: String,
    has_refresh_token: bool,
    expires_at: i64,
    access_token_lifetime: i64,
    is_active: bool,
    refresh_failures: i64,
    last_refresh_at: Option<i64>,
    last_error: Option<String>,
    refresh_token_issued_at: Option<i64>,
    consented_at: i64,
    created_at: i64,
    disconnected_at: Option<i64>,
}

#[derive(FromRow)]
pub(super) struct SiteRow {
    pub(super) integration_id: i64,
    pub(super) cloud_id: String,
    pub(super) name: String,
    pub(super) url: String,
}

/// The columns of an [`Integration`]; callers may alias the table as `i`.
pub(super) const SELECT_INTEGRATION: &str =
    "SELECT id, account_id, account_name, account_email, scopes,
        refresh_token IS NOT NULL AS has_refresh_token, expires_at, access_token_lifetime,
        is_active, refresh_failures, last_refresh_at, last_error, refresh_token_issued_at,
        consented_at, created_at, disconnected_at
     FROM integrations";

impl Database {
    /// Every connected (not disconnected) integration with its sites, oldest first.
    pub async fn list_integrations(&self) -> Result<Vec<Integration>, DatabaseError> {
        let rows: Vec<IntegrationRow> = sqlx::query_as(&format!(
            "{SELECT_INTEGRATION} WHERE disconnected_at IS NULL ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await?;
        let sites: Vec<SiteRow> = sqlx::query_as(
            "SELECT s.integration_id, s.cloud_id, s.name, s.url
             FROM integration_sites s JOIN integrations i ON i.id = s.integration_id
             WHERE i.disconnected_at IS NULL ORDER BY s.name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(with_sites(rows, sites))
    }
}

/// The sites of each integration, by integration id, in the rows' order.
fn group_sites(rows: Vec<SiteRow>) -> HashMap<i64, Vec<Site>> {
    let mut by_integration: HashMap<i64, Vec<Site>> = HashMap::new();
    for s in rows {
        by_integration
            .entry(s.integration_id)
            .or_default()
            .push(Site {
                cloud_id: s.cloud_id,
                name: s.name,
                url: s.url,
            });
    }
    by_integration
}

/// Integrations from their rows and all their sites' rows.
pub(super) fn with_sites(rows: Vec<IntegrationRow>, sites: Vec<SiteRow>) -> Vec<Integration> {
    let mut sites = group_sites(sites);
    rows.into_iter()
        .map(|r| {
            let own = sites.remove(&r.id).unwrap_or_default();
            into_integration(r, own)
        })
        .collect()
}

fn into_integration(r: IntegrationRow, sites: Vec<Site>) -> Integration {
    Integration {
        id: r.id,
        account_id: r.account_id,
        account_name: r.account_name,
        account_email: r.account_email,
        scopes: r.scopes.split_whitespace().map(str::to_owned).collect(),
        has_refresh_token: r.has_refresh_token,
        expires_at: r.expires_at,
        access_token_lifetime: r.access_token_lifetime,
        is_active: r.is_active,
        refresh_failures: r.refresh_failures,
        last_refresh_at: r.last_refresh_at,
        last_error: r.last_error,
        refresh_token_issued_at: r.refresh_token_issued_at,
        consented_at: r.consented_at,
        created_at: r.created_at,
        disconnected_at: r.disconnected_at,
        sites,
    }
}

/// A successful consent, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// The integration being re-authenticated, if the flow started from one.
    pub reauth_of: Option<i64>,
    pub account_id: String,
    pub account_name: String,
    pub account_email: Option<String>,
    pub scopes: Vec<String>,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: i64,
    pub sites: Vec<Site>,
}

/// How a connection was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// A new integration.
    Created(i64),
    /// An existing integration (same account, or the one being re-authenticated).
    Updated(i64),
}

impl Saved {
    pub fn id(self) -> i64 {
        match self {
            Saved::Created(id) | Saved::Updated(id) => id,
        }
    }
}

/// Why a connection could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("integration {0} does not exist")]
    UnknownIntegration(i64),
    #[error("the account {account_name} is already connected as integration {other_id}")]
    AccountBelongsToAnother { account_name: String, other_id: i64 },
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        SaveError::Database(e.into())
    }
}

impl Database {
    /// Stores a consent: one integration per Atlassian account. Re-authenticating,
    /// or connecting an account that already has an integration, updates that row
    /// (same id, fresh tokens, active again; failures and events kept).
    pub async fn save_connection(
        &self,
        vault: &TokenVault,
        c: &NewConnection,
        now: i64,
    ) -> Result<Saved, SaveError> {
        let mut tx = self.pool().begin().await?;
        let by_account: Option<i64> =
            sqlx::query_scalar("SELECT id FROM integrations WHERE account_id = ?")
                .bind(&c.account_id)
                .fetch_optional(&mut *tx)
                .await?;
        let target = match (c.reauth_of, by_account) {
            (Some(id), Some(other)) if other != id => {
                return Err(SaveError::AccountBelongsToAnother {
                    account_name: c.account_name.clone(),
                    other_id: other,
                })
            }
            (Some(id), _) => {
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM integrations WHERE id = ?")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                Some(exists.ok_or(SaveError::UnknownIntegration(id))?)
            }
            (None, existing) => existing,
        };
        let saved = match target {
            Some(id) => Saved::Updated(id),
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO integrations (account_id, account_name, scopes, expires_at,
                        access_token_lifetime, consented_at, created_at, updated_at)
                     VALUES (?, ?, '', 0, 0, ?, ?, ?) RETURNING id",
                )
                .bind(&c.account_id)
                .bind(&c.account_name)
                .bind(now)
                .bind(now)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                Saved::Created(id)
            }
        };
        let id = saved.id();
        let access = vault.encrypt(id, &c.access_token)?;
        let refresh = c
            .refresh_token
            .as_ref()
            .map(|t| vault.encrypt(id, t))
            .transpose()?;
        sqlx::query(
            "UPDATE integrations SET account_id = ?, account_name = ?, account_email = ?, scopes = ?,
                access_token = ?, refresh_token = ?, expires_at = ?, access_token_lifetime = ?,
                is_active = 1, last_error = NULL, refresh_token_issued_at = ?, consented_at = ?,
                disconnected_at = NULL, updated_at = ?
             WHERE id = ?",
        )
        .bind(&c.account_id)
        .bind(&c.account_name)
        .bind(&c.account_email)
        .bind(c.scopes.join(" "))
        .bind(access)
        .bind(&refresh)
        .bind(now + c.expires_in)
        .bind(c.expires_in)
        .bind(refresh.as_ref().map(|_| now))
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM integration_sites WHERE integration_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for site in &c.sites {
            sqlx::query("INSERT INTO integration_sites (integration_id, cloud_id, name, url) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(&site.cloud_id)
                .bind(&site.name)
                .bind(&site.url)
                .execute(&mut *tx)
                .await?;
        }
        let (kind, message) = match (saved, c.reauth_of) {
            (Saved::Created(_), _) => (
                "connect",
                format!(
                    "Connected {} with {} site(s)",
                    c.account_name,
                    c.sites.len()
                ),
            ),
            (Saved::Updated(_), Some(_)) => {
                ("reauth", format!("Re-authenticated {}", c.account_name))
            }
            (Saved::Updated(_), None) => (
                "reauth",
                format!(
                    "Reconnected {} (existing integration updated)",
                    c.account_name
                ),
            ),
        };
        let offline = if c.refresh_token.is_some() {
            "with a refresh token"
        } else {
            "without a refresh token (offline_access not granted)"
        };
        insert_event(
            &mut *tx,
            &NewEvent {
                integration_id: Some(id),
                kind,
                outcome: "ok",
                http_status: None,
                error_code: None,
                message: &format!("{message}, {offline}"),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// One integration (connected or not), with its sites.
    pub async fn find_integration(&self, id: i64) -> Result<Option<Integration>, DatabaseError> {
        let row: Option<IntegrationRow> =
            sqlx::query_as(&format!("{SELECT_INTEGRATION} WHERE id = ?"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let sites: Vec<SiteRow> = sqlx::query_as(
            "SELECT integration_id, cloud_id, name, url FROM integration_sites WHERE integration_id = ? ORDER BY name",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        Ok(with_sites(vec![row], sites).pop())
    }

    /// The encrypted tokens of an integration: (access, refresh), for the vault.
    pub async fn encrypted_tokens(
        &self,
        id: i64,
    ) -> Result<Option<(Option<Vec<u8>>, Option<Vec<u8>>)>, DatabaseError> {
        Ok(
            sqlx::query_as("SELECT access_token, refresh_token FROM integrations WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Wipes the tokens of an integration and hides it from the dashboard; its
    /// events stay. False if there was no such connected integration.
    pub async fn disconnect(&self, id: i64, now: i64) -> Result<bool, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE integrations SET access_token = NULL, refresh_token = NULL, is_active = 0,
                disconnected_at = ?, updated_at = ? WHERE id = ? AND disconnected_at IS NULL",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_event(
            &mut *tx,
            &NewEvent {
                integration_id: Some(id),
                kind: "disconnect",
                outcome: "ok",
                http_status: None,
                error_code: None,
                message: "Disconnected by the user; tokens deleted",
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
