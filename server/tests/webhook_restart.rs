//! At least once, across a crash: the real server binary commits a change,
//! starts delivering its webhook to a receiver that never answers, and is
//! killed (`SIGKILL`) mid-attempt. A new process on the same database delivers
//! the same message, with the same `webhook-id`, once the dead attempt's lease
//! runs out.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use testkit::receiver::{expected_signature, Receiver};
use testkit::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const KEY: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";

/// A free local port (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// The server binary on `port`, database in `dir`, sending webhooks to `hook`.
fn server(dir: &std::path::Path, port: u16, hook: &str) -> Child {
    Command::new(testkit::server_binary!())
        .current_dir(dir)
        .env_remove("JIRA_CLIENT_ID")
        .env_remove("TOKEN_ENCRYPTION_KEYS")
        .env("TOKEN_ENCRYPTION_KEY", KEY)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.display()),
        )
        .env(
            "JIRA_REDIRECT_URI",
            format!("http://127.0.0.1:{port}/oauth/callback"),
        )
        .env("ADMIN_EMAIL", "admin@example.com")
        .env("ADMIN_PASSWORD", "restart-test-password")
        .env("WEBHOOK_URL", hook)
        .env("WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run server")
}

async fn wait_until_up(base: &str) {
    for _ in 0..200 {
        if let Ok(res) = reqwest::get(format!("{base}/healthz")).await {
            if res.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

/// Signs in and connects Ada through the binary's built-in sandbox, over HTTP.
async fn connect_ada(base: &str) {
    let session = sign_in(base, "admin@example.com", "restart-test-password")
        .await
        .expect("signed in");
    let http = client_with_session(&session);
    let res = http
        .get(format!("{base}/oauth/start"))
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let binding = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("jira_oauth_binding="))
        .and_then(|c| c.split(';').next())
        .expect("binding cookie")
        .to_owned();
    let authorize = url::Url::parse(res.headers()[LOCATION].to_str().expect("ascii")).expect("url");
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.extend([
        ("decision".to_owned(), "accept".to_owned()),
        ("account".to_owned(), ADA.to_owned()),
        ("site".to_owned(), ACME.to_owned()),
    ]);
    let res = http
        .post(format!("{base}/sandbox/authorize"))
        .form(&form)
        .send()
        .await
        .expect("consent");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let callback = res.headers()[LOCATION].to_str().expect("ascii").to_owned();
    let res = anonymous()
        .get(callback)
        .header(COOKIE, format!("{session}; {binding}"))
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers()[LOCATION]
        .to_str()
        .expect("ascii")
        .contains("flash=connected"));
}

#[tokio::test]
async fn a_webhook_whose_sender_was_killed_mid_attempt_is_delivered_after_the_restart() {
    let receiver = Receiver::start().await;
    receiver.hang(true);
    let dir = tempfile::tempdir().expect("temp dir");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = server(dir.path(), port, &receiver.url);
    wait_until_up(&base).await;
    connect_ada(&base).await;
    // The first process is sending: the receiver holds the request open.
    let got = receiver.wait_for(1, 20).await;
    assert_eq!(got.len(), 1, "the first process started delivering");
    first.kill().expect("kill -9");
    first.wait().expect("reaped");

    receiver.hang(false);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut second = server(dir.path(), port, &receiver.url);
    wait_until_up(&base).await;
    // The dead attempt's lease (its 10 s timeout and a margin) runs out, then
    // the new process delivers the same message.
    let got = receiver.wait_for(2, 45).await;
    // The receiver has the request; the process records the answer a moment
    // later: wait for that before stopping it.
    let db = engine::Database::open(&format!("sqlite://{}/db.sqlite", dir.path().display()))
        .await
        .expect("open");
    let mut state = String::new();
    for _ in 0..100 {
        state = engine::db::query("SELECT state FROM webhook_deliveries")
            .scalar(&db)
            .await
            .expect("delivery");
        if state == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(got.len(), 2, "delivered again after the restart");
    assert_eq!(got[0].id, got[1].id);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(got[1].event_type(), "integration.connected");
    assert_eq!(
        got[1].signature,
        expected_signature(SECRET, &got[1].id, &got[1].timestamp, &got[1].body)
    );
    // The binary runs on its own SQLite file (this test starts it by hand,
    // not through `LocalInstance`), so this test stays on SQLite.
    assert_eq!(state, "delivered");
}
