//! The accounts of the people who use the dashboard: the first administrator
//! (from a one-time setup link or `ADMIN_EMAIL` / `ADMIN_PASSWORD`), sign-in
//! with its throttle, and the administration of users. Every change is an
//! entry in the account log naming who made it. Passwords are hashed with
//! Argon2id (`password-auth`) on a blocking thread: the hash is slow on purpose.
//!
//! `rules.rs` holds the pure rules (email and password shape, the throttle);
//! `hashing.rs` the Argon2id work, never more than a few at once;
//! `known_device.rs` the proof a browser keeps that it signed in before.

pub mod hashing;
pub mod known_device;
pub mod rules;

use domain::{Actor, Role, UnixTime};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{AccountChange, AccountEvent, NewAccountEvent, UserRow};
use crate::{Engine, EngineError};

use hashing::Busy;
use rules::{
    attempt_verdict, check_new_password, normalized_email, throttled_for, AttemptHistory,
    MAX_FAILURES, WINDOW_SECS,
};

/// How long a setup link works after the server printed it.
pub(crate) const SETUP_LINK_LIFETIME_SECS: i64 = 3_600;

/// A person with an account, as the rest of the product sees them. (No
/// `Debug` of the hash: only [`User::session_key`] derives from it.)
#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub created_at: UnixTime,
    session_key: [u8; 32],
    /// Keys the proofs of known devices ([`known_device`]); changes with
    /// the password, like the session key.
    device_key: [u8; 32],
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl User {
    fn from_row(row: UserRow) -> Self {
        let session_key = Sha256::new()
            .chain_update(b"session:")
            .chain_update(row.password_hash.as_bytes())
            .finalize()
            .into();
        let device_key = Sha256::new()
            .chain_update(b"known-device:")
            .chain_update(row.password_hash.as_bytes())
            .finalize()
            .into();
        Self {
            id: row.id,
            email: row.email,
            role: row.role,
            created_at: row.created_at,
            session_key,
            device_key,
        }
    }

    /// Changes whenever the password does: a session remembers it at sign-in
    /// and ends when it no longer matches.
    pub fn session_key(&self) -> &[u8] {
        &self.session_key
    }

    /// This user as the event logs name them.
    pub fn actor(&self) -> Actor {
        Actor::User(self.email.clone())
    }
}

/// Why a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The same sentence for an unknown email and a wrong password.
    #[error("Wrong email or password.")]
    Invalid,
    #[error("Too many failed sign-ins: try again in {retry_after_secs} seconds, or from a browser you signed in with before (an administrator can also clear it).")]
    Throttled { retry_after_secs: i64 },
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Storage(#[from] EngineError),
}

/// Why an account change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Not an email address; the sentence says why.
    #[error("{0}")]
    InvalidEmail(String),
    /// Not an acceptable password; the sentence says why.
    #[error("{0}")]
    InvalidPassword(String),
    #[error("There is no such user.")]
    NotFound,
    #[error("An account with that email exists already.")]
    EmailTaken,
    #[error(
        "The dashboard must keep at least one administrator: make someone else an admin first."
    )]
    LastAdmin,
    #[error("The current password is wrong.")]
    WrongPassword,
    /// The setup link was used, replaced, expired, or never issued.
    #[error("This setup link is no longer valid: the first administrator exists already, or the link is older than an hour or than the server's last start. Restart the server to print a new one.")]
    SetupLinkInvalid,
    #[error("Too many wrong passwords: try again in {retry_after_secs} seconds.")]
    Throttled { retry_after_secs: i64 },
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error(transparent)]
    Storage(#[from] EngineError),
}

/// 256 random bits, hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn storage(what: &'static str) -> impl FnOnce(crate::DatabaseError) -> EngineError {
    crate::engine_handle::storage(what)
}

impl Engine {
    /// Whether anyone has an account yet.
    pub async fn has_accounts(&self) -> Result<bool, EngineError> {
        Ok(self
            .db()
            .count_users()
            .await
            .map_err(storage("count the accounts"))?
            > 0)
    }

    /// While no account exists: a new one-time setup token (the server prints
    /// the link); it replaces any earlier one. `None` once accounts exist.
    pub async fn issue_setup_token(&self) -> Result<Option<String>, EngineError> {
        if self.has_accounts().await? {
            return Ok(None);
        }
        let token = random_token();
        self.db()
            .store_setup_token(&token_hash(&token), self.now())
            .await
            .map_err(storage("store the setup token"))?;
        Ok(Some(token))
    }

    /// Whether `token` opens the setup page now.
    pub async fn setup_token_is_live(&self, token: &str) -> Result<bool, EngineError> {
        self.db()
            .setup_token_is_live(&token_hash(token), self.now() - SETUP_LINK_LIFETIME_SECS)
            .await
            .map_err(storage("check the setup token"))
    }

    /// Creates the first administrator from the setup link, spending it.
    pub async fn set_up_first_admin(
        &self,
        token: &str,
        email: &str,
        password: &str,
    ) -> Result<User, AccountError> {
        // Cheap checks first: no slow hash for a link that opens nothing.
        if !self.setup_token_is_live(token).await? {
            return Err(AccountError::SetupLinkInvalid);
        }
        let hash = token_hash(token);
        let issued_after = self.now() - SETUP_LINK_LIFETIME_SECS;
        self.first_admin(
            email,
            password,
            Some((&hash, issued_after)),
            "the setup link",
        )
        .await
    }

    /// `ADMIN_EMAIL` / `ADMIN_PASSWORD`: creates that administrator when no
    /// account exists yet. `None` when accounts exist (nothing changes).
    pub async fn ensure_admin_from_settings(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<User>, AccountError> {
        if self.has_accounts().await? {
            return Ok(None);
        }
        match self.first_admin(email, password, None, "ADMIN_EMAIL").await {
            Ok(user) => Ok(Some(user)),
            // Another process created it meanwhile.
            Err(AccountError::SetupLinkInvalid) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn first_admin(
        &self,
        email: &str,
        password: &str,
        setup_token_hash: Option<(&str, UnixTime)>,
        how: &str,
    ) -> Result<User, AccountError> {
        let email = normalized_email(email).map_err(AccountError::InvalidEmail)?;
        check_new_password(password).map_err(AccountError::InvalidPassword)?;
        let password_hash = hashing::hash(password).await?;
        let actor = Actor::User(email.clone()).stored();
        let message = format!("First administrator created from {how}");
        let event = NewAccountEvent {
            actor: &actor,
            action: "first_admin",
            subject: &email,
            message: &message,
        };
        let id = self
            .db()
            .insert_first_admin(&email, &password_hash, setup_token_hash, &event, self.now())
            .await
            .map_err(storage("create the first administrator"))?
            .ok_or(AccountError::SetupLinkInvalid)?;
        tracing::info!(user = id, "first administrator created from {how}");
        self.user(id).await?.ok_or(AccountError::NotFound)
    }

    /// The account with this id (sessions look their user up on every request).
    pub async fn user(&self, id: i64) -> Result<Option<User>, EngineError> {
        Ok(self
            .db()
            .user_by_id(id)
            .await
            .map_err(storage("read an account"))?
            .map(User::from_row))
    }

    /// Every account, by email.
    pub async fn users(&self) -> Result<Vec<User>, EngineError> {
        Ok(self
            .db()
            .users()
            .await
            .map_err(storage("read the accounts"))?
            .into_iter()
            .map(User::from_row)
            .collect())
    }

    /// Checks an email and password from `client` (its address, or for
    /// IPv6 its /64: whoever holds one address holds the network), with the
    /// throttle of [`rules::attempt_verdict`]: five failures for this email
    /// from this address, or twenty from this address for any emails, close
    /// the door for 15 minutes; an email failing from many addresses slows
    /// down, never for a browser that signed in to it before (`device`, its
    /// proof: [`known_device`]). An attempt counts as a failure from before
    /// the password is checked until it proves right, so parallel guesses
    /// cannot slip past the count.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &str,
        devices: &[String],
    ) -> Result<User, SignInError> {
        // An unusable email is still throttled (by its raw text) and still
        // answered with the same sentence. Subjects naming an email are
        // stored as digests: a stranger's megabyte of "email" costs 64 bytes.
        let email = normalized_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        let subjects = ThrottleSubjects::of(&email, client);
        let now = self.now();
        // A browser may send several proofs (another one planted first, a
        // stale one): any of the first few that this account made counts.
        let device_subject = if devices.is_empty() {
            None
        } else {
            self.db()
                .user_by_email(&email)
                .await
                .map_err(storage("read an account"))?
                .map(User::from_row)
                .and_then(|user| {
                    devices
                        .iter()
                        .take(MAX_DEVICE_PROOFS)
                        .find(|proof| user.knows_device(proof, now))
                })
                .map(|proof| format!("{}{}", subjects.device_prefix, digest(&[proof])))
        };
        let mut reserving = vec![
            subjects.pair.as_str(),
            subjects.address.as_str(),
            subjects.email.as_str(),
        ];
        reserving.extend(device_subject.as_deref());
        let reserved = self
            .db()
            .reserve_attempt(
                &reserving,
                now - WINDOW_SECS,
                now,
                |history| match history {
                    [pair, address, email, device @ ..] => attempt_verdict(
                        AttemptHistory {
                            pair,
                            address,
                            email,
                            known_device: device.first().map(Vec::as_slice),
                        },
                        now,
                    ),
                    _ => Some(1),
                },
            )
            .await
            .map_err(storage("reserve a sign-in attempt"))?;
        let reserved = match reserved {
            Ok(rows) => rows,
            Err(retry_after_secs) => {
                // Counted, not logged one by one: a stranger polling a shut
                // door would otherwise write the log full.
                metrics::counter!("jira_dashboard_sign_in_refusals_total").increment(1);
                tracing::debug!("sign-in throttled");
                return Err(SignInError::Throttled { retry_after_secs });
            }
        };
        let checked = self.check_password(&email, password).await;
        let row = match checked {
            Ok(row) => row,
            Err(e) => {
                // Not a wrong password (the server was too busy to check,
                // or the database failed): the attempt is taken back.
                self.db()
                    .release_attempt(&reserved, None)
                    .await
                    .map_err(storage("clear the sign-in throttle"))?;
                return Err(e);
            }
        };
        match row {
            Some(row) => {
                // The right password clears this address's failures for
                // this email (a typo or two), not the email's from elsewhere.
                self.db()
                    .release_attempt(&reserved, Some(&subjects.pair))
                    .await
                    .map_err(storage("clear the sign-in throttle"))?;
                tracing::info!(user = row.id, "signed in");
                Ok(User::from_row(row))
            }
            None => {
                tracing::info!("failed sign-in");
                Err(SignInError::Invalid)
            }
        }
    }

    /// The account `email` names if `password` is its password.
    async fn check_password(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<UserRow>, SignInError> {
        let row = self
            .db()
            .user_by_email(email)
            .await
            .map_err(storage("read an account"))?;
        let hash = row.as_ref().map(|r| r.password_hash.clone());
        Ok(match hashing::verify(password, hash).await? {
            true => row,
            false => None,
        })
    }

    /// [`clear_sign_in_throttle`] on this engine's database.
    pub async fn clear_sign_in_throttle(&self, email: &str) -> Result<u64, EngineError> {
        clear_sign_in_throttle(self.db(), email)
            .await
            .map_err(storage("clear the sign-in throttle"))
    }

    /// Reserves an attempt for `subject`, refused after [`MAX_FAILURES`]
    /// inside the window: the rows to take back on success, or the seconds
    /// until it may try again.
    async fn reserve_refusing(&self, subject: &str) -> Result<Result<Vec<i64>, i64>, EngineError> {
        let now = self.now();
        self.db()
            .reserve_attempt(&[subject], now - WINDOW_SECS, now, |history| {
                history
                    .first()
                    .and_then(|failures| throttled_for(failures, MAX_FAILURES, now))
            })
            .await
            .map_err(storage("reserve an attempt"))
    }

    /// An administrator adds an account.
    pub async fn add_user(
        &self,
        by: &User,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<User, AccountError> {
        let email = normalized_email(email).map_err(AccountError::InvalidEmail)?;
        check_new_password(password).map_err(AccountError::InvalidPassword)?;
        let password_hash = hashing::hash(password).await?;
        let actor = by.actor().stored();
        let message = format!("Added {email} as {role}");
        let event = NewAccountEvent {
            actor: &actor,
            action: "add_user",
            subject: &email,
            message: &message,
        };
        let id = self
            .db()
            .insert_user(&email, &password_hash, role, &event, self.now())
            .await
            .map_err(storage("add an account"))?
            .ok_or(AccountError::EmailTaken)?;
        self.user(id).await?.ok_or(AccountError::NotFound)
    }

    /// An administrator changes someone's role (never the last admin's).
    pub async fn change_role(&self, by: &User, id: i64, role: Role) -> Result<(), AccountError> {
        let target = self.user(id).await?.ok_or(AccountError::NotFound)?;
        let actor = by.actor().stored();
        let message = format!(
            "Role of {} changed from {} to {role}",
            target.email, target.role
        );
        let event = NewAccountEvent {
            actor: &actor,
            action: "change_role",
            subject: &target.email,
            message: &message,
        };
        let change = self
            .db()
            .change_role(id, role, &event, self.now())
            .await
            .map_err(storage("change a role"))?;
        account_change(change)
    }

    /// An administrator removes an account (never the last admin's); its
    /// sessions end with it.
    pub async fn remove_user(&self, by: &User, id: i64) -> Result<(), AccountError> {
        let target = self.user(id).await?.ok_or(AccountError::NotFound)?;
        let actor = by.actor().stored();
        let message = format!("Removed {} ({})", target.email, target.role);
        let event = NewAccountEvent {
            actor: &actor,
            action: "remove_user",
            subject: &target.email,
            message: &message,
        };
        let change = self
            .db()
            .remove_user(id, &event, self.now())
            .await
            .map_err(storage("remove an account"))?;
        account_change(change)
    }

    /// A user changes their own password (the current one required, and
    /// throttled like a sign-in for their email); every session signed in
    /// with the old one ends. Answers the user as now stored.
    pub async fn change_password(
        &self,
        user: &User,
        current: &str,
        new: &str,
    ) -> Result<User, AccountError> {
        let row = self
            .db()
            .user_by_id(user.id)
            .await
            .map_err(storage("read an account"))?
            .ok_or(AccountError::NotFound)?;
        check_new_password(new).map_err(AccountError::InvalidPassword)?;
        // Its own count: strangers guessing this email at sign-in cannot
        // hold up a signed-in user's password change.
        let subject = format!("password-change:{}", user.id);
        let reserved = match self.reserve_refusing(&subject).await? {
            Ok(rows) => rows,
            Err(retry_after_secs) => return Err(AccountError::Throttled { retry_after_secs }),
        };
        let verified = match hashing::verify(current, Some(row.password_hash)).await {
            Ok(verified) => verified,
            Err(e) => {
                // Too busy to check is not a wrong password.
                self.db()
                    .release_attempt(&reserved, None)
                    .await
                    .map_err(storage("clear the sign-in throttle"))?;
                return Err(e.into());
            }
        };
        if !verified {
            return Err(AccountError::WrongPassword);
        }
        self.db()
            .release_attempt(&reserved, None)
            .await
            .map_err(storage("clear the sign-in throttle"))?;
        let password_hash = hashing::hash(new).await?;
        let actor = user.actor().stored();
        let event = NewAccountEvent {
            actor: &actor,
            action: "change_password",
            subject: &user.email,
            message: "Password changed; other sessions ended",
        };
        self.db()
            .set_password_hash(user.id, &password_hash, &event, self.now())
            .await
            .map_err(storage("change a password"))?;
        self.user(user.id).await?.ok_or(AccountError::NotFound)
    }

    /// The newest entries of the account log.
    pub async fn account_events(&self, limit: i64) -> Result<Vec<AccountEvent>, EngineError> {
        self.db()
            .account_events(limit.clamp(1, 500))
            .await
            .map_err(storage("read the account log"))
    }
}

/// Forgets the sign-in failures counted against `email` (the per-email
/// slow-down, and every address's count for it): the operator's way in for a
/// person kept out while strangers guess at their email
/// (`server --clear-sign-in-throttle EMAIL`). Answers how many were forgotten.
pub async fn clear_sign_in_throttle(
    db: &crate::Database,
    email: &str,
) -> Result<u64, crate::DatabaseError> {
    let email = normalized_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    let subjects = ThrottleSubjects::of(&email, "");
    Ok(db
        .clear_sign_in_failures(&subjects.email, &subjects.pair_prefix)
        .await?
        + db.clear_sign_in_failures(&subjects.email, &subjects.device_prefix)
            .await?)
}

/// How many known-device proofs one sign-in looks at.
pub const MAX_DEVICE_PROOFS: usize = 8;

/// The throttle's subjects for one attempt, as stored.
struct ThrottleSubjects {
    /// `pair:<digest of the email>|<client>`: the email's digest first, so
    /// all of an email's pairs can be forgotten at once.
    pair: String,
    pair_prefix: String,
    /// `device:<digest of the email>|`, then the proof's digest.
    device_prefix: String,
    address: String,
    email: String,
}

impl ThrottleSubjects {
    fn of(email: &str, client: &str) -> Self {
        let email_digest = digest(&[email]);
        let pair_prefix = format!("pair:{email_digest}|");
        Self {
            pair: format!("{pair_prefix}{client}"),
            device_prefix: format!("device:{email_digest}|"),
            pair_prefix,
            address: format!("addr:{client}"),
            email: format!("email:{email_digest}"),
        }
    }
}

/// A throttle subject's stored form: the SHA-256 (hex) of its parts.
fn digest(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update(b"\0");
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn account_change(change: AccountChange) -> Result<(), AccountError> {
    match change {
        AccountChange::Done => Ok(()),
        AccountChange::NotFound => Err(AccountError::NotFound),
        AccountChange::LastAdmin => Err(AccountError::LastAdmin),
    }
}
