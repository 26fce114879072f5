//! Accounts and sign-in (issue 13), over real HTTP: who may pass the guard,
//! the roles, the throttle, the session's life (renewed at sign-in, ended by
//! sign-out, removal and a password change), the first administrator's
//! one-time link, the host allowlist, the security headers, and the events
//! that name who acted.

use std::sync::Arc;

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, RETRY_AFTER, SET_COOKIE};
use reqwest::StatusCode;
use testkit::*;
use testkit::{ADMIN_EMAIL, ADMIN_PASSWORD};

const PASSWORD: &str = "a password long enough";

/// Adds a user with `role` through the settings form (as the administrator)
/// and signs them in: their client.
async fn user(app: &TestApp, email: &str, role: &str) -> reqwest::Client {
    app.add_user(email, PASSWORD, role).await
}

async fn post(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> reqwest::Response {
    client.post(url).form(form).send().await.expect("post")
}

async fn get(client: &reqwest::Client, url: String) -> reqwest::Response {
    client.get(url).send().await.expect("get")
}

/// The administrator's password form: `current`, then `new` twice.
async fn change_password(app: &TestApp, current: &str, new: &str) -> reqwest::Response {
    app.post(
        "/settings/password",
        &[("current", current), ("new", new), ("confirm", new)],
    )
    .await
}

#[tokio::test]
async fn a_stranger_is_sent_to_sign_in_and_programs_get_401_json() {
    let app = TestApp::spawn().await;
    let stranger = anonymous();
    for path in [
        "/dashboard",
        "/integrations/1",
        "/settings",
        "/oauth/start",
        "/",
    ] {
        let res = get(&stranger, app.url(path)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let to = location(&res);
        assert!(to.starts_with("/login?next="), "{path} -> {to}");
    }
    let res = get(&stranger, app.url("/integrations/7?x=1")).await;
    assert_eq!(location(&res), "/login?next=%2Fintegrations%2F7%3Fx%3D1");
    for path in [
        "/api/list_integrations",
        "/api/dashboard_page",
        "/api/refresh_integration",
        "/api/settings_page",
        "/api/not_a_function",
    ] {
        let res = post(&stranger, app.url(path), &[("id", "1")]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["error"], "unauthenticated", "{path}");
    }
    for path in ["/settings/users", "/settings/password", "/logout"] {
        let res = post(&stranger, app.url(path), &[]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // Open to anyone: the sign-in page, the probe, the stylesheet, the sandbox.
    for path in ["/login", "/healthz", "/sandbox/authorize?client_id=x"] {
        let res = get(&stranger, app.url(path)).await;
        assert_ne!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(!res.status().is_redirection(), "{path}");
    }
}

#[tokio::test]
async fn each_role_may_do_what_it_holds_and_the_server_refuses_the_rest_with_403() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let viewer = user(&app, "vera@example.com", "viewer").await;
    let operator = user(&app, "otto@example.com", "operator").await;

    // Everyone reads.
    for client in [&viewer, &operator, &app.http] {
        let res = post(client, app.url("/api/list_integrations"), &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            get(client, app.url("/dashboard")).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            get(client, app.url("/integrations/1")).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            get(client, app.url("/settings")).await.status(),
            StatusCode::OK
        );
    }
    // A viewer changes nothing: every operating function and route is refused.
    for path in [
        "/api/refresh_integration",
        "/api/test_connection",
        "/api/disconnect_integration",
    ] {
        let res = post(&viewer, app.url(path), &[("id", "1")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let body: serde_json::Value = res.json().await.expect("json");
        assert_eq!(body["error"], "forbidden");
        assert!(
            body["message"].as_str().unwrap_or("").contains("viewer"),
            "{body}"
        );
    }
    let states = app.count("SELECT COUNT(*) FROM oauth_states").await;
    let res = get(&viewer, app.url("/oauth/start")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.expect("page").contains("Not allowed"));
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_states").await, states);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM integrations WHERE disconnected_at IS NULL")
            .await,
        1,
        "the viewer's disconnect changed nothing"
    );
    // ...and sees no button that would change anything.
    let html = get(&viewer, app.url("/dashboard"))
        .await
        .text()
        .await
        .expect("html");
    for button in [
        ">Refresh token</button>",
        ">Test connection</button>",
        ">Disconnect</button>",
        ">Start OAuth Flow</a>",
        ">Re-authenticate</a>",
    ] {
        assert!(!html.contains(button), "a viewer sees no {button:?}");
    }
    assert!(
        html.contains("vera@example.com"),
        "the header names who is signed in"
    );

    // An operator operates, but does not administer.
    let res = post(
        &operator,
        app.url("/api/refresh_integration"),
        &[("id", "1")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = get(&operator, app.url("/dashboard"))
        .await
        .text()
        .await
        .expect("html");
    assert!(html.contains(">Refresh token</button>") && html.contains(">Start OAuth Flow</a>"));
    let res = post(
        &operator,
        app.url("/settings/users"),
        &[
            ("email", "eve@example.com"),
            ("password", PASSWORD),
            ("role", "admin"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    for path in ["/settings/users/1/role", "/settings/users/1/remove"] {
        let res = post(&operator, app.url(path), &[("role", "viewer")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 3);
    let settings = get(&operator, app.url("/settings"))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        !settings.contains("Add a user"),
        "only admins see the users"
    );
}

#[tokio::test]
async fn every_change_names_who_made_it() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    let operator = user(&app, "otto@example.com", "operator").await;
    post(
        &operator,
        app.url("/api/refresh_integration"),
        &[("id", "1")],
    )
    .await;
    post(&operator, app.url("/api/test_connection"), &[("id", "1")]).await;
    app.engine
        .refresh(domain::IntegrationId(1), &domain::Actor::Scheduler)
        .await;
    // The integration page shows who did it.
    let (status, detail) = app
        .post_form("/api/integration_detail", &[("id", "1")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let shown: Vec<&str> = detail["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["actor"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        shown,
        vec![
            "scheduler",
            "otto@example.com",
            "otto@example.com",
            ADMIN_EMAIL
        ]
    );
    post(
        &operator,
        app.url("/api/disconnect_integration"),
        &[("id", "1")],
    )
    .await;
    let actors: Vec<(String, Option<String>)> =
        engine::db::query("SELECT kind, actor FROM token_events ORDER BY id")
            .fetch_all(&app.database)
            .await
            .expect("events");
    let admin = format!("user:{ADMIN_EMAIL}");
    let otto = "user:otto@example.com".to_owned();
    assert_eq!(
        actors,
        vec![
            ("connect".to_owned(), Some(admin.clone())),
            ("refresh".to_owned(), Some(otto.clone())),
            ("test_connection".to_owned(), Some(otto.clone())),
            ("refresh".to_owned(), Some("scheduler".to_owned())),
            ("disconnect".to_owned(), Some(otto.clone())),
        ]
    );
    // The account log names the admin who added the operator.
    let log: Vec<(String, String)> =
        engine::db::query("SELECT actor, action FROM account_events ORDER BY id")
            .fetch_all(&app.database)
            .await
            .expect("account log");
    assert_eq!(log.last(), Some(&(admin, "add_user".to_owned())));
}

#[tokio::test]
async fn five_failures_per_email_and_address_or_twenty_per_address_close_the_door_for_15_minutes() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        let refused = sign_in(&app.base, ADMIN_EMAIL, "wrong password").await;
        assert_eq!(refused.expect_err("wrong").0, StatusCode::UNAUTHORIZED);
    }
    // The sixth attempt is refused unseen, even with the right password.
    let res = post(
        &anonymous(),
        app.url("/login"),
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = res.headers()[RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry), "{retry}");
    assert!(session_cookie(&res).is_none());
    // Fifteen minutes later the door opens again.
    app.clock.advance(901);
    sign_in(&app.base, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("signs in after the window");

    // One client address trying many emails is throttled too, after twenty.
    for i in 0..20 {
        let email = format!("nobody{i}@example.com");
        let refused = sign_in(&app.base, &email, "whatever password").await;
        assert_eq!(refused.expect_err("unknown").0, StatusCode::UNAUTHORIZED);
    }
    let res = post(
        &anonymous(),
        app.url("/login"),
        &[("email", "someone-new@example.com"), ("password", "x")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A sign-in from `client` (behind the trusted proxy at 127.0.0.1): its status.
async fn attempt_from(app: &TestApp, client: &str, email: &str, password: &str) -> StatusCode {
    anonymous()
        .post(app.url("/login"))
        .header("x-forwarded-for", client)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("post")
        .status()
}

#[tokio::test]
async fn a_stranger_guessing_an_email_cannot_lock_its_owner_out() {
    let app = TestApp::spawn_with(&["--trusted-proxies", "127.0.0.1"]).await;
    let attacker = "198.51.100.1";
    for _ in 0..5 {
        assert_eq!(
            attempt_from(&app, attacker, ADMIN_EMAIL, "a wrong guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // The attacker's address is refused for this email ...
    assert_eq!(
        attempt_from(&app, attacker, ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... the owner, elsewhere, signs in with the right password.
    assert_eq!(
        attempt_from(&app, "203.0.113.7", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::SEE_OTHER
    );
    // Renewed for fifteen minutes, again and again: the owner still gets in.
    for _ in 0..3 {
        app.clock.advance(901);
        for _ in 0..5 {
            attempt_from(&app, attacker, ADMIN_EMAIL, "a wrong guess").await;
        }
        assert_eq!(
            attempt_from(&app, "203.0.113.7", ADMIN_EMAIL, ADMIN_PASSWORD).await,
            StatusCode::SEE_OTHER
        );
    }
}

#[tokio::test]
async fn an_email_guessed_from_many_addresses_slows_down_but_its_owner_gets_in() {
    let app = TestApp::spawn_with(&["--trusted-proxies", "127.0.0.1"]).await;
    // Five addresses, one guess each: each heard (none had failed before).
    for i in 1..=5 {
        assert_eq!(
            attempt_from(
                &app,
                &format!("198.51.100.{i}"),
                ADMIN_EMAIL,
                "a wrong guess"
            )
            .await,
            StatusCode::UNAUTHORIZED
        );
    }
    // A second guess from an address that failed: the email now has five
    // failures, so it waits 2 s after the newest.
    let res = anonymous()
        .post(app.url("/login"))
        .header("x-forwarded-for", "198.51.100.1")
        .form(&[("email", ADMIN_EMAIL), ("password", "another guess")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()[RETRY_AFTER], "2");
    app.clock.advance(2);
    assert_eq!(
        attempt_from(&app, "198.51.100.1", ADMIN_EMAIL, "another guess").await,
        StatusCode::UNAUTHORIZED
    );
    // Six failures now: 4 s.
    app.clock.advance(3);
    assert_eq!(
        attempt_from(&app, "198.51.100.2", ADMIN_EMAIL, "a third guess").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A clean address is heard at once: the owner's right password works.
    assert_eq!(
        attempt_from(&app, "203.0.113.7", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn ipv6_clients_are_counted_by_their_64() {
    let app = TestApp::spawn_with(&["--trusted-proxies", "127.0.0.1"]).await;
    // Five failures from five addresses of one /64 ...
    for i in 1..=5 {
        assert_eq!(
            attempt_from(
                &app,
                &format!("2001:db8:7:7::{i}"),
                ADMIN_EMAIL,
                "a wrong guess"
            )
            .await,
            StatusCode::UNAUTHORIZED
        );
    }
    // ... close the door for the whole /64 ...
    assert_eq!(
        attempt_from(&app, "2001:db8:7:7:ffff::99", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... not for the next network.
    assert_eq!(
        attempt_from(&app, "2001:db8:7:8::1", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let answer = |email: &'static str| {
        let url = app.url("/login");
        async move {
            let res = post(
                &anonymous(),
                url,
                &[("email", email), ("password", "not the password")],
            )
            .await;
            let status = res.status();
            let body = res.text().await.expect("body").replace(email, "EMAIL");
            (status, body)
        }
    };
    let unknown = answer("nobody@example.com").await;
    let wrong = answer(ADMIN_EMAIL).await;
    assert_eq!(unknown, wrong);
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert!(
        unknown.1.contains("Wrong email or password."),
        "{}",
        unknown.1
    );
}

#[tokio::test]
async fn signing_in_renews_the_session_id_and_signing_out_ends_it() {
    let app = TestApp::spawn().await;
    let first = app.session.clone();
    // Signing in again from a browser that presents its old session (or one
    // an attacker planted) gets a new id; the old one is worthless.
    for presented in [
        first.clone(),
        "jira_dashboard_session=planted-by-an-attacker".to_owned(),
    ] {
        let res = anonymous()
            .post(app.url("/login"))
            .header(COOKIE, &presented)
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .expect("sign in");
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let renewed = session_cookie(&res).expect("a session cookie");
        assert_ne!(renewed, presented);
    }
    let old = client_with_session(&first);
    let res = post(&old, app.url("/api/list_integrations"), &[]).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the old id no longer signs anyone in"
    );

    // The cookie's attributes.
    let res = post(
        &anonymous(),
        app.url("/login"),
        &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
    )
    .await;
    let set_cookie = session_set_cookie(&res);
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    let mine = client_with_session(&session_cookie(&res).expect("cookie"));
    // Signing out ends the session.
    let res = post(&mine, app.url("/logout"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login");
    let res = post(&mine, app.url("/api/list_integrations"), &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_https_public_url_makes_the_cookie_secure_and_host_bound() {
    let clock = engine::ManualClock::new(1_800_000_000);
    let instance = testkit::LocalInstance::start(
        &[
            "--public-url",
            "https://dash.example.com",
            "--jira-redirect-uri",
            "https://dash.example.com/oauth/callback",
        ],
        Arc::new(clock),
    )
    .await
    .expect("start");
    let res = anonymous()
        .post(format!("{}/login", instance.base))
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .expect("sign in");
    let set_cookie = session_set_cookie(&res);
    assert!(
        set_cookie.starts_with("__Host-jira_dashboard_session="),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[tokio::test]
async fn removing_a_user_ends_their_sessions_and_the_last_admin_stays() {
    let app = TestApp::spawn().await;
    let viewer = user(&app, "vera@example.com", "viewer").await;
    let id: i64 = engine::db::query("SELECT id FROM users WHERE email = 'vera@example.com'")
        .scalar(&app.database)
        .await
        .expect("id");
    let res = app.post(&format!("/settings/users/{id}/remove"), &[]).await;
    assert_eq!(location(&res), "/settings?notice=user_removed");
    let res = post(&viewer, app.url("/api/list_integrations"), &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The only administrator can be neither removed nor demoted.
    let admin_id: i64 = engine::db::query("SELECT id FROM users WHERE role = 'admin'")
        .scalar(&app.database)
        .await
        .expect("admin");
    let res = app
        .post(&format!("/settings/users/{admin_id}/remove"), &[])
        .await;
    assert_eq!(location(&res), "/settings?notice=last_admin");
    let res = app
        .post(
            &format!("/settings/users/{admin_id}/role"),
            &[("role", "viewer")],
        )
        .await;
    assert_eq!(location(&res), "/settings?notice=last_admin");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .await,
        1
    );
    // With a second admin, the first may step down.
    user(&app, "ada-admin@example.com", "admin").await;
    let res = app
        .post(
            &format!("/settings/users/{admin_id}/role"),
            &[("role", "operator")],
        )
        .await;
    assert_eq!(location(&res), "/settings?notice=role_changed");
    let res = app
        .post(
            "/settings/users",
            &[
                ("email", "x@example.com"),
                ("password", PASSWORD),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "the role change applies at once"
    );
    // The page shows the notice's fixed sentence, never text from the address.
    let html = app
        .get("/settings?notice=<script>")
        .await
        .text()
        .await
        .expect("html");
    assert!(!html.contains("<script>alert"), "{html}");
}

#[tokio::test]
async fn a_password_change_needs_the_old_one_and_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let other = client_with_session(
        &sign_in(&app.base, ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("second session"),
    );
    let res = change_password(&app, "not it at all", "a brand new password").await;
    assert_eq!(location(&res), "/settings?notice=wrong_password");
    let res = change_password(&app, ADMIN_PASSWORD, "short").await;
    assert_eq!(location(&res), "/settings?notice=bad_password");
    let res = change_password(&app, ADMIN_PASSWORD, "a brand new password").await;
    assert_eq!(location(&res), "/settings?notice=password_changed");
    // This session goes on; the other one has ended.
    let renewed = session_cookie(&res);
    let this = match renewed {
        Some(cookie) => client_with_session(&cookie),
        None => app.http.clone(),
    };
    assert_eq!(
        post(&this, app.url("/api/list_integrations"), &[])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        post(&other, app.url("/api/list_integrations"), &[])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(sign_in(&app.base, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .is_err());
    sign_in(&app.base, ADMIN_EMAIL, "a brand new password")
        .await
        .expect("the new password works");
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let clock = engine::ManualClock::new(1_800_000_000);
    let instance = testkit::LocalInstance::start_without_accounts(&[], Arc::new(clock))
        .await
        .expect("start");
    let link = instance
        .setup_link
        .clone()
        .expect("a setup link while no account exists");
    assert!(
        link.starts_with(&format!("{}/setup?token=", instance.base)),
        "{link}"
    );
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let browser = anonymous();
    let page = browser
        .get(format!("{}/login", instance.base))
        .send()
        .await
        .expect("login");
    assert!(page
        .text()
        .await
        .expect("page")
        .contains("No account exists yet"));
    // A wrong token opens nothing.
    let res = browser
        .get(format!("{}/setup?token=not-the-token", instance.base))
        .send()
        .await
        .expect("setup");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = browser.get(&link).send().await.expect("setup");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .expect("page")
        .contains("Create the first administrator"));
    let form = [
        ("token", token.as_str()),
        ("email", "First@Example.com"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let res = browser
        .post(format!("{}/setup", instance.base))
        .form(&form)
        .send()
        .await
        .expect("set up");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/dashboard");
    let admin = client_with_session(&session_cookie(&res).expect("signed in at once"));
    let html = admin
        .get(format!("{}/settings", instance.base))
        .send()
        .await
        .expect("settings")
        .text()
        .await
        .expect("html");
    assert!(html.contains("first@example.com"), "{html}");
    assert!(html.contains("Add a user"), "an administrator: {html}");
    // Used once: the link is spent, for a second administrator too.
    let second = [
        ("token", token.as_str()),
        ("email", "second@example.com"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let res = browser
        .post(format!("{}/setup", instance.base))
        .form(&second)
        .send()
        .await
        .expect("again");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = browser.get(&link).send().await.expect("again");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let users: i64 = engine::db::query("SELECT COUNT(*) FROM users")
        .scalar(&instance.database)
        .await
        .expect("count");
    assert_eq!(users, 1);
}

#[tokio::test]
async fn only_our_own_host_names_are_served() {
    let app = TestApp::spawn().await;
    for (host, expected) in [
        ("evil.example", StatusCode::MISDIRECTED_REQUEST),
        ("evil.example:80", StatusCode::MISDIRECTED_REQUEST),
        ("127.0.0.1.evil.example", StatusCode::MISDIRECTED_REQUEST),
        ("localhost", StatusCode::OK),
        ("127.0.0.1", StatusCode::OK),
    ] {
        for path in ["/dashboard", "/sandbox/authorize?client_id=x"] {
            let res = app
                .http
                .get(app.url(path))
                .header("host", host)
                .send()
                .await
                .expect("get");
            if expected == StatusCode::OK {
                assert_ne!(
                    res.status(),
                    StatusCode::MISDIRECTED_REQUEST,
                    "{host}{path}"
                );
            } else {
                assert_eq!(res.status(), expected, "{host}{path}");
            }
        }
        // A rebinding page cannot pass the cross-site check with its own Host either.
        let res = app
            .http
            .post(app.url("/api/refresh_integration"))
            .header("host", host)
            .header("origin", format!("http://{host}"))
            .form(&[("id", "1")])
            .send()
            .await
            .expect("post");
        if expected != StatusCode::OK {
            assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
        }
    }
    // Probes answer whatever the name.
    let res = app
        .http
        .get(app.url("/healthz"))
        .header("host", "10.1.2.3:3000")
        .send()
        .await
        .expect("probe");
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let stranger = anonymous();
    let answers = vec![
        ("dashboard", app.get("/dashboard").await),
        ("settings", app.get("/settings").await),
        ("login", get(&stranger, app.url("/login")).await),
        (
            "401",
            post(&stranger, app.url("/api/list_integrations"), &[]).await,
        ),
        (
            "to sign-in",
            get(&client_with_session("x=y"), app.url("/dashboard")).await,
        ),
        (
            "sandbox",
            get(&stranger, app.url("/sandbox/authorize?client_id=x")).await,
        ),
        ("404", app.get("/no/such/page").await),
    ];
    for (what, res) in answers {
        let headers = res.headers();
        let csp = headers
            .get(CONTENT_SECURITY_POLICY)
            .unwrap_or_else(|| panic!("{what}: no CSP"))
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(
            !csp.contains("script-src 'self' 'unsafe-inline'"),
            "{what}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert!(headers.contains_key("referrer-policy"), "{what}");
        assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    }
    // A Leptos page's inline scripts carry the nonce its policy names.
    let res = app.get("/dashboard").await;
    let csp = res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy")
        .to_owned();
    let html = res.text().await.expect("html");
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "every inline script carries the nonce: {html}"
    );
    // The app's 404 page too.
    let missing = app.get("/no/such/page").await;
    let policy = missing.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(policy.contains("'nonce-"), "{policy}");
    let again = app.get("/dashboard").await;
    let other = again.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(csp, other, "a new nonce for every page");
}

#[tokio::test]
async fn a_site_url_is_a_link_only_when_it_is_https() {
    let app = TestApp::spawn().await;
    app.connect(ADA, &[ACME], None).await;
    engine::db::query("UPDATE integration_sites SET url = 'javascript:alert(document.cookie)'")
        .execute(&app.database)
        .await
        .expect("a hostile provider");
    for page in ["/dashboard", "/integrations/1"] {
        let html = app.get(page).await.text().await.expect("html");
        assert!(
            html.contains("javascript:alert(document.cookie)"),
            "shown as text: {page}"
        );
        assert!(!html.contains("href=\"javascript:"), "{page}: {html}");
    }
    engine::db::query("UPDATE integration_sites SET url = 'https://acme.atlassian.net'")
        .execute(&app.database)
        .await
        .expect("a normal provider");
    let html = app.get("/dashboard").await.text().await.expect("html");
    assert!(
        html.contains("href=\"https://acme.atlassian.net\""),
        "{html}"
    );
}

#[tokio::test]
async fn a_cross_site_sign_in_or_sign_out_is_refused() {
    let app = TestApp::spawn().await;
    for path in ["/login", "/logout", "/settings/users"] {
        let res = app
            .http
            .post(app.url(path))
            .header("sec-fetch-site", "cross-site")
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .expect("post");
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        app.post("/api/list_integrations", &[]).await.status(),
        StatusCode::OK,
        "still signed in"
    );
}

#[test]
fn a_first_start_prints_the_one_time_setup_link() {
    let (found, printed) = open_line(testkit::server_binary!(), &[]);
    let line = found.unwrap_or_else(|| panic!("an open line; printed: {printed:#?}"));
    let token = line
        .strip_prefix("open http://localhost:45678/setup?token=")
        .unwrap_or_else(|| panic!("the setup link: {line}"));
    assert_eq!(token.len(), 64, "256 random bits: {line}");
    assert!(
        printed.iter().any(|l| l.contains("first administrator")),
        "says what the link is for: {printed:#?}"
    );
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_throttle() {
    let app = TestApp::spawn().await;
    let guesses = (0..20).map(|i| {
        let url = app.url("/login");
        async move {
            let password = format!("guess number {i}");
            post(
                &anonymous(),
                url,
                &[("email", ADMIN_EMAIL), ("password", password.as_str())],
            )
            .await
            .status()
        }
    });
    let answers = futures_join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked, 5, "{answers:?}");
    assert_eq!(throttled, 15, "{answers:?}");
}

/// Runs the futures concurrently (on the test's runtime) and collects their answers in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_counted() {
    let app = TestApp::spawn_with(&["--trusted-proxies", "127.0.0.1"]).await;
    let attempt = |client: &'static str, i: usize| {
        let url = app.url("/login");
        async move {
            anonymous()
                .post(url)
                .header("x-forwarded-for", format!("1.2.3.4, {client}"))
                .form(&[
                    ("email", format!("nobody{i}@example.com")),
                    ("password", "x".repeat(12)),
                ])
                .send()
                .await
                .expect("post")
                .status()
        }
    };
    for i in 0..20 {
        assert_eq!(attempt("198.51.100.1", i).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        attempt("198.51.100.1", 20).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not locked out.
    assert_eq!(attempt("198.51.100.2", 21).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_setup_that_cannot_succeed_costs_no_password_hash_and_links_expire() {
    let clock = engine::ManualClock::new(1_800_000_000);
    let instance = testkit::LocalInstance::start_without_accounts(&[], Arc::new(clock.clone()))
        .await
        .expect("start");
    let link = instance.setup_link.clone().expect("link");
    let before = engine::accounts::hashing::started();
    for _ in 0..10 {
        let res = anonymous()
            .post(format!("{}/setup", instance.base))
            .form(&[
                ("token", "wrong"),
                ("email", "a@example.com"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ])
            .send()
            .await
            .expect("setup");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    // (Other tests in this process may hash meanwhile, but not ten times over.)
    assert!(engine::accounts::hashing::started() - before < 10);
    // An hour later the printed link has expired.
    clock.advance(3_601);
    let res = anonymous().get(&link).send().await.expect("setup page");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res
        .text()
        .await
        .expect("page")
        .contains("Restart the server"));
}

#[tokio::test]
async fn a_password_change_renews_this_sessions_id() {
    let app = TestApp::spawn().await;
    let res = change_password(&app, ADMIN_PASSWORD, "a brand new password").await;
    assert_eq!(location(&res), "/settings?notice=password_changed");
    let renewed = session_cookie(&res).expect("a new session id");
    assert_ne!(renewed, app.session);
    assert_eq!(
        app.post("/api/list_integrations", &[]).await.status(),
        StatusCode::UNAUTHORIZED,
        "a copy of the old cookie is worthless"
    );
    assert_eq!(
        post(
            &client_with_session(&renewed),
            app.url("/api/list_integrations"),
            &[]
        )
        .await
        .status(),
        StatusCode::OK
    );
    // Guessing the current password is throttled like signing in.
    for _ in 0..5 {
        let res = post(
            &client_with_session(&renewed),
            app.url("/settings/password"),
            &[
                ("current", "a wrong guess!"),
                ("new", "another new password"),
                ("confirm", "another new password"),
            ],
        )
        .await;
        assert_eq!(location(&res), "/settings?notice=wrong_password");
    }
    let res = post(
        &client_with_session(&renewed),
        app.url("/settings/password"),
        &[
            ("current", "a brand new password"),
            ("new", "another new password"),
            ("confirm", "another new password"),
        ],
    )
    .await;
    assert_eq!(location(&res), "/settings?notice=too_many_attempts");
}

#[tokio::test]
async fn paths_that_could_be_normalised_into_others_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    for path in [
        "/pkg/../dashboard",
        "/pkg/%2e%2e/integrations/1",
        "/sandbox/../settings",
        "//dashboard",
        "/pkg/..%2fdashboard",
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
        assert!(
            !answer.contains("Jira Integrations"),
            "{path}: nothing rendered"
        );
    }
}

#[tokio::test]
async fn the_session_store_holds_no_cookie_value() {
    let app = TestApp::spawn().await;
    let cookie = sign_in(&app.base, ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .expect("signs in");
    let value = cookie
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .expect("name=value");
    let table = if app.database.is_postgres() {
        "tower_sessions.session"
    } else {
        "tower_sessions"
    };
    let ids: Vec<String> = engine::db::query(format!("SELECT id FROM {table}"))
        .scalars(&app.database)
        .await
        .expect("session ids");
    assert!(!ids.is_empty());
    assert!(
        !ids.iter()
            .any(|id| id == &value || value.contains(id.as_str())),
        "the cookie's value is stored as it is"
    );
    // The session works, and signing out removes its row.
    let res = post(
        &client_with_session(&cookie),
        app.url("/api/list_integrations"),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let before = ids.len();
    post(&client_with_session(&cookie), app.url("/logout"), &[]).await;
    let after: Vec<String> = engine::db::query(format!("SELECT id FROM {table}"))
        .scalars(&app.database)
        .await
        .expect("session ids");
    assert_eq!(after.len(), before - 1);
    let res = post(
        &client_with_session(&cookie),
        app.url("/api/list_integrations"),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// A sign-in from `client` with `cookie` (`name=value`) sent along: the answer.
async fn attempt_with_cookie(
    app: &TestApp,
    client: &str,
    cookie: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    anonymous()
        .post(app.url("/login"))
        .header("x-forwarded-for", client)
        .header(COOKIE, cookie)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn many_addresses_get_few_quick_guesses_and_the_owners_browser_always_gets_in() {
    let app = TestApp::spawn_with(&["--trusted-proxies", "127.0.0.1"]).await;
    // The owner signs in once from their browser, which keeps a proof of it.
    let res = attempt_with_cookie(&app, "203.0.113.7", "", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let device = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("jira_dashboard_device="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .expect("a known-device cookie");
    let set = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("jira_dashboard_device="))
        .expect("cookie")
        .to_ascii_lowercase();
    assert!(
        set.contains("httponly") && set.contains("samesite=strict"),
        "{set}"
    );
    // Thirty /64s, one guess each: only the first quick guesses are heard.
    let mut heard = 0;
    for i in 1..=30 {
        let status = attempt_from(
            &app,
            &format!("2001:db8:{i}::1"),
            ADMIN_EMAIL,
            "a wrong guess",
        )
        .await;
        match status {
            StatusCode::UNAUTHORIZED => heard += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(heard, engine::accounts::rules::CLEAN_ADDRESS_CAP);
    // A new browser, even from a clean address, is slowed down now ...
    assert_eq!(
        attempt_from(&app, "198.51.100.200", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... the owner's browser is not, wherever it is (here an address that
    // failed for another email a moment ago).
    attempt_from(
        &app,
        "198.51.100.201",
        "someone@example.com",
        "a wrong guess",
    )
    .await;
    let res =
        attempt_with_cookie(&app, "198.51.100.201", &device, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A made-up or another account's proof is no proof.
    let forged = "jira_dashboard_device=v1.1800000000.AAAA.AAAA";
    let res =
        attempt_with_cookie(&app, "198.51.100.202", forged, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_huge_email_costs_the_throttle_a_digest() {
    let app = TestApp::spawn().await;
    let huge = format!("{}@example.com", "x".repeat(200_000));
    let refused = sign_in(&app.base, &huge, "a wrong guess").await;
    assert_eq!(refused.expect_err("refused").0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sign_in_failures WHERE LENGTH(subject) > 100")
            .await,
        0
    );
    assert!(app.count("SELECT COUNT(*) FROM sign_in_failures").await >= 3);
}

/// The `Set-Cookie` header of the session cookie (a sign-in also sets the
/// known-device cookie).
fn session_set_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("jira_dashboard_session="))
        .expect("a session cookie")
        .to_owned()
}

/// The known-device cookie (`name=value`) a sign-in response set.
fn device_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("jira_dashboard_device="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .expect("a known-device cookie")
}

#[tokio::test]
async fn the_owners_browser_has_its_own_count_and_an_operator_can_clear_an_email() {
    let app = TestApp::spawn_with(&["--trusted-proxies", "127.0.0.1"]).await;
    let res = attempt_with_cookie(&app, "203.0.113.7", "", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let device = device_cookie(&res);
    // Someone on the owner's own network shuts its door for the email ...
    for _ in 0..25 {
        attempt_from(&app, "198.51.100.50", ADMIN_EMAIL, "a wrong guess").await;
    }
    assert_eq!(
        attempt_from(&app, "198.51.100.50", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... not for the owner's browser there, even behind a planted cookie.
    let planted = format!("jira_dashboard_device=v1.1.a.b; {device}");
    let res =
        attempt_with_cookie(&app, "198.51.100.50", &planted, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A proof used for guessing closes its own door after five.
    for _ in 0..5 {
        let res =
            attempt_with_cookie(&app, "198.51.100.60", &device, ADMIN_EMAIL, "a wrong guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res =
        attempt_with_cookie(&app, "198.51.100.61", &device, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Many addresses slow the email down for a new browser ...
    for i in 1..=12 {
        attempt_from(
            &app,
            &format!("2001:db8:{i}::1"),
            ADMIN_EMAIL,
            "a wrong guess",
        )
        .await;
    }
    assert_eq!(
        attempt_from(&app, "192.0.2.1", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... until the operator forgets the email's failures.
    assert!(
        app.engine
            .clear_sign_in_throttle(ADMIN_EMAIL)
            .await
            .expect("clear")
            > 0
    );
    assert_eq!(
        attempt_from(&app, "192.0.2.1", ADMIN_EMAIL, ADMIN_PASSWORD).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_password_change_keeps_this_browser_known() {
    let app = TestApp::spawn().await;
    let res = change_password(&app, ADMIN_PASSWORD, "a brand new password").await;
    assert_eq!(location(&res), "/settings?notice=password_changed");
    let device = device_cookie(&res);
    let value = device
        .split_once('=')
        .map(|(_, v)| v.to_owned())
        .expect("value");
    let user = app
        .engine
        .users()
        .await
        .expect("read")
        .into_iter()
        .find(|u| u.email == ADMIN_EMAIL)
        .expect("user");
    assert!(user.knows_device(&value, app.engine.now()));
}

/// Who may call what, route by route: the table the guard's `rule_for` unit
/// test held before each permission was declared beside its routes
/// (`server::router`), asked over HTTP. `Open` lets a stranger through;
/// otherwise the least role that holds the permission passes and the one
/// below it (a stranger for `Read`) is refused by the guard.
#[tokio::test]
async fn every_route_has_its_rule() {
    #[derive(Debug, Clone, Copy)]
    enum Rule {
        Open,
        Needs(Permission),
    }
    use domain::Permission::{self, *};
    use Rule::*;
    let app = TestApp::spawn().await;
    let viewer = user(&app, "vera@example.com", "viewer").await;
    let operator = user(&app, "otto@example.com", "operator").await;
    let stranger = anonymous();
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let table = [
        (&get, "/login", Open),
        (&post, "/login", Open),
        (&get, "/setup", Open),
        (&get, "/healthz", Open),
        (&get, "/pkg/jira-dashboard.css", Open),
        (&post, "/sandbox/oauth/token", Open),
        (&get, "/sandbox/authorize", Open),
        (&post, "/sandbox/authorize", Open),
        (&get, "/sandbox/me", Open),
        (&get, "/sandbox/ex/jira/abc/rest/api/3/myself", Open),
        (&post, "/sandbox/control/settings", Needs(Administer)),
        (&post, "/sandbox/control/faults", Needs(Administer)),
        (&post, "/sandbox/control/clock/advance", Needs(Administer)),
        (&post, "/sandbox/control/jira-rate-limit", Needs(Administer)),
        (&post, "/sandbox/control/grants/x/revoke", Needs(Administer)),
        (&get, "/sandbox/control/stats", Needs(Administer)),
        (&get, "/sandbox/control", Needs(Administer)),
        (&get, "/sandbox/controls", Open),
        (&get, "/", Needs(Read)),
        (&get, "/dashboard", Needs(Read)),
        (&get, "/integrations/3", Needs(Read)),
        (&get, "/settings", Needs(Read)),
        (&post, "/settings/password", Needs(Read)),
        (&post, "/api/dashboard_page", Needs(Read)),
        (&post, "/api/fleet_summary", Needs(Read)),
        (&get, "/oauth/start", Needs(Operate)),
        (&get, "/oauth/callback", Needs(Operate)),
        // A connect link's visitor has no account: its pages, and the
        // callback of a flow a link started, are open.
        (&get, "/connect/some-token", Open),
        (&post, "/connect/some-token", Open),
        (&get, "/oauth/callback?state=link.forged", Open),
        (&post, "/api/refresh_integration", Needs(Operate)),
        (&post, "/api/disconnect_integration", Needs(Operate)),
        (&post, "/api/test_connection", Needs(Operate)),
        (&post, "/settings/users", Needs(Administer)),
        (&post, "/settings/users/2/role", Needs(Administer)),
        // An id no user has: removing the viewer would end its session.
        (&post, "/settings/users/999/remove", Needs(Administer)),
        (&post, "/settings/api-keys", Needs(Administer)),
        (&post, "/settings/api-keys/1/revoke", Needs(Administer)),
        (&post, "/settings/webhooks", Needs(Administer)),
        (&post, "/settings/webhooks/settings", Needs(Administer)),
        (&post, "/settings/webhooks/1/pause", Needs(Administer)),
        (
            &post,
            "/settings/webhooks/deliveries/1/redeliver",
            Needs(Administer),
        ),
        // Deny by default: an unknown server function, an unknown POST,
        // and any address under the administrator's prefixes.
        (&post, "/api/something_new", Needs(Administer)),
        (&get, "/api/something_new", Needs(Administer)),
        (&get, "/settings/", Needs(Administer)),
        (&get, "/settings/nothing", Needs(Administer)),
        (&post, "/dashboard", Needs(Administer)),
        // Look-alikes are not the open paths.
        (&get, "/sandboxed", Needs(Read)),
        (&get, "/v1/integrations", Open),
        (&get, "/metrics", Open),
        (&get, "/readyz", Open),
        (&post, "/v1/integrations/1/access-token", Open),
        (&post, "/v1/connect-sessions", Open),
        (&get, "/v1x", Needs(Read)),
        // Last: it ends the viewer's session.
        (&post, "/logout", Needs(Read)),
    ];
    for (method, path, rule) in table {
        let (below, holder) = match rule {
            Open => (None, &stranger),
            Needs(Read) => (Some(&stranger), &viewer),
            Needs(Operate) => (Some(&viewer), &operator),
            Needs(Administer) => (Some(&operator), &app.http),
        };
        let ask = |client: &reqwest::Client| {
            client
                .request(method.clone(), app.url(path))
                .form(&[("x", "")])
                .send()
        };
        let holder_answer = ask(holder).await.expect("answer");
        assert!(
            !refused_by_guard(holder_answer).await,
            "{method} {path} ({rule:?}) refused the role that holds it"
        );
        if let Some(below) = below {
            let answer = ask(below).await.expect("answer");
            assert!(
                refused_by_guard(answer).await,
                "{method} {path} ({rule:?}) let the role below through"
            );
        }
    }
}

/// The guard's refusals: to sign in first (a redirect or `401` JSON), or
/// that the role may not (`403`); not the service API's own `401`.
async fn refused_by_guard(res: reqwest::Response) -> bool {
    let status = res.status();
    let to_login = location(&res).contains("/login?");
    let body = res.text().await.unwrap_or_default();
    match status {
        StatusCode::SEE_OTHER => to_login,
        StatusCode::UNAUTHORIZED => body.contains("Sign in first"),
        StatusCode::FORBIDDEN => body.contains("may not"),
        _ => false,
    }
}
