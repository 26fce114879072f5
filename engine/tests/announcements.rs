//! The webhook outbox at the engine's level (no HTTP adds anything here): a
//! change that is announced writes its message in its own transaction, with
//! the integration rendered as the change left it by the wire contract's
//! own `IntegrationView::at`, at the engine's clock and status rule; a change
//! no endpoint wants writes no message at all.

use std::sync::Arc;
use std::time::Duration;

use domain::{Actor, IntegrationId, IntegrationView, RefreshPolicy, UnixTime};
use engine::db::{query, NewAccountEvent, NewEndpointRow};
use engine::oauth::{AtlassianClient, ProviderSettings};
use engine::{Database, Engine, EngineSettings, ManualClock, Secret, TokenVault};

const NOW: i64 = 1_800_000_000;
/// 32 zero bytes, base64: a key for a test's throw-away database.
const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

struct Fixture {
    engine: Engine,
    db: Database,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(&format!("sqlite://{}/db.sqlite", dir.path().display()))
        .await
        .expect("open");
    let vault = TokenVault::from_base64(KEY).expect("key");
    let url = |path: &str| url::Url::parse(&format!("http://127.0.0.1:9/{path}")).expect("url");
    // Never called: nothing here reaches the provider.
    let atlassian = AtlassianClient::new(ProviderSettings {
        client_id: "client".into(),
        client_secret: Secret::new("secret"),
        redirect_uri: url("oauth/callback"),
        scopes: vec!["read:jira-work".into(), "offline_access".into()],
        auth_url: url("authorize"),
        token_url: url("oauth/token"),
        api_url: url(""),
        timeout: Duration::from_secs(1),
    })
    .expect("client");
    let engine = Engine::new(
        db.clone(),
        Arc::new(ManualClock::new(NOW)),
        vault,
        atlassian,
        EngineSettings {
            sandbox_mode: false,
            refresh_margin_secs: 300,
            max_concurrency: 4,
            refresh_policy: RefreshPolicy::Scheduled,
        },
    );
    Fixture {
        engine,
        db,
        _dir: dir,
    }
}

/// One connected integration, its access token valid an hour more, one site.
async fn connected(db: &Database) -> IntegrationId {
    query(
        "INSERT INTO integrations (id, account_id, account_name, account_email, scopes, refresh_token,
            access_token, expires_at, access_token_lifetime, is_active, refresh_token_issued_at,
            consented_at, created_at, updated_at)
         VALUES (7, 'acc-7', 'Ada', 'ada@example.com', 'read:jira-work offline_access', $1, $1,
            $2, 3600, 1, $3, $3, $3, $3)",
    )
    .bind(vec![1u8, 2, 3])
    .bind(UnixTime(NOW + 3600))
    .bind(UnixTime(NOW - 60))
    .execute(db)
    .await
    .expect("insert");
    query(
        "INSERT INTO integration_sites VALUES (7, 'cloud-7', 'Acme', 'https://acme.atlassian.net')",
    )
    .execute(db)
    .await
    .expect("site");
    "7".parse().expect("id")
}

async fn endpoint_for(db: &Database, vault: &TokenVault, event_types: &str) {
    let secret = Secret::new("whsec_dGVzdA==");
    db.insert_webhook_endpoint(
        NewEndpointRow {
            url: "https://hooks.example.com/jira",
            event_types,
            from_environment: false,
            created_by: None,
        },
        |id| vault.encrypt_webhook_secret(id, &secret),
        &NewAccountEvent {
            actor: "test",
            action: "add_webhook",
            subject: "https://hooks.example.com",
            message: "Added a webhook endpoint",
        },
        UnixTime(NOW),
    )
    .await
    .expect("db")
    .expect("sealed");
}

async fn message_bodies(db: &Database) -> Vec<String> {
    query("SELECT body FROM webhook_messages ORDER BY created_at")
        .scalars::<String>(db)
        .await
        .expect("messages")
}

#[tokio::test]
async fn a_disconnect_announces_the_integration_as_the_change_left_it() {
    let f = fixture().await;
    let vault = TokenVault::from_base64(KEY).expect("key");
    endpoint_for(&f.db, &vault, "integration.disconnected").await;
    let id = connected(&f.db).await;
    f.engine
        .disconnect(id, &Actor::User("ada@example.com".into()))
        .await
        .expect("disconnect");

    let bodies = message_bodies(&f.db).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body: serde_json::Value = serde_json::from_str(&bodies[0]).expect("json");
    assert_eq!(body["type"], "integration.disconnected");
    // The row as the disconnect left it (tokens wiped, inactive), rendered
    // by the one view builder at the engine's clock and margin.
    let after =
        f.db.find_integration(id)
            .await
            .expect("read")
            .expect("kept");
    assert!(!after.is_active && !after.has_refresh_token);
    let expected = IntegrationView::at(after, UnixTime(NOW), f.engine.settings().status_rule());
    assert_eq!(
        body["data"]["integration"],
        serde_json::to_value(&expected).expect("view")
    );
    let fields = body["data"]["integration"].as_object().expect("an object");
    for secret in [
        "accessToken",
        "refreshToken",
        "access_token",
        "refresh_token",
    ] {
        assert!(
            !fields.contains_key(secret),
            "no token in a message: {body}"
        );
    }
}

#[tokio::test]
async fn a_change_no_endpoint_wants_writes_no_message() {
    let f = fixture().await;
    let vault = TokenVault::from_base64(KEY).expect("key");
    // An endpoint that hears of other events only.
    endpoint_for(&f.db, &vault, "integration.needs_reauth").await;
    let id = connected(&f.db).await;
    f.engine
        .disconnect(id, &Actor::User("ada@example.com".into()))
        .await
        .expect("disconnect");
    assert!(message_bodies(&f.db).await.is_empty());
    let deliveries = query("SELECT COUNT(*) FROM webhook_deliveries")
        .scalar::<i64>(&f.db)
        .await
        .expect("count");
    assert_eq!(deliveries, 0);
}
