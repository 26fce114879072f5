//! A refresh's row and the texts of its two hot writes (the claim and the
//! rotation), shared by the statement-by-statement path
//! (`refresh_queries.rs`) and the group commit (`group_commit.rs`).

use sqlx::FromRow;

use domain::{IntegrationId, UnixTime};

use super::Query;

/// What a refresh needs of a row.
#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    pub id: IntegrationId,
    pub refresh_token: Option<Vec<u8>>,
    pub transient_failures: i64,
    /// When the stored refresh token was first sent without a known outcome.
    pub refresh_sent_at: Option<UnixTime>,
    /// The fencing counter of the lease this row was claimed with.
    pub lease_fence: i64,
    /// Inactive or in a failure streak: a success now is a recovery.
    pub troubled: bool,
}

/// The row a refresh writes to and what the write compares against: the
/// refresh token the claim read and sent (`None`: the row had none) and the
/// fence of the lease it was claimed with. A write matches only while both
/// still hold (compare-and-swap), so no rotation is lost or replayed and a
/// lease taken over cannot be written through.
#[derive(Debug, Clone, Copy)]
pub struct Fenced<'a> {
    pub id: IntegrationId,
    pub sent: Option<&'a [u8]>,
    pub fence: i64,
}

impl RefreshRow {
    /// What a write after this claim compares against.
    pub(crate) fn fenced(&self) -> Fenced<'_> {
        Fenced {
            id: self.id,
            sent: self.refresh_token.as_deref(),
            fence: self.lease_fence,
        }
    }
}

/// The new tokens of a successful refresh, encrypted.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub access_token: Vec<u8>,
    /// `None` keeps the stored refresh token (a provider that did not rotate).
    pub refresh_token: Option<Vec<u8>>,
    pub expires_in: i64,
}

/// Takes a row's lease and marks its refresh token as sent. Binds: owner,
/// until, now, id.
pub(super) const CLAIM_SQL: &str =
    "UPDATE integrations SET lease_owner = $1, lease_expires_at = $2,
        lease_fence = lease_fence + 1,
        refresh_sent_at = CASE WHEN refresh_token IS NULL THEN NULL
                               ELSE coalesce(refresh_sent_at, $3) END
     WHERE id = $4 AND disconnected_at IS NULL
       AND (lease_owner IS NULL OR lease_expires_at <= $3)
     RETURNING id, refresh_token, transient_failures, refresh_sent_at, lease_fence,
        is_active = 0 OR transient_failures > 0 OR failing_since IS NOT NULL AS troubled";

/// A rotation's write: new tokens, active, every failure forgotten. Compare-
/// and-swap on the refresh token sent and the lease's fence. Binds `$1` to
/// `$8`: see [`bind_rotation`].
pub(super) const ROTATION_UPDATE: &str =
    "UPDATE integrations SET access_token = $1, refresh_token = COALESCE($2, refresh_token),
        expires_at = $3, access_token_lifetime = $4, is_active = 1, last_refresh_at = $5,
        last_error = NULL, transient_failures = 0, retry_after = NULL,
        refresh_token_issued_at = CASE WHEN $2 IS NULL THEN refresh_token_issued_at ELSE $5 END,
        refresh_sent_at = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $5,
        failing_since = NULL, failing_announced = 0
     WHERE id = $6 AND refresh_token = $7 AND lease_fence = $8 AND disconnected_at IS NULL";

pub(super) fn bind_rotation(
    query: Query,
    at: Fenced<'_>,
    rotation: &Rotation,
    now: UnixTime,
) -> Query {
    query
        .bind(&rotation.access_token)
        .bind(&rotation.refresh_token)
        .bind(now + rotation.expires_in)
        .bind(rotation.expires_in)
        .bind(now)
        .bind(at.id)
        .bind(at.sent)
        .bind(at.fence)
}
