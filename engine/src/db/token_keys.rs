//! Queries for the token key: its check value, and re-sealing every stored
//! token with the newest key (`server --reseal-tokens`).

use domain::{IntegrationId, UnixTime};

use super::{query, Database, DatabaseError};
use crate::vault::{Column, TokenVault, VaultError};

/// Why the configured keys were refused, or a re-seal stopped.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("DATABASE_URL: cannot check the token key: {0}")]
    Database(#[from] DatabaseError),
}

impl From<sqlx::Error> for KeyCheckError {
    fn from(e: sqlx::Error) -> Self {
        KeyCheckError::Database(e.into())
    }
}

/// Integrations read per batch by [`Database::reseal_tokens`].
const RESEAL_BATCH: i64 = 1_000;

impl Database {
    /// Checks that `vault` holds this database's key, and records the newest
    /// key's check value. A database from before the check value existed is
    /// judged by one of its tokens: the vault must open it.
    pub async fn check_token_key(
        &self,
        vault: &TokenVault,
        now: UnixTime,
    ) -> Result<(), KeyCheckError> {
        // Immediate: read the check value, judge the key, then write it. Two
        // processes starting at once on a fresh database (PostgreSQL runs
        // them side by side) must not both find no check value and each
        // write its own key's. (Returning without `commit` rolls back.)
        let mut tx = self.begin_immediate().await?;
        let stored = query("SELECT check_value FROM token_key_check WHERE id = 1")
            .scalar_optional::<Vec<u8>>(&mut tx)
            .await?;
        match &stored {
            Some(check) if !vault.opens_check_value(check) => {
                return Err(VaultError::WrongKey.into())
            }
            Some(_) => {}
            None => {
                let sample = query(
                    "SELECT id, access_token FROM integrations WHERE access_token IS NOT NULL LIMIT 1",
                )
                .fetch_optional::<(IntegrationId, Vec<u8>)>(&mut tx)
                .await?;
                if let Some((id, blob)) = sample {
                    if vault.decrypt(id, Column::AccessToken, &blob).is_err() {
                        return Err(VaultError::WrongKey.into());
                    }
                }
            }
        }
        // Keep the check value the newest key's (after a rotation too).
        if stored.as_deref().is_none_or(|c| vault.needs_reseal(c)) {
            query(
                "INSERT INTO token_key_check (id, check_value, written_at) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE SET check_value = excluded.check_value,
                    written_at = excluded.written_at",
            )
            .bind(vault.check_value()?)
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Re-seals every stored token that is not sealed with the newest key in
    /// the current format ([`TokenVault::needs_reseal`]), a row at a time,
    /// each only if the row still holds what was read (a refresh running
    /// meanwhile wins). Answers how many rows were re-sealed.
    pub async fn reseal_tokens(&self, vault: &TokenVault) -> Result<u64, KeyCheckError> {
        type Row = (IntegrationId, Option<Vec<u8>>, Option<Vec<u8>>);
        let reseal = |id, column, blob: &Option<Vec<u8>>| -> Result<Option<Vec<u8>>, VaultError> {
            match blob {
                Some(b) if vault.needs_reseal(b) => {
                    let token = vault.decrypt(id, column, b)?;
                    Ok(Some(vault.encrypt(id, column, &token)?))
                }
                other => Ok(other.clone()),
            }
        };
        let mut done = 0;
        // A batch at a time, by id: a million rows never sit in memory at once.
        let mut after = IntegrationId(0);
        loop {
            let rows = query(
                // Rows with a refresh in flight or an unknown outcome are left to
                // their refresh (which re-seals them): rewriting their ciphertext
                // would make that refresh's compare-and-swap fail.
                "SELECT id, access_token, refresh_token FROM integrations
                 WHERE id > $1 AND (access_token IS NOT NULL OR refresh_token IS NOT NULL)
                   AND lease_owner IS NULL AND refresh_sent_at IS NULL
                 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(RESEAL_BATCH)
            .fetch_all::<Row>(self)
            .await?;
            let Some((last, _, _)) = rows.last() else {
                break;
            };
            after = *last;
            for (id, access, refresh) in rows {
                let new_access = reseal(id, Column::AccessToken, &access)?;
                let new_refresh = reseal(id, Column::RefreshToken, &refresh)?;
                if new_access == access && new_refresh == refresh {
                    continue;
                }
                let updated = query(
                    "UPDATE integrations SET access_token = $1, refresh_token = $2
                     WHERE id = $3 AND access_token IS NOT DISTINCT FROM $4
                       AND refresh_token IS NOT DISTINCT FROM $5
                       AND lease_owner IS NULL AND refresh_sent_at IS NULL",
                )
                .bind(&new_access)
                .bind(&new_refresh)
                .bind(id)
                .bind(&access)
                .bind(&refresh)
                .execute(self)
                .await?;
                done += updated;
            }
        }
        done += self.reseal_webhook_secrets(vault).await?;
        Ok(done)
    }

    /// Re-seals the webhook endpoints' signing secrets with the newest key
    /// (they live in the same vault as the tokens); how many were re-sealed.
    async fn reseal_webhook_secrets(&self, vault: &TokenVault) -> Result<u64, KeyCheckError> {
        let rows = query("SELECT id, secret FROM webhook_endpoints")
            .fetch_all::<(i64, Vec<u8>)>(self)
            .await?;
        let mut done = 0;
        for (id, blob) in rows {
            if !vault.needs_reseal(&blob) {
                continue;
            }
            let secret = vault.decrypt_webhook_secret(id, &blob)?;
            let sealed = vault.encrypt_webhook_secret(id, &secret)?;
            done += query("UPDATE webhook_endpoints SET secret = $1 WHERE id = $2 AND secret = $3")
                .bind(&sealed)
                .bind(id)
                .bind(&blob)
                .execute(self)
                .await?;
        }
        Ok(done)
    }
}
