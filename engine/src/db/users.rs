//! Queries on `users`, `sign_in_failures`, `setup_token` and `account_events`:
//! the accounts of the people who use the dashboard. Never a password.

use sqlx::FromRow;

use domain::{Role, UnixTime};

use super::{query, Database, DatabaseError, On, Query, Tx};

/// A stored account. (No `Debug`: it holds the password hash.)
#[derive(Clone, FromRow)]
pub(crate) struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: UnixTime,
}

/// One entry of the account log.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AccountEvent {
    pub id: i64,
    pub at: UnixTime,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub message: String,
}

/// A new account-log entry.
pub struct NewAccountEvent<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub message: &'a str,
}

/// What a guarded change to an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountChange {
    Done,
    /// No account has that id.
    NotFound,
    /// It would leave the dashboard without an administrator.
    LastAdmin,
}

const USER_COLUMNS: &str = "id, email, password_hash, role, created_at";

pub(super) async fn log_account_event(
    on: impl Into<On<'_>>,
    event: &NewAccountEvent<'_>,
    now: UnixTime,
) -> Result<(), DatabaseError> {
    query(
        "INSERT INTO account_events (at, actor, action, subject, message) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(now)
    .bind(event.actor)
    .bind(event.action)
    .bind(event.subject)
    .bind(event.message)
    .execute(on)
    .await?;
    Ok(())
}

/// Runs `change` on `tx` and, when it changed exactly one row, logs `event`
/// (if any) and commits: the change and its log entry land together, and
/// nothing is logged when nothing changed (the transaction is rolled back).
pub(super) async fn change_and_log(
    mut tx: Tx,
    change: Query,
    event: Option<&NewAccountEvent<'_>>,
    now: UnixTime,
) -> Result<bool, DatabaseError> {
    if change.execute(&mut tx).await? != 1 {
        return Ok(false);
    }
    if let Some(event) = event {
        log_account_event(&mut tx, event, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

impl Database {
    /// How many accounts exist.
    pub(crate) async fn count_users(&self) -> Result<i64, DatabaseError> {
        Ok(query("SELECT COUNT(*) AS n FROM users")
            .scalar::<i64>(self)
            .await?)
    }

    /// The account with this id.
    pub(crate) async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, DatabaseError> {
        Ok(
            query(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional::<UserRow>(self)
                .await?,
        )
    }

    /// The account with this (lower-cased) email.
    pub(crate) async fn user_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserRow>, DatabaseError> {
        Ok(
            query(format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
                .bind(email)
                .fetch_optional::<UserRow>(self)
                .await?,
        )
    }

    /// Every account, by email.
    pub(crate) async fn users(&self) -> Result<Vec<UserRow>, DatabaseError> {
        Ok(
            query(format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
                .fetch_all::<UserRow>(self)
                .await?,
        )
    }

    /// Adds an account and its log entry; `None` when the email is taken.
    pub(crate) async fn insert_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<Option<i64>, DatabaseError> {
        let mut tx = self.begin().await?;
        let id: Option<i64> = query(
            "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .scalar_optional::<i64>(&mut tx)
        .await?;
        if id.is_some() {
            log_account_event(&mut tx, event, now).await?;
            tx.commit().await?;
        }
        Ok(id)
    }

    /// Creates the first administrator when no account exists yet, spending
    /// the setup token if one is given (it must match the stored one, issued
    /// after the given instant). `None` when an account exists already or the
    /// token does not match.
    pub(crate) async fn insert_first_admin(
        &self,
        email: &str,
        password_hash: &str,
        setup_token_hash: Option<(&str, UnixTime)>,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<Option<i64>, DatabaseError> {
        // The write lock from the start: two setups at once cannot both see "no account".
        // (Returning without `commit` rolls back: the transaction is dropped.)
        let mut tx = self.begin_immediate().await?;
        let users = query("SELECT COUNT(*) AS n FROM users")
            .scalar::<i64>(&mut tx)
            .await?;
        if users > 0 {
            return Ok(None);
        }
        if let Some((hash, issued_after)) = setup_token_hash {
            let spent = query("DELETE FROM setup_token WHERE token_hash = $1 AND created_at > $2")
                .bind(hash)
                .bind(issued_after)
                .execute(&mut tx)
                .await?;
            if spent == 0 {
                return Ok(None);
            }
        }
        query("DELETE FROM setup_token").execute(&mut tx).await?;
        let id = query(
            "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, 'admin', $3) RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(now)
        .scalar::<i64>(&mut tx)
        .await?;
        log_account_event(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Stores the hash of a new setup token (replacing any earlier one).
    pub(crate) async fn store_setup_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        query(
            "INSERT INTO setup_token (only_row, token_hash, created_at) VALUES (1, $1, $2)
             ON CONFLICT (only_row) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
        )
        .bind(token_hash)
        .bind(now)
        .execute(self)
        .await?;
        Ok(())
    }

    /// Whether `token_hash` is the live setup token (issued after
    /// `issued_after`, and no account exists).
    pub(crate) async fn setup_token_is_live(
        &self,
        token_hash: &str,
        issued_after: UnixTime,
    ) -> Result<bool, DatabaseError> {
        Ok(query(
            "SELECT EXISTS (SELECT 1 FROM setup_token WHERE token_hash = $1 AND created_at > $2)
                AND NOT EXISTS (SELECT 1 FROM users) AS valid",
        )
        .bind(token_hash)
        .bind(issued_after)
        .scalar::<bool>(self)
        .await?)
    }

    /// Changes an account's role, unless that leaves no administrator.
    pub(crate) async fn change_role(
        &self,
        id: i64,
        role: Role,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<AccountChange, DatabaseError> {
        self.guarded_change(
            query(
                "UPDATE users SET role = $1 WHERE id = $2
                   AND (role <> 'admin' OR $1 = 'admin'
                        OR (SELECT COUNT(*) FROM users WHERE role = 'admin') > 1)",
            )
            .bind(role.as_str())
            .bind(id),
            id,
            event,
            now,
        )
        .await
    }

    /// Removes an account, unless it is the last administrator.
    pub(crate) async fn remove_user(
        &self,
        id: i64,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<AccountChange, DatabaseError> {
        self.guarded_change(
            query(
                "DELETE FROM users WHERE id = $1
                   AND (role <> 'admin' OR (SELECT COUNT(*) FROM users WHERE role = 'admin') > 1)",
            )
            .bind(id),
            id,
            event,
            now,
        )
        .await
    }

    /// Runs a change that refuses to leave no administrator, with its log
    /// entry, in one transaction.
    async fn guarded_change(
        &self,
        change: Query,
        id: i64,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<AccountChange, DatabaseError> {
        // Immediate: the change counts the administrators, then demotes or
        // removes one. Under PostgreSQL's READ COMMITTED, two such changes to
        // two different administrators at once would each count 2 and leave none.
        let mut tx = self.begin_immediate().await?;
        if change.execute(&mut tx).await? == 1 {
            log_account_event(&mut tx, event, now).await?;
            tx.commit().await?;
            return Ok(AccountChange::Done);
        }
        let exists = query("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS found")
            .bind(id)
            .scalar::<bool>(&mut tx)
            .await?;
        Ok(if exists {
            AccountChange::LastAdmin
        } else {
            AccountChange::NotFound
        })
    }

    /// Replaces an account's password hash, with its log entry.
    pub(crate) async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let change = query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id);
        change_and_log(self.begin().await?, change, Some(event), now).await
    }

    /// The newest account-log entries.
    pub(crate) async fn account_events(
        &self,
        limit: i64,
    ) -> Result<Vec<AccountEvent>, DatabaseError> {
        Ok(query(
            "SELECT id, at, actor, action, subject, message FROM account_events
             ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all::<AccountEvent>(self)
        .await?)
    }

    /// Reserves one attempt for every subject, atomically: each subject's
    /// failures since `since` (newest first, at most 100) go to `verdict`,
    /// in `subjects`' order; unless it answers a wait (then `Err` with it,
    /// and nothing written), a failure is recorded for each subject BEFORE
    /// the password is checked, so parallel attempts cannot all pass the
    /// count. `Ok` holds the rows to take back if the password turns out
    /// right. Failures older than `since` are forgotten on the way.
    pub(crate) async fn reserve_attempt(
        &self,
        subjects: &[&str],
        since: UnixTime,
        now: UnixTime,
        verdict: impl FnOnce(&[Vec<UnixTime>]) -> Option<i64> + Send,
    ) -> Result<Result<Vec<i64>, i64>, DatabaseError> {
        // (Returning without `commit` rolls back: the transaction is dropped.)
        // Serialised per subject: one address's or email's attempts count
        // one after the other; sign-ins of others do not wait.
        let keys: Vec<String> = subjects.iter().map(|s| format!("sign-in:{s}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut tx = self.begin_locking(&keys).await?;
        query("DELETE FROM sign_in_failures WHERE failed_at <= $1")
            .bind(since)
            .execute(&mut tx)
            .await?;
        let mut history = Vec::with_capacity(subjects.len());
        for subject in subjects {
            history.push(
                query(
                    "SELECT failed_at FROM sign_in_failures WHERE subject = $1 AND failed_at > $2
                     ORDER BY failed_at DESC LIMIT 100",
                )
                .bind(*subject)
                .bind(since)
                .scalars::<UnixTime>(&mut tx)
                .await?,
            );
        }
        if let Some(wait) = verdict(&history) {
            return Ok(Err(wait));
        }
        let mut rows = Vec::with_capacity(subjects.len());
        for subject in subjects {
            rows.push(
                Query::dialect(
                    "INSERT INTO sign_in_failures (subject, failed_at) VALUES ($1, $2) RETURNING rowid",
                    // PostgreSQL has no rowid: its table has an identity `id` column.
                    "INSERT INTO sign_in_failures (subject, failed_at) VALUES ($1, $2) RETURNING id",
                )
                .bind(*subject)
                .bind(now)
                .scalar::<i64>(&mut tx)
                .await?,
            );
        }
        tx.commit().await?;
        Ok(Ok(rows))
    }

    /// Forgets the failures of subject `email` and of every subject that
    /// starts with `pair_prefix`; answers how many.
    pub(crate) async fn clear_sign_in_failures(
        &self,
        email: &str,
        pair_prefix: &str,
    ) -> Result<u64, DatabaseError> {
        Ok(query(
            "DELETE FROM sign_in_failures
             WHERE subject = $1 OR substr(subject, 1, length(CAST($2 AS TEXT))) = CAST($2 AS TEXT)",
        )
        .bind(email)
        .bind(pair_prefix)
        .execute(self)
        .await?)
    }

    /// Takes back reserved attempts (the password was right), and forgets
    /// `clear`'s earlier failures.
    pub(crate) async fn release_attempt(
        &self,
        rows: &[i64],
        clear: Option<&str>,
    ) -> Result<(), DatabaseError> {
        let mut tx = self.begin().await?;
        for row in rows {
            Query::dialect(
                "DELETE FROM sign_in_failures WHERE rowid = $1",
                "DELETE FROM sign_in_failures WHERE id = $1",
            )
            .bind(*row)
            .execute(&mut tx)
            .await?;
        }
        if let Some(subject) = clear {
            query("DELETE FROM sign_in_failures WHERE subject = $1")
                .bind(subject)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
