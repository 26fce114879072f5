//! The account log of webhook changes, over real HTTP: every change an
//! administrator makes to the webhooks (allowing private addresses, adding,
//! testing, disabling, enabling, redelivering, deleting an endpoint) is an
//! entry naming the admin and the endpoint (by its origin, never its path or
//! secret); a refused change logs nothing; the endpoint of `WEBHOOK_URL` is
//! logged as the environment's, and only when the environment changes it.

use reqwest::StatusCode;
use testkit::receiver::Receiver;
use testkit::ADMIN_EMAIL;
use testkit::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OTHER_SECRET: &str = "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB";

/// The account log's webhook entries, oldest first: (actor, action, message).
async fn webhook_log(app: &TestApp) -> Vec<(String, String, String)> {
    engine::db::query(
        "SELECT actor, action, message FROM account_events
         WHERE action LIKE '%webhook%' ORDER BY id",
    )
    .fetch_all(&app.database)
    .await
    .expect("account log")
}

fn only(log: &[(String, String, String)], action: &str) -> String {
    let found: Vec<&String> = log
        .iter()
        .filter(|(_, a, _)| a == action)
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(found.len(), 1, "one {action} in {log:?}");
    found[0].clone()
}

#[tokio::test]
async fn every_webhook_change_names_the_admin_in_the_account_log() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let admin = format!("user:{ADMIN_EMAIL}");
    // The receiver's origin; its path and a credential in the query stay out
    // of the log.
    let origin = receiver.url.trim_end_matches("/hook").to_owned();
    let url = format!("{}?key=receiver-credential", receiver.url);

    // Refused changes log nothing: a bad URL, a loopback address while the
    // address rule is on, an unknown endpoint, the same setting saved again.
    for bad in ["ftp://hooks.example.com/", url.as_str()] {
        let (status, _) = app.post_form("/settings/webhooks", &[("url", bad)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    for action in ["test", "enable", "disable", "delete", "redeliver"] {
        assert!(
            app.settings_form(&format!("/settings/webhooks/999/{action}"), &[])
                .await
                .contains("no_such_webhook"),
            "{action}"
        );
    }
    app.settings_form("/settings/webhooks/deliveries/999/redeliver", &[])
        .await;
    app.settings_form("/settings/webhooks/settings", &[]).await;
    assert_eq!(webhook_log(&app).await, vec![], "nothing happened");

    // Allowing private addresses: the address rule is off, and the log says so.
    app.settings_form("/settings/webhooks/settings", &[("allow_private", "on")])
        .await;
    app.settings_form("/settings/webhooks/settings", &[("allow_private", "on")])
        .await;
    let log = webhook_log(&app).await;
    assert_eq!(log.len(), 1, "saved unchanged, logged once: {log:?}");
    assert!(only(&log, "allow_private_webhooks").contains("address rule is off"));

    // Added, with its secret shown once on the page (and nowhere in the log).
    let (status, page) = app
        .post_form(
            "/settings/webhooks",
            &[("url", url.as_str()), ("integration.connected", "on")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let page = page.as_str().expect("html").to_owned();
    let start = page.find("whsec_").expect("the secret, shown once");
    let secret: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "_+/=".contains(*c))
        .collect();
    let id: i64 = engine::db::query("SELECT id FROM webhook_endpoints")
        .scalar(&app.database)
        .await
        .expect("the endpoint");
    let added = only(&webhook_log(&app).await, "add_webhook");
    assert_eq!(
        added,
        format!(
            "Added webhook endpoint {origin}/… (not a public address: private addresses are allowed) for integration.connected"
        )
    );

    // A test event, and that delivery sent again.
    app.settings_form(&format!("/settings/webhooks/{id}/test"), &[])
        .await;
    app.engine.deliver_webhooks().await;
    assert_eq!(receiver.received().len(), 1);
    let delivery: i64 = engine::db::query("SELECT id FROM webhook_deliveries")
        .scalar(&app.database)
        .await
        .expect("the delivery");
    let message_id = receiver.received()[0].id.clone();
    assert!(app
        .settings_form(
            &format!("/settings/webhooks/deliveries/{delivery}/redeliver"),
            &[],
        )
        .await
        .contains("webhook_redelivered"));
    // Waiting for its attempt already: refused, not logged again.
    assert!(app
        .settings_form(
            &format!("/settings/webhooks/deliveries/{delivery}/redeliver"),
            &[],
        )
        .await
        .contains("webhook_pending"));
    app.engine.deliver_webhooks().await;

    // Disabled: a connection meanwhile is skipped; a test event is refused.
    app.settings_form(&format!("/settings/webhooks/{id}/disable"), &[])
        .await;
    assert!(app
        .settings_form(&format!("/settings/webhooks/{id}/test"), &[])
        .await
        .contains("webhook_cannot_send"));
    app.connect(ADA, &[ACME], None).await;
    // Enabled again, then sent what it missed.
    app.settings_form(&format!("/settings/webhooks/{id}/enable"), &[])
        .await;
    app.settings_form(&format!("/settings/webhooks/{id}/redeliver"), &[])
        .await;
    // Nothing left undelivered: nothing to log.
    app.settings_form(&format!("/settings/webhooks/{id}/redeliver"), &[])
        .await;
    app.settings_form(&format!("/settings/webhooks/{id}/delete"), &[])
        .await;
    app.settings_form("/settings/webhooks/settings", &[]).await;

    let log = webhook_log(&app).await;
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|(actor, action, _)| (actor.as_str(), action.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (admin.as_str(), "allow_private_webhooks"),
            (admin.as_str(), "add_webhook"),
            (admin.as_str(), "test_webhook"),
            (admin.as_str(), "redeliver_webhook"),
            (admin.as_str(), "disable_webhook"),
            (admin.as_str(), "enable_webhook"),
            (admin.as_str(), "redeliver_webhooks"),
            (admin.as_str(), "delete_webhook"),
            (admin.as_str(), "forbid_private_webhooks"),
        ]
    );
    let endpoint = format!("webhook endpoint {origin}/…");
    for (action, sentence) in [
        ("test_webhook", format!("Sent a test event to {endpoint}")),
        (
            "redeliver_webhook",
            format!("Sent message {message_id} (webhook.test) again to {endpoint}"),
        ),
        ("disable_webhook", format!("Disabled {endpoint}")),
        ("enable_webhook", format!("Enabled {endpoint}")),
        (
            "redeliver_webhooks",
            format!("Sent 1 undelivered message again to {endpoint}"),
        ),
        (
            "delete_webhook",
            format!("Deleted {endpoint} with its deliveries"),
        ),
    ] {
        assert_eq!(only(&log, action), sentence);
    }
    assert!(only(&log, "forbid_private_webhooks").contains("address rule is on again"));
    // Never the path, the receiver's credential or the signing secret.
    let everything: Vec<String> = engine::db::query(
        "SELECT actor || ' ' || action || ' ' || subject || ' ' || message FROM account_events",
    )
    .scalars(&app.database)
    .await
    .expect("account log");
    for entry in &everything {
        for hidden in ["/hook", "receiver-credential", secret.as_str()] {
            assert!(!entry.contains(hidden), "{hidden} in {entry}");
        }
    }

    // The settings page shows the entries, naming the admin.
    let page = app.page_text("/settings").await;
    let shown = page
        .split("class=\"plain account-log\"")
        .nth(1)
        .expect("the account log on the page");
    assert!(shown.contains(&format!("Deleted {endpoint} with its deliveries")));
    assert!(shown.contains("the address rule is off"));
    assert!(shown.contains(&format!("<strong>{ADMIN_EMAIL}</strong>")));
}

#[tokio::test]
async fn the_environment_endpoint_is_logged_when_the_environment_changes_it() {
    let receiver = Receiver::start().await;
    let app =
        TestApp::spawn_with(&["--webhook-url", &receiver.url, "--webhook-secret", SECRET]).await;
    let origin = receiver.url.trim_end_matches("/hook").to_owned();
    let log = webhook_log(&app).await;
    assert_eq!(
        log,
        vec![(
            "environment".to_owned(),
            "add_webhook".to_owned(),
            format!("Added webhook endpoint {origin}/… from WEBHOOK_URL for every event type"),
        )]
    );

    // The next start with the same variables (what start-up calls) is quiet.
    let url = url::Url::parse(&receiver.url).expect("url");
    let same = engine::Secret::new(SECRET);
    let other = engine::Secret::new(OTHER_SECRET);
    app.engine
        .configure_environment_webhook(Some((&url, &same)))
        .await
        .expect("in step");
    assert_eq!(webhook_log(&app).await.len(), 1, "nothing changed");

    // A new secret, then a new URL: each logged as the environment's.
    app.engine
        .configure_environment_webhook(Some((&url, &other)))
        .await
        .expect("in step");
    let moved = url::Url::parse("https://hooks.example.com/jira").expect("url");
    app.engine
        .configure_environment_webhook(Some((&moved, &other)))
        .await
        .expect("in step");
    // A restart without WEBHOOK_URL removes it.
    let restarted = app.restart().await;
    let log = webhook_log(&restarted).await;
    let entries: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        entries[1..],
        [
            (
                "environment",
                "change_webhook",
                format!("WEBHOOK_SECRET changed: webhook endpoint {origin}/… signs with the new secret").as_str(),
            ),
            (
                "environment",
                "change_webhook",
                format!("WEBHOOK_URL changed: the endpoint now sends to https://hooks.example.com/… (was {origin}/…)").as_str(),
            ),
            (
                "environment",
                "delete_webhook",
                "Removed webhook endpoint https://hooks.example.com/…: WEBHOOK_URL is no longer set",
            ),
        ]
    );
    for (_, _, message) in &log {
        assert!(!message.contains(SECRET) && !message.contains(OTHER_SECRET));
    }
    // The page names the environment as the actor.
    let page = restarted.page_text("/settings").await;
    assert!(page.contains("<strong>environment</strong>"), "{page}");
}
