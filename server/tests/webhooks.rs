//! Webhooks over real HTTP, to a real receiver (an axum server on port 0):
//! Standard Webhooks signatures, every event type once for its cause, retries
//! with the same `webhook-id`, an endpoint disabled after a day of failures,
//! the address rule for endpoints added in the UI, the settings forms (test
//! event, redeliver), consent warnings at 30, 7 and 1 days on a controlled
//! clock, and a delivery that survives `kill -9` of the real server binary.

use domain::{Actor, IntegrationId};
use engine::scheduler::tick;
use engine::Clock as _;
use reqwest::StatusCode;
use sandbox::FaultKind;
use testkit::receiver::{expected_signature, Received, Receiver};
use testkit::*;

const ONE: IntegrationId = IntegrationId(1);
/// A valid Standard Webhooks secret (the specification's example).
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DAY: i64 = 86_400;

/// A dashboard whose WEBHOOK_URL is `receiver` (the environment's endpoint
/// may be on loopback: it is the operator's choice).
async fn app_sending_to(receiver: &Receiver) -> TestApp {
    TestApp::spawn_with(&["--webhook-url", &receiver.url, "--webhook-secret", SECRET]).await
}

/// A receiver, and a dashboard sending to it (see [`app_sending_to`]).
async fn app_with_receiver() -> (Receiver, TestApp) {
    let receiver = Receiver::start().await;
    let app = app_sending_to(&receiver).await;
    (receiver, app)
}

/// The id of the endpoint WEBHOOK_URL made.
async fn environment_endpoint(app: &TestApp) -> i64 {
    engine::db::query("SELECT id FROM webhook_endpoints WHERE from_environment = 1")
        .scalar(&app.database)
        .await
        .expect("the environment's endpoint")
}

/// A delivery round finds nothing to try, for the reason `why`.
async fn assert_nothing_to_deliver(app: &TestApp, why: &str) {
    assert_eq!(deliver(app).await.attempted, 0, "{why}");
}

/// One delivery round, as the worker runs it.
async fn deliver(app: &TestApp) -> engine::webhooks::DeliveryReport {
    app.engine.deliver_webhooks().await
}

/// Delivers what is due and answers what the receiver got meanwhile.
async fn delivered(app: &TestApp, receiver: &Receiver) -> Vec<Received> {
    receiver.clear();
    deliver(app).await;
    receiver.received()
}

/// Delivers what is due and answers the types the receiver got meanwhile.
async fn delivered_types(app: &TestApp, receiver: &Receiver) -> Vec<String> {
    let got = delivered(app, receiver).await;
    got.iter().map(Received::event_type).collect()
}

/// Delivers what is due: one message, `integration.needs_reauth` for
/// `reason`. Answers it.
async fn needs_reauth_delivered(app: &TestApp, receiver: &Receiver, reason: &str) -> Received {
    let mut got = delivered(app, receiver).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type(), "integration.needs_reauth");
    assert_eq!(got[0].json["data"]["reason"], reason);
    got.remove(0)
}

fn the_settings_secret(html: &str) -> String {
    let start = html
        .find("whsec_")
        .unwrap_or_else(|| panic!("secret shown: {html}"));
    let end = start
        + html[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_+/=".contains(c)))
            .expect("end");
    html[start..end].to_owned()
}

#[tokio::test]
async fn the_signature_verifies_with_the_endpoint_secret_and_not_with_another() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;

    // An endpoint on loopback is refused with a sentence, nothing stored...
    for url in [
        receiver.url.clone(),
        receiver.url.replace("127.0.0.1", "localhost"),
        "http://10.0.0.7/hook".into(),
    ] {
        let (status, page) = app
            .post_form(
                "/settings/webhooks",
                &[("url", url.as_str()), ("integration.connected", "on")],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        let page = page.as_str().expect("html").to_owned();
        assert!(
            page.contains("loopback, private or otherwise internal address"),
            "{page}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_endpoints").await, 0);
    // ...until an administrator allows private addresses.
    app.settings_form("/settings/webhooks/settings", &[("allow_private", "on")])
        .await;
    let (status, page) = app
        .post_form("/settings/webhooks", &[("url", receiver.url.as_str())])
        .await;
    assert_eq!(status, StatusCode::OK);
    let secret = the_settings_secret(page.as_str().expect("html"));
    assert!(secret.starts_with("whsec_"), "{secret}");
    // Shown once: the page does not carry it again.
    assert!(!app.page_text("/settings").await.contains(&secret));

    let flow = app.connect(ADA, &[ACME], None).await;
    assert_eq!(flow.status, StatusCode::SEE_OTHER);
    let report = deliver(&app).await;
    assert_eq!((report.attempted, report.delivered), (1, 1));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert!(message.id.starts_with("msg_"), "{}", message.id);
    assert_eq!(
        message.signature,
        expected_signature(&secret, &message.id, &message.timestamp, &message.body)
    );
    assert_ne!(
        message.signature,
        expected_signature(SECRET, &message.id, &message.timestamp, &message.body)
    );
    // A changed body or id does not verify either.
    assert_ne!(
        message.signature,
        expected_signature(
            &secret,
            &message.id,
            &message.timestamp,
            &message.body.replace("Ada", "Eve")
        )
    );
    assert_eq!(message.timestamp, app.clock.now().secs().to_string());
    // The body: type, timestamp, data with the dashboard's view, never a token.
    let json = &message.json;
    assert_eq!(json["type"], "integration.connected");
    assert_eq!(json["timestamp"], "2027-01-15T08:00:00Z");
    assert_eq!(json["data"]["integration"]["id"], 1);
    assert_eq!(json["data"]["integration"]["accountId"], ADA);
    assert_eq!(json["data"]["integration"]["status"], "active");
    assert!(json["data"]["message"]
        .as_str()
        .expect("message")
        .contains("Connected"));
    for column in [
        engine::vault::Column::AccessToken,
        engine::vault::Column::RefreshToken,
    ] {
        let token = app.stored_token(1, column).await;
        assert!(!message.body.contains(&token), "a token in a webhook");
    }
}

#[tokio::test]
async fn every_event_type_fires_once_for_its_cause_and_not_for_others() {
    let (receiver, app) = app_with_receiver().await;
    let admin = Actor::User("admin@example.com".into());

    app.connect(ADA, &[ACME], None).await;
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.connected"]
    );

    // A re-authentication of a healthy integration: reauthenticated only.
    app.connect(ADA, &[ACME], Some(1)).await;
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.reauthenticated"]
    );

    // A transient 500 is not a reason to re-authenticate: nothing yet.
    app.sandbox.inject_fault(FaultKind::ServerError, 100);
    assert!(!app.engine.refresh(ONE, &admin).await.ok());
    assert!(delivered_types(&app, &receiver).await.is_empty());
    // Failing for ten minutes: refresh_failing, once per streak.
    app.clock.advance(10 * 60);
    assert!(!app.engine.refresh(ONE, &admin).await.ok());
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.refresh_failing"]
    );
    app.clock.advance(5 * 60);
    assert!(!app.engine.refresh(ONE, &admin).await.ok());
    assert!(delivered_types(&app, &receiver).await.is_empty());

    // The first success after the streak: recovered.
    app.sandbox.inject_fault(FaultKind::ServerError, 0);
    app.clock.advance(5 * 60);
    assert!(app.engine.refresh(ONE, &admin).await.ok());
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.recovered"]
    );
    // A plain success after that announces nothing.
    assert!(app.engine.refresh(ONE, &admin).await.ok());
    assert!(delivered_types(&app, &receiver).await.is_empty());

    // The grant revoked: needs_reauth with its reason, once.
    app.sandbox.revoke_grant(ADA);
    assert!(app.engine.refresh(ONE, &admin).await.requires_reauth());
    let got = needs_reauth_delivered(&app, &receiver, "refresh_token_rejected").await;
    assert_eq!(got.json["data"]["integration"]["status"], "needs_reauth");
    assert!(app.engine.refresh(ONE, &admin).await.requires_reauth());
    assert!(delivered_types(&app, &receiver).await.is_empty());

    // The re-authentication that repairs it: reauthenticated, then recovered.
    app.connect(ADA, &[ACME], Some(1)).await;
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.reauthenticated", "integration.recovered"]
    );

    // Disconnected through the dashboard's own server function.
    let (status, _) = app
        .post_form("/api/disconnect_integration", &[("id", "1")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.disconnected"]
    );

    // Connected again after a disconnect: connected, not reauthenticated.
    app.connect(ADA, &[ACME], None).await;
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.connected"]
    );
}

#[tokio::test]
async fn an_expired_grant_without_offline_access_fires_needs_reauth_once() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[
        "--webhook-url",
        &receiver.url,
        "--webhook-secret",
        SECRET,
        "--sandbox-withhold-refresh-tokens",
    ])
    .await;
    app.connect(GRACE, &[GLOBEX], None).await;
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.connected"]
    );
    app.clock.advance(3_601);
    assert_eq!(tick(&app.engine).await.flagged, [ONE]);
    needs_reauth_delivered(&app, &receiver, "no_offline_access").await;
    tick(&app.engine).await;
    assert!(delivered_types(&app, &receiver).await.is_empty());
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_same_webhook_id_three_times() {
    let (receiver, app) = app_with_receiver().await;
    let metrics_key = app
        .engine
        .create_api_key(
            "prometheus",
            &[domain::ApiScope::MetricsRead],
            &Actor::User("admin@example.com".into()),
        )
        .await
        .expect("key")
        .key;
    let delivered_before = deliveries_metric(&app, &metrics_key, "delivered").await;
    let failed_before = deliveries_metric(&app, &metrics_key, "failed").await;

    receiver.answer_next(&[500, 500]);
    app.connect(ADA, &[ACME], None).await;
    assert_eq!(deliver(&app).await.failed, 1);
    assert_nothing_to_deliver(&app, "not before its backoff...").await;
    // ...then again, and again.
    app.clock.advance(60);
    assert_eq!(deliver(&app).await.failed, 1);
    app.clock.advance(60);
    assert_eq!(deliver(&app).await.delivered, 1);
    app.clock.advance(3_600);
    assert_nothing_to_deliver(&app, "delivered once is done").await;

    let got = receiver.received();
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|r| r.id == got[0].id && r.body == got[0].body));
    // Each attempt is signed for its own timestamp.
    assert_ne!(got[0].timestamp, got[2].timestamp);
    for r in &got {
        assert_eq!(
            r.signature,
            expected_signature(SECRET, &r.id, &r.timestamp, &r.body)
        );
    }
    // Every attempt is logged and shown.
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_attempts").await, 3);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered' AND attempts = 3"
        )
        .await,
        1
    );
    let page = app.page_text("/settings").await;
    assert_eq!(
        page.matches("data-testid=\"webhook-attempt\"").count(),
        3,
        "{page}"
    );
    assert!(page.contains("HTTP 500"), "{page}");
    assert!(
        page.contains("the receiver answered 500 Internal Server Error"),
        "{page}"
    );
    // The metric moved with them (other tests of this process may add more).
    assert!(deliveries_metric(&app, &metrics_key, "delivered").await >= delivered_before + 1.0);
    assert!(deliveries_metric(&app, &metrics_key, "failed").await >= failed_before + 2.0);
}

async fn deliveries_metric(app: &TestApp, key: &str, result: &str) -> f64 {
    let text = anonymous()
        .get(app.url("/metrics"))
        .bearer_auth(key)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text");
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "jira_dashboard_webhook_deliveries_total"
                && s.labels.get("result") == Some(result)
        })
        .map_or(0.0, |s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
}

#[tokio::test]
async fn an_endpoint_failing_for_a_day_is_disabled_and_shown_as_such() {
    let (receiver, app) = app_with_receiver().await;
    receiver.fail_with(503);
    app.connect(ADA, &[ACME], None).await;
    let mut attempts = 0;
    for _ in 0..200 {
        attempts += deliver(&app).await.attempted;
        let enabled: bool =
            engine::db::query("SELECT (enabled = 1) AS enabled FROM webhook_endpoints")
                .scalar(&app.database)
                .await
                .expect("endpoint");
        if !enabled {
            break;
        }
        app.clock.advance(1_800);
    }
    // Retried with backoff, not hammered: tens of attempts in a day.
    assert!((10..60).contains(&attempts), "{attempts} attempts");
    let (enabled, reason): (bool, Option<String>) = engine::db::query(
        "SELECT (enabled = 1) AS enabled, disabled_reason FROM webhook_endpoints",
    )
    .fetch_one(&app.database)
    .await
    .expect("endpoint");
    assert!(!enabled);
    assert!(reason.expect("reason").contains("failed for 24 hours"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'failed'")
            .await,
        1
    );
    let page = app.page_text("/settings").await;
    assert!(page.contains("data-testid=\"webhook-disabled\""), "{page}");
    // A new event for a disabled endpoint is kept, not sent ("skipped");
    // once enabled, Redeliver sends what it missed.
    app.connect(GRACE, &[GLOBEX], None).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'skipped'")
            .await,
        1
    );
    assert_nothing_to_deliver(&app, "skipped while disabled").await;
    let id = environment_endpoint(&app).await;
    app.settings_form(&format!("/settings/webhooks/{id}/enable"), &[])
        .await;
    receiver.fail_with(200);
    receiver.clear();
    let deliveries: Vec<i64> = engine::db::query("SELECT id FROM webhook_deliveries ORDER BY id")
        .scalars(&app.database)
        .await
        .expect("ids");
    let redeliver = |delivery: i64| {
        let app = &app;
        async move {
            app.settings_form(
                &format!("/settings/webhooks/deliveries/{delivery}/redeliver"),
                &[],
            )
            .await
        }
    };
    for delivery in &deliveries {
        assert!(redeliver(*delivery).await.contains("webhook_redelivered"));
    }
    // A delivery already waiting to be tried is not queued twice.
    assert!(redeliver(deliveries[0]).await.contains("webhook_pending"));
    assert_eq!(deliver(&app).await.delivered, 2);
    assert_eq!(
        receiver.types(),
        ["integration.connected", "integration.connected"]
    );
    // "Redeliver undelivered" queues everything not received, in one go.
    assert!(app
        .settings_form(&format!("/settings/webhooks/{id}/redeliver"), &[])
        .await
        .contains("webhook_undelivered_queued"));
    assert_nothing_to_deliver(&app, "nothing was left undelivered").await;
}

#[tokio::test]
async fn send_test_event_and_redeliver_from_the_settings_page() {
    let (receiver, app) = app_with_receiver().await;
    let id = environment_endpoint(&app).await;
    app.settings_form(&format!("/settings/webhooks/{id}/test"), &[])
        .await;
    deliver(&app).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type(), "webhook.test");
    assert!(got[0].json["data"]["message"]
        .as_str()
        .expect("message")
        .contains("settings page"));
    let delivery: i64 = engine::db::query("SELECT id FROM webhook_deliveries")
        .scalar(&app.database)
        .await
        .expect("id");
    app.settings_form(
        &format!("/settings/webhooks/deliveries/{delivery}/redeliver"),
        &[],
    )
    .await;
    deliver(&app).await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, got[1].id);
    // The environment's endpoint cannot be deleted from the page.
    assert!(app
        .settings_form(&format!("/settings/webhooks/{id}/delete"), &[])
        .await
        .contains("webhook_from_environment"));
    // An unknown endpoint is named as such.
    assert!(app
        .settings_form("/settings/webhooks/999/test", &[])
        .await
        .contains("no_such_webhook"));
}

#[tokio::test]
async fn consent_expiring_fires_at_30_7_and_1_days_once_each() {
    let (receiver, app) = app_with_receiver().await;
    app.connect(ADA, &[ACME], None).await;
    let consented = app.clock.now();
    let ends = consented + 365 * DAY;
    assert_eq!(
        delivered_types(&app, &receiver).await,
        ["integration.connected"]
    );

    // Walk the clock to the end, a few days at a time: the scheduler keeps
    // the tokens fresh on the way and warns at each threshold, once.
    let mut warnings: Vec<(i64, i64)> = Vec::new();
    let mut marks = vec![
        ends - 30 * DAY - 1,
        ends - 30 * DAY,
        ends - 29 * DAY,
        ends - 7 * DAY - 60,
        ends - 7 * DAY,
    ];
    marks.extend([
        ends - 3 * DAY,
        ends - DAY - 60,
        ends - DAY,
        ends - DAY + 3_600,
        ends - 60,
    ]);
    let mut at = consented;
    while at < ends - 30 * DAY - 1 {
        let step = (20 * DAY).min(ends - 30 * DAY - 1 - at);
        app.clock.advance(step);
        at = at + step;
        tick(&app.engine).await;
    }
    for mark in marks {
        app.clock.advance(mark - at);
        at = mark;
        tick(&app.engine).await;
        receiver.clear();
        deliver(&app).await;
        for r in receiver.received() {
            assert_eq!(
                r.event_type(),
                "integration.consent_expiring",
                "{:?}",
                r.json
            );
            // Each warning carries a link that repairs the integration.
            let reconnect = r.json["data"]["reconnectUrl"]
                .as_str()
                .expect("reconnectUrl");
            assert!(reconnect.starts_with(&app.url("/connect/")), "{reconnect}");
            warnings.push((
                ends.secs() - mark.secs(),
                r.json["data"]["daysLeft"].as_i64().expect("daysLeft"),
            ));
        }
    }
    assert_eq!(
        warnings,
        [(30 * DAY, 30), (7 * DAY, 7), (DAY, 1)],
        "one warning at each threshold, at the threshold"
    );
    // Still alive the whole way (the warnings are about the future).
    let active: bool =
        engine::db::query("SELECT (is_active = 1) AS is_active FROM integrations WHERE id = 1")
            .scalar(&app.database)
            .await
            .expect("row");
    assert!(active);
    // A new consent starts the count over.
    app.connect(ADA, &[ACME], Some(1)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM integrations WHERE consent_warned_days IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_viewer_cannot_manage_webhooks() {
    let app = TestApp::spawn().await;
    let viewer = app
        .add_user("vera@example.com", "viewer-password-1", "viewer")
        .await;
    let res = viewer
        .post(app.url("/settings/webhooks"))
        .form(&[("url", "https://hooks.example.com/x")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_endpoints").await, 0);
    let page = viewer
        .get(app.url("/settings"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(!page.contains("data-testid=\"webhooks\""));
}

#[tokio::test]
async fn resealing_the_tokens_reseals_the_webhook_secrets_too() {
    const KEY_A: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";
    const KEY_B: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";
    // A database of its own, outside `LocalInstance`: this one stays on SQLite.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = engine::Database::open(&format!("sqlite://{}/db.sqlite", dir.path().display()))
        .await
        .expect("open");
    let old = engine::TokenVault::from_base64(KEY_B).expect("key");
    let secret = engine::Secret::new(SECRET);
    let id = db
        .insert_webhook_endpoint(
            engine::db::NewEndpointRow {
                url: "https://hooks.example.com/j",
                event_types: "",
                from_environment: false,
                created_by: None,
            },
            |id| old.encrypt_webhook_secret(id, &secret),
            &engine::db::NewAccountEvent {
                actor: "environment",
                action: "add_webhook",
                subject: "https://hooks.example.com",
                message: "Added webhook endpoint https://hooks.example.com/…",
            },
            domain::UnixTime(1),
        )
        .await
        .expect("db")
        .expect("sealed");
    let rotated = engine::TokenVault::from_key_list(&format!("{KEY_A},{KEY_B}")).expect("keys");
    assert_eq!(db.reseal_tokens(&rotated).await.expect("reseal"), 1);
    let sealed: Vec<u8> = engine::db::query("SELECT secret FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .scalar(&db)
        .await
        .expect("row");
    let new_only = engine::TokenVault::from_base64(KEY_A).expect("key");
    assert_eq!(
        new_only
            .decrypt_webhook_secret(id, &sealed)
            .expect("opens with the new key alone")
            .expose(),
        SECRET
    );
    assert!(old.decrypt_webhook_secret(id, &sealed).is_err());
}

#[tokio::test]
async fn consent_warnings_reach_every_due_integration_however_many() {
    let app = TestApp::spawn().await;
    let now = app.engine.now();
    // 1,100 integrations 20 days from the end of their consent, behind 600
    // whose consent has already ended (never warned, never in the way).
    for (n, consented) in (0..1_700).map(|n| {
        let ended = n < 600;
        let consented = if ended {
            now - 366 * DAY - n
        } else {
            now - 345 * DAY - n
        };
        (n, consented)
    }) {
        engine::db::query(
            "INSERT INTO integrations (account_id, account_name, scopes, refresh_token, expires_at,
                access_token_lifetime, consented_at, created_at, updated_at)
             VALUES ($1, $2, 'offline_access', $3, $4, 3600, $5, $6, $6)",
        )
        .bind(format!("account-{n}"))
        .bind(format!("Account {n}"))
        .bind(vec![0u8]) // bound: `x'00'` is a bit string on PostgreSQL
        .bind(now + 3_600)
        .bind(consented)
        .bind(now)
        .execute(&app.database)
        .await
        .expect("seed");
    }
    let warned = app.engine.warn_expiring_consents(now).await;
    assert_eq!(warned.len(), 1_100);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM integrations WHERE consent_warned_days = 30")
            .await,
        1_100
    );
    assert!(app.engine.warn_expiring_consents(now).await.is_empty());
}

#[tokio::test]
async fn finished_deliveries_are_pruned_after_30_days_and_pending_ones_kept() {
    let (receiver, app) = app_with_receiver().await;
    app.connect(ADA, &[ACME], None).await;
    deliver(&app).await;
    receiver.fail_with(500);
    app.connect(GRACE, &[GLOBEX], None).await;
    deliver(&app).await;
    app.clock.advance(31 * DAY);
    app.engine.prune_webhook_deliveries().await;
    // The delivered one went with its message and attempt; the failing one
    // (still pending) stays.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_messages").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_attempts").await, 1);
}

#[tokio::test]
async fn a_claim_keeps_each_endpoint_within_its_attempts_in_flight() {
    let (receiver, app) = app_with_receiver().await;
    let endpoint = environment_endpoint(&app).await;
    for n in 0..6 {
        app.engine
            .send_test_webhook(endpoint, &Actor::User(testkit::ADMIN_EMAIL.into()))
            .await
            .expect("queued");
        let _ = n;
    }
    let now = app.engine.now();
    // 3 attempts of this endpoint already running (per endpoint: 4): one more.
    let claimed = app
        .database
        .claim_webhook_deliveries(now, now + 15, 32, 4, &[(endpoint, 3)])
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    // Nothing running: up to 4 of the 5 left.
    let claimed = app
        .database
        .claim_webhook_deliveries(now, now + 15, 32, 4, &[])
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 4);
    // A receiver that does not answer holds back the endpoint's other
    // messages with the failed one, instead of each finding out.
    receiver.fail_with(503);
    app.clock.advance(16);
    let report = deliver(&app).await;
    assert_eq!(report.attempted, 4, "the per-endpoint cap holds in a round");
    assert_nothing_to_deliver(&app, "the rest wait with the failed ones").await;
}

#[tokio::test]
async fn plain_http_is_accepted_only_to_a_private_address() {
    let app = TestApp::spawn().await;
    let admin = Actor::User("admin@example.com".into());
    let events = domain::WebhookEvent::SUBSCRIBABLE;
    for allow in [false, true] {
        app.engine
            .set_webhook_settings(
                engine::webhooks::WebhookSettings {
                    allow_private_addresses: allow,
                },
                &admin,
            )
            .await
            .expect("settings");
        let err = app
            .engine
            .add_webhook_endpoint("http://8.8.8.8/hook", events, &admin)
            .await
            .expect_err("plain http to a public address");
        assert!(err.to_string().contains("https://"), "{err}");
    }
    // Allowed private addresses may be plain http (a receiver on the company network).
    app.engine
        .add_webhook_endpoint("http://10.1.2.3/hook", events, &admin)
        .await
        .expect("private http, allowed");
    // https to a public address is what the rule is for.
    app.engine
        .add_webhook_endpoint("https://8.8.8.8/hook", events, &admin)
        .await
        .expect("public https");
}
