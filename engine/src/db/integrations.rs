//! Queries on `integrations` and `integration_sites`.

use sqlx::FromRow;

use domain::{EndUser, Integration, IntegrationId, Notice, Site, StatusRule, Tags, UnixTime};

use super::announce::{self, Announce};
use super::assembled::Sql;
use super::events::{insert_event, NewEvent};
use super::integration_rows::{
    find_integration_on, with_sites, IntegrationRow, SiteRow, SELECT_INTEGRATION,
};
use super::{query, Database, DatabaseError, Query, Tx};

/// The largest page of integrations served at once: the dashboard's
/// (`?size=500`) and the service API's listing alike.
pub(crate) const MAX_PAGE_SIZE: i64 = 500;

/// One page of the connected integrations in id order (the fleet listing of
/// `GET /v1/integrations` and `POST /api/list_integrations`): never the whole
/// fleet at once, which at a million rows would not fit in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationsPage {
    pub items: Vec<Integration>,
    /// The last id of this page when more follow: the next page starts after it.
    pub next_after: Option<IntegrationId>,
    /// Every connected integration (the triggers' `fleet_counts`, not a count of rows).
    pub total: i64,
}

/// Which integrations a listing holds: one end user's (if named), carrying
/// all these tags (`GET /v1/integrations?endUserId=..&tag=key:value`, and a
/// key's own confinement).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingFilter {
    pub end_user_id: Option<String>,
    /// Each `(key, value)` must be carried; a key named twice with two values
    /// matches nothing.
    pub tags: Vec<(String, String)>,
}

impl ListingFilter {
    fn is_empty(&self) -> bool {
        self.end_user_id.is_none() && self.tags.is_empty()
    }

    /// Appends its conditions (`AND ...`) to `sql`.
    fn push_conditions(&self, sql: &mut Sql) {
        if let Some(end_user) = &self.end_user_id {
            sql.push(" AND end_user_id = ").push_bind(end_user.clone());
        }
        for (key, value) in &self.tags {
            sql.push(" AND id IN (SELECT integration_id FROM integration_tags WHERE key = ")
                .push_bind(key.clone())
                .push(" AND value = ")
                .push_bind(value.clone())
                .push(")");
        }
    }
}

impl Database {
    /// One page of the connected integrations `filter` lets through, as
    /// [`Database::integrations_after`] does for the whole fleet; the total
    /// counts the ones it lets through. An end user's integrations are an
    /// index range (`integrations_end_user`), each tag an index lookup
    /// (`integration_tags_by_value`).
    pub(crate) async fn integrations_filtered_after(
        &self,
        after: Option<IntegrationId>,
        limit: i64,
        filter: &ListingFilter,
    ) -> Result<IntegrationsPage, DatabaseError> {
        if filter.is_empty() {
            return self.integrations_after(after, limit).await;
        }
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let after = after.map_or(0, IntegrationId::get);
        let mut tx = self.begin_snapshot().await?;
        let mut count = Sql::new("SELECT COUNT(*) FROM integrations WHERE disconnected_at IS NULL");
        filter.push_conditions(&mut count);
        let total = count.build().scalar::<i64>(&mut tx).await?;
        let mut select = Sql::new(SELECT_INTEGRATION);
        select
            .push(" WHERE disconnected_at IS NULL AND id > ")
            .push_bind(after);
        filter.push_conditions(&mut select);
        select
            .push(" ORDER BY id LIMIT ")
            .push_bind(limit.saturating_add(1));
        let mut rows: Vec<IntegrationRow> = select.build().fetch_all(&mut tx).await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let sites: Vec<SiteRow> = if rows.is_empty() {
            Vec::new()
        } else {
            let mut sites = Sql::new(
                "SELECT integration_id, cloud_id, name, url FROM integration_sites
                 WHERE integration_id IN (",
            );
            sites.push_list(rows.iter().map(|r| r.id)).push_dialect(
                ") ORDER BY name, cloud_id",
                ") ORDER BY name, cloud_id COLLATE \"C\"",
            );
            sites.build().fetch_all(&mut tx).await?
        };
        tx.commit().await?;
        let next_after = rows.last().filter(|_| more).map(|r| r.id);
        Ok(IntegrationsPage {
            items: with_sites(rows, sites),
            next_after,
            total,
        })
    }

    /// Up to `limit` connected integrations (clamped to 1..=[`MAX_PAGE_SIZE`],
    /// the dashboard's bound) with ids
    /// above `after` (from the first without it), oldest first, with their
    /// sites; the rows, their sites and the total are read from one snapshot.
    /// A keyset, not an offset: a deep page costs what the first one does, and
    /// a connection or a disconnect between two pages neither repeats nor
    /// skips anyone else.
    pub(crate) async fn integrations_after(
        &self,
        after: Option<IntegrationId>,
        limit: i64,
    ) -> Result<IntegrationsPage, DatabaseError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let after = after.map_or(0, IntegrationId::get);
        let mut tx = self.begin_snapshot().await?;
        let (active, inactive) = Self::connected_counts(&mut tx).await?;
        // A walk of the primary key from `after` that stops after the page,
        // however deep it is; one row more than the page tells whether
        // another page follows.
        let mut rows: Vec<IntegrationRow> = query(format!(
            "{SELECT_INTEGRATION} WHERE disconnected_at IS NULL AND id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(limit.saturating_add(1))
        .fetch_all(&mut tx)
        .await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        // The sites of the same page (the same walk, without the extra row).
        let sites: Vec<SiteRow> = if rows.is_empty() {
            Vec::new()
        } else {
            Query::dialect(
                "SELECT integration_id, cloud_id, name, url FROM integration_sites
                 WHERE integration_id IN (SELECT id FROM integrations
                     WHERE disconnected_at IS NULL AND id > $1 ORDER BY id LIMIT $2)
                 ORDER BY name, cloud_id",
                "SELECT integration_id, cloud_id, name, url FROM integration_sites
                 WHERE integration_id IN (SELECT id FROM integrations
                     WHERE disconnected_at IS NULL AND id > $1 ORDER BY id LIMIT $2)
                 ORDER BY name, cloud_id COLLATE \"C\"",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(&mut tx)
            .await?
        };
        tx.commit().await?;
        let next_after = rows.last().filter(|_| more).map(|r| r.id);
        Ok(IntegrationsPage {
            items: with_sites(rows, sites),
            next_after,
            total: active + inactive,
        })
    }
}

/// The columns a consent writes, tokens already sealed by the vault.
pub struct ConnectionColumns<'a> {
    pub account_id: &'a str,
    pub account_name: &'a str,
    pub account_email: Option<&'a str>,
    pub scopes: &'a [String],
    pub access_token: Vec<u8>,
    pub refresh_token: Option<Vec<u8>>,
    pub expires_in: i64,
    pub sites: &'a [Site],
}

/// How an integration stood before a new consent landed on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub(crate) struct PriorState {
    pub disconnected: bool,
    pub active: bool,
    pub failing: bool,
}

/// What the rows say about where a consent may land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GrantLookup {
    /// The integration that already holds this Atlassian account, if any.
    pub by_account: Option<IntegrationId>,
    /// Who that integration belongs to: its end user (`None`: made on the
    /// dashboard) and its tags.
    pub account_owner: Option<(Option<String>, Tags)>,
    /// That integration was disconnected (anyone's consent may take it over).
    pub account_disconnected: bool,
    /// The account of the integration being re-authenticated: `None` when the
    /// flow re-authenticates nothing, `Some(None)` when that integration is gone.
    pub reauth_account: Option<Option<String>>,
    /// The integration being re-authenticated was disconnected.
    pub reauth_disconnected: bool,
}

/// One consent being stored: a write transaction taken up front
/// ([`Database::begin_immediate`]: `BEGIN IMMEDIATE`, or PostgreSQL's write
/// lock), so a concurrent writer makes it wait instead of failing
/// with "database is locked" after the provider's code was spent. Dropped
/// without [`ConnectionWrite::commit`], it rolls back.
pub struct ConnectionWrite {
    tx: Tx,
}

impl Database {
    /// Starts storing a consent.
    pub async fn begin_connection(&self) -> Result<ConnectionWrite, DatabaseError> {
        Ok(ConnectionWrite {
            tx: self.begin_immediate().await?,
        })
    }
}

impl ConnectionWrite {
    /// Which integration holds `account_id`, and the account of `reauth_of`.
    pub(crate) async fn lookup(
        &mut self,
        account_id: &str,
        reauth_of: Option<IntegrationId>,
    ) -> Result<GrantLookup, DatabaseError> {
        let holder: Option<(IntegrationId, Option<String>, String, Option<UnixTime>)> = query(
            "SELECT id, end_user_id, tags, disconnected_at FROM integrations WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&mut self.tx)
        .await?;
        let by_account = holder.as_ref().map(|h| h.0);
        let account_disconnected = holder.as_ref().is_some_and(|h| h.3.is_some());
        let account_owner = holder.map(|(_, end_user, tags, _)| (end_user, Tags::from_json(&tags)));
        let (reauth_account, reauth_disconnected) = match reauth_of {
            None => (None, false),
            Some(id) => {
                let row: Option<(String, Option<UnixTime>)> =
                    query("SELECT account_id, disconnected_at FROM integrations WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut self.tx)
                        .await?;
                let disconnected = row.as_ref().is_some_and(|r| r.1.is_some());
                (Some(row.map(|r| r.0)), disconnected)
            }
        };
        Ok(GrantLookup {
            by_account,
            account_owner,
            account_disconnected,
            reauth_disconnected,
            reauth_account,
        })
    }

    /// A new, empty integration row for `account_id`; its id.
    pub async fn create(
        &mut self,
        account_id: &str,
        account_name: &str,
        now: UnixTime,
    ) -> Result<IntegrationId, DatabaseError> {
        Ok(query(
            "INSERT INTO integrations (account_id, account_name, scopes, expires_at,
                access_token_lifetime, consented_at, created_at, updated_at)
             VALUES ($1, $2, '', 0, 0, $3, $3, $3) RETURNING id",
        )
        .bind(account_id)
        .bind(account_name)
        .bind(now)
        .scalar(&mut self.tx)
        .await?)
    }

    /// Writes the consent onto row `id`: fresh tokens, active again, its sites
    /// replaced; failures and events kept.
    pub async fn store(
        &mut self,
        id: IntegrationId,
        c: &ConnectionColumns<'_>,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        query(
            "UPDATE integrations SET account_id = $1, account_name = $2, account_email = $3,
                scopes = $4, access_token = $5, refresh_token = $6, expires_at = $7,
                access_token_lifetime = $8,
                is_active = 1, last_error = NULL, transient_failures = 0, retry_after = NULL,
                refresh_sent_at = NULL, lease_fence = lease_fence + 1, lease_owner = NULL,
                lease_expires_at = NULL,
                refresh_token_issued_at = $9, consented_at = $10, disconnected_at = NULL,
                updated_at = $11,
                failing_since = NULL, failing_announced = 0, consent_warned_days = NULL
             WHERE id = $12",
        )
        .bind(c.account_id)
        .bind(c.account_name)
        .bind(c.account_email)
        .bind(c.scopes.join(" "))
        .bind(&c.access_token)
        .bind(&c.refresh_token)
        .bind(now + c.expires_in)
        .bind(c.expires_in)
        .bind(c.refresh_token.as_ref().map(|_| now))
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut self.tx)
        .await?;
        let sites = c.sites.iter().map(|site| {
            query(
                "INSERT INTO integration_sites (integration_id, cloud_id, name, url)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(&site.cloud_id)
            .bind(&site.name)
            .bind(&site.url)
        });
        self.replace(
            query("DELETE FROM integration_sites WHERE integration_id = $1").bind(id),
            sites,
        )
        .await
    }

    /// Runs `delete`, then each of `inserts`: a row's children (its sites,
    /// its tags) replaced by a new set.
    async fn replace(
        &mut self,
        delete: Query,
        inserts: impl Iterator<Item = Query>,
    ) -> Result<(), DatabaseError> {
        delete.execute(&mut self.tx).await?;
        for insert in inserts {
            insert.execute(&mut self.tx).await?;
        }
        Ok(())
    }

    /// Row `id` belongs to `end_user` (its display name kept when this one
    /// gives none) and carries `tags` besides the ones it has: tags are
    /// added, never changed (a key it has keeps its value), up to
    /// [`domain::end_user::MAX_TAGS`]; with `fresh` (a disconnected row taken
    /// over), only `tags`. Written in its column and one row each in
    /// `integration_tags` (what the filters look up).
    pub(crate) async fn set_owner(
        &mut self,
        id: IntegrationId,
        end_user: &EndUser,
        tags: &Tags,
        fresh: bool,
    ) -> Result<(), DatabaseError> {
        let had: Option<String> = query("SELECT tags FROM integrations WHERE id = $1")
            .bind(id)
            .scalar_optional(&mut self.tx)
            .await?;
        let mut kept = match fresh {
            true => Tags::default(),
            false => Tags::from_json(had.as_deref().unwrap_or("{}")),
        };
        for (key, value) in &tags.0 {
            if kept.0.len() >= domain::end_user::MAX_TAGS {
                break;
            }
            kept.0.entry(key.clone()).or_insert_with(|| value.clone());
        }
        let tags = kept;
        query(
            "UPDATE integrations SET end_user_id = $1,
                end_user_name = CASE WHEN $2 = 1 THEN $3 ELSE coalesce($3, end_user_name) END,
                tags = $4
             WHERE id = $5",
        )
        .bind(&end_user.id)
        .bind(fresh)
        .bind(end_user.display_name.as_deref())
        .bind(tags.to_json())
        .bind(id)
        .execute(&mut self.tx)
        .await?;
        let rows = tags.0.iter().map(|(key, value)| {
            query("INSERT INTO integration_tags (integration_id, key, value) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(key)
                .bind(value)
        });
        self.replace(
            query("DELETE FROM integration_tags WHERE integration_id = $1").bind(id),
            rows,
        )
        .await
    }

    /// Row `id` belongs to no end user and carries no tags.
    pub(crate) async fn clear_owner(&mut self, id: IntegrationId) -> Result<(), DatabaseError> {
        query(
            "UPDATE integrations SET end_user_id = NULL, end_user_name = NULL, tags = '{}'
             WHERE id = $1",
        )
        .bind(id)
        .execute(&mut self.tx)
        .await?;
        self.replace(
            query("DELETE FROM integration_tags WHERE integration_id = $1").bind(id),
            std::iter::empty(),
        )
        .await
    }

    /// How row `id` stood before this consent: (disconnected, active,
    /// failing). `None` for a row this write created.
    pub(crate) async fn prior_state(
        &mut self,
        id: IntegrationId,
    ) -> Result<Option<PriorState>, DatabaseError> {
        Ok(query(
            "SELECT disconnected_at IS NOT NULL AS disconnected, is_active = 1 AS active,
                transient_failures > 0 OR failing_since IS NOT NULL AS failing
             FROM integrations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut self.tx)
        .await?)
    }

    /// Enqueues the webhook message of this consent, in the same transaction.
    pub(crate) async fn announce(
        &mut self,
        id: IntegrationId,
        notice: &Notice,
        rule: StatusRule,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        let announce = Announce {
            notice: notice.clone(),
            rule,
            when: announce::AnnounceIf::Always,
        };
        announce::enqueue(&mut self.tx, id, &announce, now).await?;
        Ok(())
    }

    /// Logs `event` in the same transaction.
    pub(crate) async fn record_event(
        &mut self,
        event: &NewEvent<'_>,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        insert_event(&mut self.tx, event, now).await
    }

    /// Makes the consent durable.
    pub async fn commit(self) -> Result<(), DatabaseError> {
        Ok(self.tx.commit().await?)
    }
}

impl Database {
    /// One integration (connected or not), with its sites.
    pub async fn find_integration(
        &self,
        id: IntegrationId,
    ) -> Result<Option<Integration>, DatabaseError> {
        find_integration_on(self.into(), id).await
    }

    /// The encrypted tokens of an integration: (access, refresh), for the vault.
    pub async fn encrypted_tokens(
        &self,
        id: IntegrationId,
    ) -> Result<Option<(Option<Vec<u8>>, Option<Vec<u8>>)>, DatabaseError> {
        Ok(
            query("SELECT access_token, refresh_token FROM integrations WHERE id = $1")
                .bind(id)
                .fetch_optional(self)
                .await?,
        )
    }

    /// Wipes the tokens of an integration and hides it from the dashboard; its
    /// events stay. False if there was no such connected integration.
    pub(crate) async fn disconnect(
        &self,
        id: IntegrationId,
        event: &NewEvent<'_>,
        announce: &Announce,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let update = query(
            "UPDATE integrations SET access_token = NULL, refresh_token = NULL, is_active = 0,
                disconnected_at = $1, updated_at = $1 WHERE id = $2 AND disconnected_at IS NULL",
        )
        .bind(now)
        .bind(id);
        let done = self
            .update_and_log(update, event, now, Some(announce))
            .await?;
        if done {
            // Its unused connect links die with it: a disconnect is not
            // undone by a link made before it.
            query(
                "UPDATE connect_sessions SET expires_at = $1
                 WHERE integration_id = $2 AND opened_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .bind(id)
            .execute(self)
            .await?;
        }
        Ok(done)
    }
}
