//! A sandbox on a database file: what it wrote before a restart, a second
//! sandbox on the same file knows (load after write), and the file holds no
//! usable token.

mod common;

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use common::*;
use reqwest::StatusCode;
use sandbox::{Sandbox, Settings};
use serde_json::json;
use sha2::{Digest, Sha256};

const T0: i64 = 1_800_000_000;

/// A persisted sandbox on `db`, served on a free port, its clock at `time`.
async fn persisted(db: &str, time: i64) -> TestSandbox {
    let time = Arc::new(AtomicI64::new(time));
    let pool = sandbox::persist::open_database(db).await.expect("open");
    let sandbox = Sandbox::open(clients(), Settings::default(), time_source(&time), pool)
        .await
        .expect("load");
    TestSandbox::serve(sandbox, time).await
}

fn db_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("sandbox.db").display())
}

#[tokio::test]
async fn a_restarted_sandbox_knows_the_grants_tokens_revocations_and_clock_of_the_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_url(&dir);
    let first = persisted(&db, T0).await;

    // Ada: connected, then refreshed once (rt0 is superseded, rt1 current).
    let ada = first.connect(ALL_SCOPES).await;
    let rt0 = s(&ada, "refresh_token");
    let (status, refreshed) = first.refresh(&rt0).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let rt1 = s(&refreshed, "refresh_token");
    let at1 = s(&refreshed, "access_token");
    // Grace: connected on one site, then revoked in "Connected apps".
    let code = first.code(ALL_SCOPES, GRACE, &[ACME]).await;
    let (_, grace) = first.exchange(&code).await;
    let res = first
        .http
        .post(format!("{}/control/grants/{GRACE}/revoke", first.base))
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::OK);
    // The clock moved forward by the control.
    let res = first
        .http
        .post(format!("{}/control/clock/advance", first.base))
        .json(&json!({"secs": 60}))
        .send()
        .await
        .expect("advance");
    assert_eq!(res.status(), StatusCode::OK);

    // "Restart": a second sandbox on the same file (the first stays up but is
    // never asked again), on the same time source reading.
    let second = persisted(&db, T0).await;
    assert_eq!(second.sandbox.now(), T0 + 60, "the clock offset survived");

    // The access token issued before the restart still works, on both sites.
    let (status, me) = second.get_with_token("/me", &at1).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["account_id"], ADA);
    let (status, sites) = second
        .get_with_token("/oauth/token/accessible-resources", &at1)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sites.as_array().map(Vec::len), Some(2), "{sites}");
    let (status, _) = second
        .get_with_token(&format!("/ex/jira/{GLOBEX}/rest/api/3/myself"), &at1)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Grace's revocation survived.
    let (status, body) = second.refresh(&s(&grace, "refresh_token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(
        second
            .get_with_token("/me", &s(&grace, "access_token"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Ada's current refresh token rotates, scopes intact.
    let (status, again) = second.refresh(&rt1).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["scope"], ALL_SCOPES);
    let rt2 = s(&again, "refresh_token");

    // The rotation history survived too: rt0, superseded before the restart,
    // reused after the leeway, revokes the family, rt2 included; and a third
    // sandbox sees that revocation.
    second.advance(601);
    let (status, body) = second.refresh(&rt0).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "unauthorized_client");
    let third = persisted(&db, T0 + 601).await;
    let (status, body) = third.refresh(&rt2).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn a_token_answer_is_on_disk_before_it_arrives_and_only_as_a_digest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_url(&dir);
    let sb = persisted(&db, T0).await;
    let tokens = sb.connect(ALL_SCOPES).await;
    let (status, refreshed) = sb.refresh(&s(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);

    // Another connection, no waiting: the rotation is already committed.
    let reader = sandbox::persist::open_database(&db).await.expect("open");
    let digest = |t: &str| Sha256::digest(t.as_bytes()).to_vec();
    let current: Option<i64> =
        sqlx::query_scalar("SELECT issued_at FROM sandbox_refresh_tokens WHERE token_hash = ?")
            .bind(digest(&s(&refreshed, "refresh_token")))
            .fetch_optional(&reader)
            .await
            .expect("select");
    assert_eq!(current, Some(T0));
    let superseded: Option<i64> =
        sqlx::query_scalar("SELECT superseded_at FROM sandbox_refresh_tokens WHERE token_hash = ?")
            .bind(digest(&s(&tokens, "refresh_token")))
            .fetch_one(&reader)
            .await
            .expect("select");
    assert_eq!(superseded, Some(T0));
    let access: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sandbox_access_tokens WHERE token_hash = ?")
            .bind(digest(&s(&refreshed, "access_token")))
            .fetch_one(&reader)
            .await
            .expect("select");
    assert_eq!(access, 1);

    // Neither the database nor its write-ahead log contains a token as issued.
    let mut bytes = Vec::new();
    for name in ["sandbox.db", "sandbox.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(name)) {
            bytes.extend(b);
        }
    }
    assert!(!bytes.is_empty());
    for token in [
        s(&tokens, "refresh_token"),
        s(&tokens, "access_token"),
        s(&refreshed, "refresh_token"),
        s(&refreshed, "access_token"),
    ] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "a token in plain text on disk"
        );
    }
}

#[tokio::test]
async fn expired_access_tokens_are_dropped_at_start_up_and_live_ones_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_url(&dir);
    let first = persisted(&db, T0).await;
    let old = first.connect(ALL_SCOPES).await;
    first.advance(3_000);
    let (_, new) = first.refresh(&s(&old, "refresh_token")).await;

    // At T0 + 3600 the first access token has expired, the second has not.
    let second = persisted(&db, T0 + 3_600).await;
    let reader = sandbox::persist::open_database(&db).await.expect("open");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sandbox_access_tokens")
        .fetch_one(&reader)
        .await
        .expect("count");
    assert_eq!(rows, 1);
    assert_eq!(
        second
            .get_with_token("/me", &s(&new, "access_token"))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_rotation_that_cannot_be_stored_answers_500_and_is_stored_with_the_retry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_url(&dir);
    let time = Arc::new(AtomicI64::new(T0));
    let pool = sandbox::persist::open_database(&db).await.expect("open");
    let sandbox = Sandbox::open(
        clients(),
        Settings::default(),
        time_source(&time),
        pool.clone(),
    )
    .await
    .expect("load");
    let sb = TestSandbox::serve(sandbox, time).await;
    let tokens = sb.connect(ALL_SCOPES).await;
    let rt0 = s(&tokens, "refresh_token");

    // The disk "fails" (a trigger on the sandbox's one connection): a transient
    // error, the caller keeps rt0.
    sqlx::query(
        "CREATE TEMP TRIGGER failing BEFORE INSERT ON sandbox_refresh_tokens
         BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
    )
    .execute(&pool)
    .await
    .expect("trigger");
    let (status, body) = sb.refresh(&rt0).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "server_error");
    sqlx::query("DROP TRIGGER failing")
        .execute(&pool)
        .await
        .expect("drop");

    // The retry with rt0 (inside the leeway) works and is stored, together
    // with the rotation that could not be.
    let (status, body) = sb.refresh(&rt0).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sandbox_refresh_tokens")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows, 3, "rt0, the lost answer's token, the retry's token");
    let restarted = persisted(&db, T0).await;
    let (status, _) = restarted.refresh(&s(&body, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn state_kept_in_a_dashboard_database_carries_over_to_the_sandbox_file_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A dashboard database from before the sandbox had a file of its own:
    // the same tables, written by a sandbox running on it.
    let dashboard = dir.path().join("dashboard.db");
    let old = persisted(&format!("sqlite://{}", dashboard.display()), T0).await;
    let ada = old.connect(ALL_SCOPES).await;
    let (status, refreshed) = old.refresh(&s(&ada, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let res = old
        .http
        .post(format!("{}/control/clock/advance", old.base))
        .json(&json!({"secs": 60}))
        .send()
        .await
        .expect("advance");
    assert_eq!(res.status(), StatusCode::OK);

    let own = format!(
        "sqlite://{}",
        dir.path().join("dashboard-sandbox.db").display()
    );
    assert!(sandbox::persist::carry_over(&dashboard, &own)
        .await
        .expect("carry over"));
    // Never twice: the sandbox's file now has state of its own.
    assert!(!sandbox::persist::carry_over(&dashboard, &own)
        .await
        .expect("again"));
    // Nothing to carry: no file is created.
    let missing = dir.path().join("missing.db");
    let elsewhere = format!("sqlite://{}", dir.path().join("elsewhere.db").display());
    assert!(!sandbox::persist::carry_over(&missing, &elsewhere)
        .await
        .expect("missing"));
    assert!(!dir.path().join("elsewhere.db").exists());

    let moved = persisted(&own, T0).await;
    assert_eq!(moved.sandbox.now(), T0 + 60, "the clock offset moved");
    let (status, me) = moved
        .get_with_token("/me", &s(&refreshed, "access_token"))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, again) = moved.refresh(&s(&refreshed, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
}
