//! Connect links over real HTTP (DESIGN.md, "Connect links"): a service
//! makes a link (`POST /v1/connect-sessions`), a stranger's browser with no
//! dashboard session opens it, consents at the sandbox and lands on the
//! result page or the return URL; the integration carries its end user and
//! tags; links work once, for 30 minutes; keys confined to tags see only
//! their integrations; the proxy keeps to an integration's own sites.

use domain::{Actor, ApiScope, IntegrationId, Tags};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use testkit::receiver::{Received, Receiver};
use testkit::*;
use url::Url;

const RETURN_ORIGIN: &str = "https://app.example.com";

async fn app() -> TestApp {
    TestApp::spawn_with(&[
        "--connect-return-origins",
        RETURN_ORIGIN,
        "--product-name",
        "Acme Reports",
    ])
    .await
}

/// A key with `scopes`, confined to `tags` (`""`: none).
async fn key(app: &TestApp, scopes: &[ApiScope], tags: &str) -> String {
    app.engine
        .create_confined_api_key(
            "customer-portal",
            scopes,
            &Tags::parse_list(tags).expect("tags"),
            &Actor::User(ADMIN_EMAIL.into()),
        )
        .await
        .expect("create a key")
        .key
}

/// `method path` on the service API with `key` and a JSON `body` (if
/// any): the status and the JSON answer.
async fn v1(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, answer) = app.call(method, path, Some(key), body).await;
    (status, answer)
}

/// `POST /v1/connect-sessions` with `key` and `body`.
async fn make_link(app: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    v1(app, Method::POST, "/v1/connect-sessions", key, Some(body)).await
}

/// `GET path` with `key`.
async fn v1_get(app: &TestApp, path: &str, key: &str) -> (StatusCode, Value) {
    v1(app, Method::GET, path, key, None).await
}

/// `POST /v1/integrations/{id}/access-token` with `key`.
async fn hand_out(app: &TestApp, key: &str, id: i64) -> (StatusCode, Value) {
    let path = format!("/v1/integrations/{id}/access-token");
    v1(app, Method::POST, &path, key, None).await
}

/// Jira's `myself` on `site` through integration `id`'s proxy, with `key`.
async fn proxy_myself(app: &TestApp, key: &str, id: i64, site: &str) -> (StatusCode, Value) {
    let path = format!("/v1/integrations/{id}/proxy/ex/jira/{site}/rest/api/3/myself");
    v1_get(app, &path, key).await
}

/// A link's URL made for `body`.
async fn link(app: &TestApp, key: &str, body: Value) -> String {
    let (status, answer) = make_link(app, key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer["url"].as_str().expect("url").to_owned()
}

/// What a stranger's browser (no dashboard session) got at the end.
struct Visit {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Visit {
    /// Where the browser was sent back, without the link's
    /// `connectSessionId` (checked to be a number).
    fn returned(&self) -> String {
        let url = Url::parse(self.location.as_deref().expect("a redirect")).expect("url");
        let mut kept = url.clone();
        kept.set_query(None);
        let mut session = None;
        for (name, value) in url.query_pairs() {
            match &*name {
                "connectSessionId" => session = Some(value.parse::<i64>().expect("a link id")),
                _ => {
                    kept.query_pairs_mut().append_pair(&name, &value);
                }
            }
        }
        assert!(session.is_some(), "{url}");
        kept.to_string()
    }
}

/// What pressing a link page's button started: the answer's status, where
/// it sends the browser (the sandbox's consent page) and the binding cookie
/// it set (`name=value`), if any.
struct Started {
    status: StatusCode,
    authorize: Url,
    cookie: Option<String>,
}

/// `browser` presses the button of the link page at `url`.
async fn press(browser: &reqwest::Client, url: &str) -> Started {
    let started = browser.post(url).send().await.expect("button");
    let cookie = started
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .find(|c| c.starts_with("jira_oauth_binding="))
        .map(|c| c.split(';').next().expect("pair").to_owned());
    let authorize = Url::parse(
        started
            .headers()
            .get(LOCATION)
            .expect("location")
            .to_str()
            .expect("ascii"),
    )
    .expect("authorize url");
    Started {
        status: started.status(),
        authorize,
        cookie,
    }
}

/// `browser` comes back to `callback` with the binding `cookie`: what it got.
async fn come_back(browser: &reqwest::Client, callback: Url, cookie: &str) -> Visit {
    let res = browser
        .get(callback)
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("callback");
    let status = res.status();
    let location = res
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = res.text().await.expect("body");
    Visit {
        status,
        location,
        body,
    }
}

/// A stranger opens `url`, presses the button, answers the consent page
/// with `decision` as `account` on `sites`, and comes back to the callback
/// with the cookie the button's answer set.
async fn visit(app: &TestApp, url: &str, decision: &str, account: &str, sites: &[&str]) -> Visit {
    let browser = anonymous();
    let page = browser.get(url).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let started = press(&browser, url).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    let cookie = started.cookie.expect("the binding cookie");
    let callback = consent(app, &browser, &started.authorize, decision, account, sites).await;
    come_back(&browser, callback, &cookie).await
}

/// A stranger connects through a link made with `key` for `body`,
/// accepting as `account` on `sites`: what the browser got at the end.
async fn connect_through_link(
    app: &TestApp,
    key: &str,
    body: Value,
    account: &str,
    sites: &[&str],
) -> Visit {
    let url = link(app, key, body).await;
    visit(app, &url, "accept", account, sites).await
}

/// `GET /v1/integrations/{id}` with `key`: the answer, whatever its status.
async fn integration(app: &TestApp, key: &str, id: i64) -> Value {
    v1_get(app, &format!("/v1/integrations/{id}"), key).await.1
}

/// Once the messages sent so far are delivered and forgotten, `account`
/// revokes its grant and Atlassian rejects integration `id`'s refresh token:
/// the refresh says the integration needs a person, and the
/// `integration.needs_reauth` message is delivered; that message.
async fn needs_reauth(app: &TestApp, receiver: &Receiver, account: &str, id: i64) -> Received {
    app.engine.deliver_webhooks().await;
    receiver.clear();
    app.sandbox.revoke_grant(account);
    assert!(app
        .engine
        .refresh(IntegrationId(id), &Actor::User(ADMIN_EMAIL.into()))
        .await
        .requires_reauth());
    app.engine.deliver_webhooks().await;
    receiver
        .received()
        .into_iter()
        .find(|m| m.event_type() == "integration.needs_reauth")
        .expect("needs_reauth delivered")
}

/// The sandbox's consent page, answered: the callback URL it sends back to.
async fn consent(
    app: &TestApp,
    browser: &reqwest::Client,
    authorize: &Url,
    decision: &str,
    account: &str,
    sites: &[&str],
) -> Url {
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("decision".into(), decision.into()));
    form.push(("account".into(), account.into()));
    for s in sites {
        form.push(("site".into(), (*s).into()));
    }
    let res = browser
        .post(app.url("/sandbox/authorize"))
        .form(&form)
        .send()
        .await
        .expect("decision");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    Url::parse(
        res.headers()
            .get(LOCATION)
            .expect("location")
            .to_str()
            .expect("ascii"),
    )
    .expect("callback url")
}

#[tokio::test]
async fn a_stranger_connects_through_a_link_and_the_integration_carries_its_end_user() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect, ApiScope::IntegrationsRead], "").await;
    let request = json!({"endUserId": "customer-42", "displayName": "Initech", "tags": {"tenant": "acme", "plan": "pro"}});
    let (status, made) = make_link(&app, &key, request).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let url = made["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&app.url("/connect/")), "{url}");
    assert!(made["id"].as_i64().is_some());
    assert_eq!(made["expiresAt"], "2027-01-15T08:30:00Z");
    // Only the token's hash (32 bytes) is stored.
    let token = url.rsplit('/').next().expect("token");
    assert_eq!(token.len(), 43);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM connect_sessions
             WHERE end_user_id = 'customer-42' AND length(token_hash) = 32"
        )
        .await,
        1
    );
    // The page names the product and the access asked for, and starts nothing.
    let page = anonymous().get(&url).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let text = page.text().await.expect("body");
    assert!(text.contains("Connect Jira to Acme Reports"), "{text}");
    assert!(text.contains("For Initech."), "{text}");
    assert!(text.contains("Read your Jira projects"), "{text}");
    assert!(text.contains("Continue to Atlassian"), "{text}");
    assert!(!text.contains("/dashboard"), "{text}");
    assert_eq!(app.count("SELECT COUNT(*) FROM oauth_states").await, 0);

    let done = visit(&app, &url, "accept", ADA, &[ACME]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Jira is connected"), "{}", done.body);
    assert!(done.body.contains("Acme Reports can now use your Jira."));

    let (status, view) = v1_get(&app, "/v1/integrations/1", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["endUserId"], "customer-42");
    assert_eq!(view["displayName"], "Initech");
    assert_eq!(view["tags"], json!({"plan": "pro", "tenant": "acme"}));
    assert_eq!(view["accountId"], ADA);
    // The dashboard's own views carry them too.
    let listed = app.list().await;
    assert_eq!(listed[0]["endUserId"], "customer-42");
    // The link is spent: a second visit says so and changes nothing.
    let again = anonymous().get(&url).send().await.expect("again");
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(again.text().await.expect("body").contains("already used"));
    let again = anonymous().post(&url).send().await.expect("again");
    assert_eq!(again.status(), StatusCode::GONE);
    // The account log tells who made the link and what became of it.
    let log = app.page_text("/settings").await;
    assert!(
        log.contains("Made a connect link for end user \"customer-42\""),
        "{log}"
    );
    assert!(
        log.contains("Connect link for end user \"customer-42\": connected integration 1"),
        "{log}"
    );
    // The search box finds the integration by its end user.
    let (_, page) = app
        .post_form("/api/dashboard_page", &[("search", "initech")])
        .await;
    assert_eq!(page["total"], 1, "{page}");
    // No link token in any answer but the one that made it.
    let seen = app.seen.lock().expect("lock").join("\n");
    assert_eq!(seen.matches(token).count(), 1);
}

#[tokio::test]
async fn a_return_url_hears_the_outcome_and_only_allowed_origins_are_accepted() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect], "").await;
    let request =
        json!({"endUserId": "c-1", "returnUrl": "https://app.example.com/jira/done?from=link"});
    let done = connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        done.returned(),
        "https://app.example.com/jira/done?from=link&integrationId=1&result=connected"
    );
    // Declined: no integration, the return URL hears it.
    let request = json!({"endUserId": "c-2", "returnUrl": "https://app.example.com/back"});
    let url = link(&app, &key, request).await;
    let declined = visit(&app, &url, "deny", GRACE, &[GLOBEX]).await;
    assert_eq!(
        declined.returned(),
        "https://app.example.com/back?result=declined"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM connect_sessions WHERE outcome = 'declined'")
            .await,
        1
    );
    // Any other origin is refused at creation, and nothing is stored.
    let before = app.count("SELECT COUNT(*) FROM connect_sessions").await;
    for bad in [
        "https://evil.example.com/steal",
        "http://app.example.com/downgraded",
        "https://app.example.com.evil.example/x",
        "javascript:alert(1)",
        "https://user:pass@app.example.com/x",
        "not a url",
    ] {
        let (status, body) =
            make_link(&app, &key, json!({"endUserId": "c-3", "returnUrl": bad})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            body["message"]
                .as_str()
                .expect("message")
                .contains("CONNECT_RETURN_ORIGINS"),
            "{body}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM connect_sessions").await,
        before
    );
}

#[tokio::test]
async fn links_expire_unknown_ones_are_refused_and_bad_input_stores_nothing() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect], "").await;
    let url = link(&app, &key, json!({"endUserId": "c-1"})).await;
    app.clock.advance(30 * 60);
    let res = anonymous().get(&url).send().await.expect("expired");
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.expect("body").contains("expired"));
    let res = anonymous().post(&url).send().await.expect("expired");
    assert_eq!(res.status(), StatusCode::GONE);
    for unknown in ["/connect/nope", &format!("/connect/{}", "A".repeat(43))] {
        let res = anonymous()
            .get(app.url(unknown))
            .send()
            .await
            .expect("unknown");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{unknown}");
        assert!(res.text().await.expect("body").contains("not known"));
    }
    // A revoked key's links die with it.
    let url = link(&app, &key, json!({"endUserId": "c-1"})).await;
    let id = app.engine.api_keys().await.expect("keys")[0].id;
    app.engine
        .revoke_api_key(id, &Actor::User(ADMIN_EMAIL.into()))
        .await
        .expect("revoke");
    let res = anonymous().get(&url).send().await.expect("withdrawn");
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.expect("body").contains("withdrawn"));

    let key = self::key(&app, &[ApiScope::Connect], "").await;
    let before = app.count("SELECT COUNT(*) FROM connect_sessions").await;
    let many: serde_json::Map<String, Value> =
        (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (body, says) in [
        (json!({}), "endUserId"),
        (json!({"endUserId": ""}), "endUserId"),
        (json!({"endUserId": "x".repeat(201)}), "endUserId"),
        (json!({"endUserId": "a\nb"}), "control"),
        (
            json!({"endUserId": "c", "displayName": "n".repeat(201)}),
            "displayName",
        ),
        (json!({"endUserId": "c", "tags": many}), "20 tags"),
        (
            json!({"endUserId": "c", "tags": {"k": "v".repeat(65)}}),
            "64",
        ),
        (json!({"endUserId": "c", "tags": {"bad key": "v"}}), "key"),
        (json!({"endUserId": "c", "surprise": 1}), "unknown field"),
        (
            json!({"endUserId": "c", "integrationId": 0}),
            "integration id",
        ),
    ] {
        let (status, answer) = make_link(&app, &key, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(
            answer["message"].as_str().expect("message").contains(says),
            "{body}: {answer}"
        );
    }
    let res = anonymous()
        .post(app.url("/v1/connect-sessions"))
        .bearer_auth(&key)
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (status, _) = make_link(&app, &key, json!({"endUserId": "c", "integrationId": 99})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM connect_sessions").await,
        before
    );
    // Without the scope: 403; without a key: 401.
    let other = self::key(&app, &[ApiScope::IntegrationsRead], "").await;
    let (status, _) = make_link(&app, &other, json!({"endUserId": "c"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = make_link(&app, "jdk_nothing", json!({"endUserId": "c"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_makes_at_most_60_links_a_minute() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect], "").await;
    for _ in 0..60 {
        link(&app, &key, json!({"endUserId": "c"})).await;
    }
    let res = anonymous()
        .post(app.url("/v1/connect-sessions"))
        .bearer_auth(&key)
        .json(&json!({"endUserId": "c"}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "60");
    // Another key is not held back; this one is again a minute later.
    let other = self::key(&app, &[ApiScope::Connect], "").await;
    link(&app, &other, json!({"endUserId": "c"})).await;
    app.clock.advance(61);
    link(&app, &key, json!({"endUserId": "c"})).await;
}

#[tokio::test]
async fn the_same_customer_lands_on_the_same_integration_and_nobody_takes_another_s() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect, ApiScope::IntegrationsRead], "").await;
    let request = json!({"endUserId": "c-1", "tags": {"tenant": "acme"}});
    connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    // Again, with a display name and one more tag: the same integration.
    let request = json!({"endUserId": "c-1", "displayName": "Acme", "tags": {"plan": "pro"}});
    let done = connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    assert!(done.body.contains("Jira is connected"), "{}", done.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 1);
    let view = integration(&app, &key, 1).await;
    assert_eq!(view["displayName"], "Acme");
    assert_eq!(view["tags"], json!({"plan": "pro", "tenant": "acme"}));
    // Another customer consenting with the same Atlassian account: refused,
    // nothing changes.
    let request = json!({"endUserId": "c-2", "returnUrl": "https://app.example.com/r"});
    let done = connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    assert_eq!(done.returned(), "https://app.example.com/r?result=failed");
    let view = integration(&app, &key, 1).await;
    assert_eq!(view["endUserId"], "c-1");
    // Disconnected, then connected again on the dashboard: a new connection,
    // no one's, with no tags.
    app.engine
        .disconnect(IntegrationId(1), &Actor::User(ADMIN_EMAIL.into()))
        .await
        .expect("disconnect");
    app.connect(ADA, &[ACME], None).await;
    let view = integration(&app, &key, 1).await;
    assert_eq!(view["endUserId"], Value::Null);
    assert_eq!(view["displayName"], Value::Null);
    assert_eq!(view["tags"], json!({}));
    // An integration made on the dashboard is not a customer's to claim.
    app.connect(GRACE, &[GLOBEX], None).await;
    let done =
        connect_through_link(&app, &key, json!({"endUserId": "c-3"}), GRACE, &[GLOBEX]).await;
    assert!(
        done.body
            .contains("already connected here for someone else"),
        "{}",
        done.body
    );
    let view = integration(&app, &key, 2).await;
    assert_eq!(view["endUserId"], Value::Null);
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 2);
}

#[tokio::test]
async fn a_link_re_authenticates_its_integration_with_the_same_account_only() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect, ApiScope::IntegrationsRead], "").await;
    connect_through_link(&app, &key, json!({"endUserId": "c-1"}), ADA, &[ACME]).await;
    // Another end user's name on a repair link: refused at creation.
    let (status, body) =
        make_link(&app, &key, json!({"endUserId": "c-2", "integrationId": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let request =
        json!({"endUserId": "c-1", "integrationId": 1, "returnUrl": "https://app.example.com/r"});
    let url = link(&app, &key, request).await;
    let page = anonymous().get(&url).send().await.expect("page");
    assert!(page
        .text()
        .await
        .expect("body")
        .contains("Reconnect Jira to Acme Reports"));
    // Consent with another account: nothing moves.
    let done = visit(&app, &url, "accept", GRACE, &[GLOBEX]).await;
    assert_eq!(done.returned(), "https://app.example.com/r?result=failed");
    let view = integration(&app, &key, 1).await;
    assert_eq!(view["accountId"], ADA);
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 1);
    // With its own account: the same integration, repaired.
    let request =
        json!({"endUserId": "c-1", "integrationId": 1, "returnUrl": "https://app.example.com/r"});
    let done = connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    assert_eq!(
        done.returned(),
        "https://app.example.com/r?integrationId=1&result=reauthenticated"
    );
}

#[tokio::test]
async fn a_flow_is_bound_to_the_browser_that_pressed_the_button() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect], "").await;
    let url = link(&app, &key, json!({"endUserId": "c-1"})).await;
    let browser = anonymous();
    let authorize = press(&browser, &url).await.authorize;
    let callback = consent(&app, &browser, &authorize, "accept", ADA, &[ACME]).await;
    // Another browser (no cookie) cannot finish it; nothing is stored.
    let res = anonymous()
        .get(callback.clone())
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.expect("body").contains("another browser"));
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 0);
    // A forged link state is unknown, and a dashboard state without a
    // session still goes to sign-in.
    let res = anonymous()
        .get(app.url("/oauth/callback?state=link.forged&code=x"))
        .send()
        .await
        .expect("forged");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = anonymous()
        .get(app.url("/oauth/callback?state=plain&code=x"))
        .send()
        .await
        .expect("dashboard state");
    assert!(location(&res).contains("/login?"), "{}", location(&res));
}

#[tokio::test]
async fn a_key_confined_to_tags_sees_and_acts_on_its_integrations_only() {
    let app = app().await;
    let all = key(&app, &[ApiScope::Connect], "").await;
    let acme = key(
        &app,
        &[
            ApiScope::Connect,
            ApiScope::IntegrationsRead,
            ApiScope::TokensRead,
            ApiScope::Proxy,
        ],
        "tenant=acme",
    )
    .await;
    // Integration 1 through the confined key (it gets the key's tag), 2
    // through the other key for another tenant.
    connect_through_link(&app, &acme, json!({"endUserId": "c-1"}), ADA, &[ACME]).await;
    let request = json!({"endUserId": "c-2", "tags": {"tenant": "globex"}});
    connect_through_link(&app, &all, request, GRACE, &[GLOBEX]).await;
    let (status, list) = v1_get(&app, "/v1/integrations", &acme).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["id"], 1);
    assert_eq!(list["items"][0]["tags"]["tenant"], "acme");
    // Any other id is as if it did not exist.
    let (status, _) = v1_get(&app, "/v1/integrations/2", &acme).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hand_out(&app, &acme, 2).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = proxy_myself(&app, &acme, 2, GLOBEX).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = make_link(&app, &acme, json!({"endUserId": "c-2", "integrationId": 2})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Its own: fine.
    let (status, body) = hand_out(&app, &acme, 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Its links cannot set its tag to another value.
    let request = json!({"endUserId": "c-9", "tags": {"tenant": "globex"}});
    let (status, body) = make_link(&app, &acme, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A confined key cannot read the fleet's metrics.
    let refused = app
        .engine
        .create_confined_api_key(
            "metrics",
            &[ApiScope::MetricsRead],
            &Tags::parse_list("tenant=acme").expect("tags"),
            &Actor::User(ADMIN_EMAIL.into()),
        )
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn listings_filter_by_end_user_and_tags() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect, ApiScope::IntegrationsRead], "").await;
    let request = json!({"endUserId": "c-1", "tags": {"tenant": "acme", "region": "eu"}});
    connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    let request = json!({"endUserId": "c-2", "tags": {"tenant": "acme"}});
    connect_through_link(&app, &key, request, GRACE, &[GLOBEX]).await;
    let ids = |list: &Value| -> Vec<i64> {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_i64().expect("id"))
            .collect()
    };
    for (query, expected, total) in [
        ("", vec![1, 2], 2),
        ("?endUserId=c-2", vec![2], 1),
        ("?tag=tenant:acme", vec![1, 2], 2),
        ("?tag=tenant:acme&tag=region:eu", vec![1], 1),
        ("?tag=tenant:globex", vec![], 0),
        ("?tag=tenant:acme&tag=tenant:globex", vec![], 0),
        ("?endUserId=c-1&tag=region:eu", vec![1], 1),
        ("?tag=tenant:acme&limit=1", vec![1], 2),
    ] {
        let (status, list) = v1_get(&app, &format!("/v1/integrations{query}"), &key).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(ids(&list), expected, "{query}");
        assert_eq!(list["total"], total, "{query}");
    }
    let (_, first) = v1_get(&app, "/v1/integrations?tag=tenant:acme&limit=1", &key).await;
    let cursor = first["nextCursor"].as_str().expect("cursor");
    let (_, second) = v1_get(
        &app,
        &format!("/v1/integrations?tag=tenant:acme&limit=1&cursor={cursor}"),
        &key,
    )
    .await;
    assert_eq!(ids(&second), [2]);
    assert_eq!(second["nextCursor"], Value::Null);
    for bad in ["?tag=tenant", "?endUserId=", "?tag=a:b&owner=me"] {
        let (status, _) = v1_get(&app, &format!("/v1/integrations{bad}"), &key).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn the_proxy_keeps_to_the_integration_s_own_sites() {
    let app = app().await;
    app.connect(ADA, &[ACME], None).await;
    let key = key(&app, &[ApiScope::Proxy], "").await;
    let (status, body) = proxy_myself(&app, &key, 1, GLOBEX).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "wrong_site");
    let (status, _) = proxy_myself(&app, &key, 1, ACME).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_needs_reauth_webhook_carries_a_reconnect_link_that_repairs_the_same_integration() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[
        "--webhook-url",
        &receiver.url,
        "--webhook-secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ])
    .await;
    let key = key(&app, &[ApiScope::Connect, ApiScope::IntegrationsRead], "").await;
    let request = json!({"endUserId": "c-1", "displayName": "Initech", "tags": {"tenant": "acme"}});
    connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    // Atlassian rejects the refresh token: the integration needs a person.
    let message = needs_reauth(&app, &receiver, ADA, 1).await;
    assert_eq!(message.json["data"]["integration"]["endUserId"], "c-1");
    assert_eq!(
        message.json["data"]["integration"]["tags"]["tenant"],
        "acme"
    );
    let reconnect = message.json["data"]["reconnectUrl"]
        .as_str()
        .expect("reconnectUrl")
        .to_owned();
    assert!(reconnect.starts_with(&app.url("/connect/")), "{reconnect}");
    // The stored message holds no link: each attempt to send it made one of
    // its own, of which only the hash is kept.
    let token = reconnect.rsplit('/').next().expect("token");
    let bodies: Vec<String> = engine::db::query("SELECT body FROM webhook_messages")
        .fetch_all::<(String,)>(&app.database)
        .await
        .expect("bodies")
        .into_iter()
        .map(|(b,)| b)
        .collect();
    assert!(bodies.iter().all(|b| !b.contains(token)));
    assert!(bodies.iter().any(|b| b.contains("{{reconnectUrl}}")));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM connect_sessions WHERE created_by = 'webhook'")
            .await,
        1
    );
    // It is valid for 7 days, not 30 minutes.
    app.clock.advance(6 * 86_400);
    app.sandbox.advance_clock(6 * 86_400);
    let page = anonymous().get(&reconnect).send().await.expect("page");
    let text = page.text().await.expect("body");
    assert!(text.contains("Reconnect Jira"), "{text}");
    assert!(text.contains("For Initech."), "{text}");
    // The customer repairs it: the same integration, active, history kept.
    let done = visit(&app, &reconnect, "accept", ADA, &[ACME]).await;
    assert!(done.body.contains("Jira is reconnected"), "{}", done.body);
    let view = integration(&app, &key, 1).await;
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(view["endUserId"], "c-1");
    assert_eq!(app.count("SELECT COUNT(*) FROM integrations").await, 1);
    assert!(
        app.count("SELECT COUNT(*) FROM token_events WHERE integration_id = 1")
            .await
            >= 3
    );
    // An integration made on the dashboard gets a link too; it repairs the
    // integration and gives it no end user.
    app.connect(GRACE, &[GLOBEX], None).await;
    let reconnect = needs_reauth(&app, &receiver, GRACE, 2).await.json["data"]["reconnectUrl"]
        .as_str()
        .expect("reconnectUrl")
        .to_owned();
    let done = visit(&app, &reconnect, "accept", GRACE, &[GLOBEX]).await;
    assert!(done.body.contains("Jira is reconnected"), "{}", done.body);
    let view = integration(&app, &key, 2).await;
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(view["endUserId"], Value::Null);
}

#[tokio::test]
async fn a_disconnect_or_a_revoked_key_withdraws_links_and_no_link_re_owns_an_integration() {
    let app = app().await;
    let key = key(&app, &[ApiScope::Connect, ApiScope::IntegrationsRead], "").await;
    let admin = Actor::User(ADMIN_EMAIL.into());
    let request = json!({"endUserId": "c-1", "tags": {"tenant": "acme"}});
    connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    // A repair link made before a disconnect does not undo it.
    let repair = link(&app, &key, json!({"endUserId": "c-1", "integrationId": 1})).await;
    app.engine
        .disconnect(IntegrationId(1), &admin)
        .await
        .expect("disconnect");
    let res = anonymous().get(&repair).send().await.expect("page");
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.expect("body").contains("withdrawn"));
    // The disconnected row is anyone's to take over, afresh: another
    // customer's link lands on it with its own end user and tags only.
    let request = json!({"endUserId": "c-2", "tags": {"tenant": "globex"}});
    let done = connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    assert!(done.body.contains("Jira is connected"), "{}", done.body);
    let view = integration(&app, &key, 1).await;
    assert_eq!(view["endUserId"], "c-2");
    assert_eq!(view["tags"], json!({"tenant": "globex"}));
    // Tags are added, never changed: the same customer's next link cannot
    // move it to another tenant.
    let request = json!({"endUserId": "c-2", "tags": {"tenant": "acme", "plan": "pro"}});
    connect_through_link(&app, &key, request, ADA, &[ACME]).await;
    let view = integration(&app, &key, 1).await;
    assert_eq!(view["tags"], json!({"plan": "pro", "tenant": "globex"}));
    // A link never gives an owner to an integration made on the dashboard.
    app.connect(GRACE, &[GLOBEX], None).await;
    let before = app.count("SELECT COUNT(*) FROM connect_sessions").await;
    let (status, body) =
        make_link(&app, &key, json!({"endUserId": "c-3", "integrationId": 2})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM connect_sessions").await,
        before
    );
    // returnUrl cannot carry the parameters the return adds.
    let request =
        json!({"endUserId": "c-4", "returnUrl": "https://app.example.com/r?result=connected"});
    let (status, body) = make_link(&app, &key, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A key revoked while its link's flow is at the consent page: nothing
    // is stored.
    let url = link(&app, &key, json!({"endUserId": "c-5"})).await;
    let browser = anonymous();
    let Started {
        authorize, cookie, ..
    } = press(&browser, &url).await;
    let cookie = cookie.expect("the binding cookie");
    let id = app.engine.api_keys().await.expect("keys")[0].id;
    app.engine.revoke_api_key(id, &admin).await.expect("revoke");
    let callback = consent(&app, &browser, &authorize, "accept", GRACE, &[GLOBEX]).await;
    let done = come_back(&browser, callback, &cookie).await;
    assert!(done.body.contains("withdrawn"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM integrations WHERE end_user_id = 'c-5'")
            .await,
        0
    );
}
