//! Queries on `users`, `sign_in_failures`, `setup_token` and `account_events`:
//! the accounts of the people who use the dashboard. Never a password.

use sqlx::FromRow;

use domain::{Role, UnixTime};

use super::{Database, DatabaseError};

/// A stored account. (No `Debug`: it holds the password hash.)
#[derive(Clone, FromRow)]
pub struct UserRow {
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
pub enum AccountChange {
    Done,
    /// No account has that id.
    NotFound,
    /// It would leave the dashboard without an administrator.
    LastAdmin,
}

const USER_COLUMNS: &str = "id, email, password_hash, role, created_at";

pub(super) async fn log_account_event<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    event: &NewAccountEvent<'_>,
    now: UnixTime,
) -> Result<(), DatabaseError> {
    sqlx::query(
        "INSERT INTO account_events (at, actor, action, subject, message) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(now)
    .bind(event.actor)
    .bind(event.action)
    .bind(event.subject)
    .bind(event.message)
    .execute(executor)
    .await?;
    Ok(())
}

impl Database {
    /// How many accounts exist.
    pub async fn count_users(&self) -> Result<i64, DatabaseError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?)
    }

    /// The account with this id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, DatabaseError> {
        Ok(
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// The account with this (lower-cased) email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, DatabaseError> {
        Ok(
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?"))
                .bind(email)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Every account, by email.
    pub async fn users(&self) -> Result<Vec<UserRow>, DatabaseError> {
        Ok(
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Adds an account and its log entry; `None` when the email is taken.
    pub async fn insert_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<Option<i64>, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if id.is_some() {
            log_account_event(&mut *tx, event, now).await?;
            tx.commit().await?;
        }
        Ok(id)
    }

    /// Creates the first administrator when no account exists yet, spending
    /// the setup token if one is given (it must match the stored one, issued
    /// after the given instant). `None` when an account exists already or the
    /// token does not match.
    pub async fn insert_first_admin(
        &self,
        email: &str,
        password_hash: &str,
        setup_token_hash: Option<(&str, UnixTime)>,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<Option<i64>, DatabaseError> {
        let mut conn = self.pool().acquire().await?;
        // The write lock from the start: two setups at once cannot both see "no account".
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result = async {
            let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(&mut *conn)
                .await?;
            if users > 0 {
                return Ok(None);
            }
            if let Some((hash, issued_after)) = setup_token_hash {
                let spent =
                    sqlx::query("DELETE FROM setup_token WHERE token_hash = ? AND created_at > ?")
                        .bind(hash)
                        .bind(issued_after)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                if spent == 0 {
                    return Ok(None);
                }
            }
            sqlx::query("DELETE FROM setup_token").execute(&mut *conn).await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (email, password_hash, role, created_at) VALUES (?, ?, 'admin', ?) RETURNING id",
            )
            .bind(email)
            .bind(password_hash)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
            log_account_event(&mut *conn, event, now).await?;
            Ok::<_, DatabaseError>(Some(id))
        }
        .await;
        let end = match &result {
            Ok(Some(_)) => "COMMIT",
            _ => "ROLLBACK",
        };
        sqlx::query(end).execute(&mut *conn).await?;
        result
    }

    /// Stores the hash of a new setup token (replacing any earlier one).
    pub async fn store_setup_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> Result<(), DatabaseError> {
        sqlx::query(
            "INSERT INTO setup_token (only_row, token_hash, created_at) VALUES (1, ?, ?)
             ON CONFLICT (only_row) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
        )
        .bind(token_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether `token_hash` is the live setup token (issued after
    /// `issued_after`, and no account exists).
    pub async fn setup_token_is_live(
        &self,
        token_hash: &str,
        issued_after: UnixTime,
    ) -> Result<bool, DatabaseError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM setup_token WHERE token_hash = ? AND created_at > ?)
                AND NOT EXISTS (SELECT 1 FROM users)",
        )
        .bind(token_hash)
        .bind(issued_after)
        .fetch_one(self.pool())
        .await?)
    }

    /// Changes an account's role, unless that leaves no administrator.
    pub async fn change_role(
        &self,
        id: i64,
        role: Role,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<AccountChange, DatabaseError> {
        self.guarded_change(
            sqlx::query(
                "UPDATE users SET role = ? WHERE id = ?
                   AND (role <> 'admin' OR ? = 'admin'
                        OR (SELECT COUNT(*) FROM users WHERE role = 'admin') > 1)",
            )
            .bind(role.as_str())
            .bind(id)
            .bind(role.as_str()),
            id,
            event,
            now,
        )
        .await
    }

    /// Removes an account, unless it is the last administrator.
    pub async fn remove_user(
        &self,
        id: i64,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<AccountChange, DatabaseError> {
        self.guarded_change(
            sqlx::query(
                "DELETE FROM users WHERE id = ?
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
    async fn guarded_change<'q>(
        &self,
        change: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
        id: i64,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<AccountChange, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        if change.execute(&mut *tx).await?.rows_affected() == 1 {
            log_account_event(&mut *tx, event, now).await?;
            tx.commit().await?;
            return Ok(AccountChange::Done);
        }
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        Ok(if exists {
            AccountChange::LastAdmin
        } else {
            AccountChange::NotFound
        })
    }

    /// Replaces an account's password hash, with its log entry.
    pub async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
        event: &NewAccountEvent<'_>,
        now: UnixTime,
    ) -> Result<bool, DatabaseError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if changed {
            log_account_event(&mut *tx, event, now).await?;
            tx.commit().await?;
        }
        Ok(changed)
    }

    /// The newest account-log entries.
    pub async fn account_events(&self, limit: i64) -> Result<Vec<AccountEvent>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT id, at, actor, action, subject, message FROM account_events
             ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Reserves one attempt for every subject, atomically: unless one of them
    /// already has `max` failures since `since` (then `Err` with that
    /// subject's failure times, newest first, and nothing written), a
    /// failure is recorded for each subject BEFORE the password is checked,
    /// so parallel attempts cannot all pass the count. `Ok` holds the rows to
    /// take back if the password turns out right. Failures older than `since`
    /// are forgotten on the way.
    pub async fn reserve_attempt(
        &self,
        subjects: &[&str],
        max: usize,
        since: UnixTime,
        now: UnixTime,
    ) -> Result<Result<Vec<i64>, Vec<UnixTime>>, DatabaseError> {
        let mut conn = self.pool().acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result = async {
            sqlx::query("DELETE FROM sign_in_failures WHERE failed_at <= ?")
                .bind(since)
                .execute(&mut *conn)
                .await?;
            for subject in subjects {
                let times: Vec<UnixTime> = sqlx::query_scalar(
                    "SELECT failed_at FROM sign_in_failures WHERE subject = ? AND failed_at > ?
                     ORDER BY failed_at DESC LIMIT 100",
                )
                .bind(subject)
                .bind(since)
                .fetch_all(&mut *conn)
                .await?;
                if times.len() >= max {
                    return Ok::<_, DatabaseError>(Err(times));
                }
            }
            let mut rows = Vec::with_capacity(subjects.len());
            for subject in subjects {
                rows.push(
                    sqlx::query_scalar(
                        "INSERT INTO sign_in_failures (subject, failed_at) VALUES (?, ?) RETURNING rowid",
                    )
                    .bind(subject)
                    .bind(now)
                    .fetch_one(&mut *conn)
                    .await?,
                );
            }
            Ok(Ok(rows))
        }
        .await;
        let end = match &result {
            Ok(Ok(_)) => "COMMIT",
            _ => "ROLLBACK",
        };
        sqlx::query(end).execute(&mut *conn).await?;
        result
    }

    /// Takes back reserved attempts (the password was right), and forgets
    /// `clear`'s earlier failures.
    pub async fn release_attempt(
        &self,
        rows: &[i64],
        clear: Option<&str>,
    ) -> Result<(), DatabaseError> {
        let mut tx = self.pool().begin().await?;
        for row in rows {
            sqlx::query("DELETE FROM sign_in_failures WHERE rowid = ?")
                .bind(row)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(subject) = clear {
            sqlx::query("DELETE FROM sign_in_failures WHERE subject = ?")
                .bind(subject)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
