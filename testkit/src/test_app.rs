//! Test harness: the real server on port 0 with its own database (a SQLite
//! file, or a fresh PostgreSQL database when `TEST_POSTGRES_URL` is set), the
//! built-in sandbox mounted at /sandbox, and a clock the test moves by hand.

use std::sync::Arc;

use crate::LocalInstance;
use engine::ManualClock;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use url::Url;

pub const ADA: &str = "557058:ada-lovelace";
pub const GRACE: &str = "557058:grace-hopper";
pub const ACME: &str = "11111111-aaaa-4aaa-8aaa-111111111111";
pub const GLOBEX: &str = "22222222-bbbb-4bbb-8bbb-222222222222";

pub struct TestApp {
    pub base: String,
    /// Signed in as the administrator (its session cookie goes with every request).
    pub http: reqwest::Client,
    /// `name=value` of the administrator's session cookie.
    pub session: String,
    pub clock: ManualClock,
    pub engine: engine::Engine,
    pub sandbox: sandbox::Sandbox,
    pub database: engine::Database,
    pub vault: engine::TokenVault,
    pub atlassian: engine::oauth::AtlassianClient,
    /// Every response body and header this harness saw (to check for leaks).
    pub seen: std::sync::Mutex<Vec<String>>,
    /// Keeps the database folder alive.
    _instance: LocalInstance,
}

/// `outcome` ended in `expected` (else its message says why not).
#[track_caller]
pub fn assert_refresh_result(
    outcome: &engine::refresh::RefreshOutcome,
    expected: engine::refresh::RefreshResult,
) {
    assert_eq!(outcome.result, expected, "{}", outcome.message);
}

/// A client that sends no cookie and follows no redirect (a stranger).
pub fn anonymous() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A client whose every request carries `session` (`name=value`).
pub fn client_with_session(session: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        COOKIE,
        reqwest::header::HeaderValue::from_str(session).expect("cookie"),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

/// Signs in at `base` through `POST /login`: the session cookie's
/// `name=value`, or the answer's status and body when it was refused.
pub async fn sign_in(
    base: &str,
    email: &str,
    password: &str,
) -> Result<String, (StatusCode, String)> {
    let res = anonymous()
        .post(format!("{base}/login"))
        .form(&[
            ("email", email),
            ("password", password),
            ("next", "/dashboard"),
        ])
        .send()
        .await
        .expect("sign in");
    session_cookie(&res).ok_or_else(|| (res.status(), String::new()))
}

/// The session cookie an answer sets, as `name=value`.
pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("jira_dashboard_session="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// An answer's `Location` header ("" when it has none).
pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

/// What one pass through the connect flow produced.
#[derive(Debug)]
pub struct Flow {
    /// The callback's answer.
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Spawns with extra command-line settings (`--flag value` pairs).
    pub async fn spawn_with(extra: &[&str]) -> Self {
        let clock = ManualClock::new(1_800_000_000);
        let instance = LocalInstance::start(extra, Arc::new(clock.clone()))
            .await
            .expect("start the dashboard");
        Self::on(instance, clock).await
    }

    /// Spawns on `clock`, a clock of the test's own making that reads
    /// `manual` (which the test moves, as `TestApp::clock`).
    pub async fn spawn_on(
        extra: &[&str],
        clock: Arc<dyn engine::Clock>,
        manual: ManualClock,
    ) -> Self {
        let instance = LocalInstance::start(extra, clock)
            .await
            .expect("start the dashboard");
        Self::on(instance, manual).await
    }

    /// The dashboard restarted: a second server on this one's database file and
    /// key, on the same clock (this one keeps running, unused).
    pub async fn restart(&self) -> Self {
        let instance = self
            ._instance
            .restart(&[], Arc::new(self.clock.clone()))
            .await
            .expect("restart the dashboard");
        Self::on(instance, self.clock.clone()).await
    }

    /// A second server process on this one's database file and key, sending
    /// its token requests to THIS dashboard's sandbox (so both processes talk
    /// to one provider, as two replicas of one deployment would).
    pub async fn second_process(&self) -> Self {
        let token_url = self.url("/sandbox/oauth/token");
        let api_url = self.url("/sandbox");
        let instance = self
            ._instance
            .restart(
                &["--jira-token-url", &token_url, "--jira-api-url", &api_url],
                Arc::new(self.clock.clone()),
            )
            .await
            .expect("start a second dashboard");
        Self::on(instance, self.clock.clone()).await
    }

    /// A second server process on this one's database file and key, whose
    /// token requests go to THIS dashboard's sandbox and whose Jira API base
    /// (`JIRA_API_URL`) is `api_url` (e.g. a test's own upstream).
    pub async fn process_with_jira_api(&self, api_url: &str) -> Self {
        let token_url = self.url("/sandbox/oauth/token");
        let instance = self
            ._instance
            .restart(
                &["--jira-token-url", &token_url, "--jira-api-url", api_url],
                Arc::new(self.clock.clone()),
            )
            .await
            .expect("start a dashboard with another Jira API base");
        Self::on(instance, self.clock.clone()).await
    }

    async fn on(instance: LocalInstance, clock: ManualClock) -> Self {
        let session = sign_in(&instance.base, crate::ADMIN_EMAIL, crate::ADMIN_PASSWORD)
            .await
            .expect("the administrator signs in");
        let http = client_with_session(&session);
        Self {
            base: instance.base.clone(),
            http,
            session,
            clock,
            engine: instance.engine.clone(),
            sandbox: instance.sandbox.clone(),
            database: instance.database.clone(),
            vault: instance.vault.clone(),
            atlassian: instance.atlassian.clone(),
            seen: Default::default(),
            _instance: instance,
        }
    }

    /// Stops the server (as SIGTERM would).
    pub fn stop(&self) {
        self._instance.stop();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn record(
        &self,
        res: reqwest::Response,
    ) -> (StatusCode, Option<String>, Vec<String>, String) {
        let status = res.status();
        let location = res
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let cookies: Vec<String> = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        let headers = format!("{:?}", res.headers());
        let body = res.text().await.expect("body");
        let mut seen = self.seen.lock().expect("lock");
        seen.push(headers);
        seen.push(body.clone());
        (status, location, cookies, body)
    }

    /// `POST path` with a form body, as the administrator: the answer.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("post")
    }

    /// `GET path`, as the administrator: the answer.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("get")
    }

    /// POSTs one of the settings page's forms as the administrator: it
    /// answers with a redirect back to the page; its `Location` (with the notice).
    pub async fn settings_form(&self, path: &str, form: &[(&str, &str)]) -> String {
        let res = self.post(path, form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        location(&res)
    }

    /// Adds a user with `role` and `password` through the settings form (as
    /// the administrator) and signs them in: their client.
    pub async fn add_user(&self, email: &str, password: &str, role: &str) -> reqwest::Client {
        let res = self
            .post(
                "/settings/users",
                &[("email", email), ("password", password), ("role", role)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "adding {email}");
        assert_eq!(
            location(&res),
            "/settings?notice=user_added",
            "adding {email}"
        );
        let session = sign_in(&self.base, email, password)
            .await
            .expect("the new user signs in");
        client_with_session(&session)
    }

    /// `GET /oauth/start[?integration=N]`: the authorize URL and the binding cookie.
    pub async fn start(&self, integration: Option<i64>) -> (Url, String) {
        let path = match integration {
            Some(id) => format!("/oauth/start?integration={id}"),
            None => "/oauth/start".to_owned(),
        };
        let res = self.http.get(self.url(&path)).send().await.expect("start");
        let (status, location, cookies, _) = self.record(res).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with("jira_oauth_binding="))
            .expect("binding cookie")
            .clone();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        let pair = cookie.split(';').next().expect("pair").to_owned();
        (Url::parse(&location.expect("location")).expect("url"), pair)
    }

    /// Answers the sandbox's consent page; the callback URL it redirects to.
    pub async fn consent(
        &self,
        authorize: &Url,
        decision: &str,
        account: &str,
        sites: &[&str],
    ) -> Url {
        let res = self
            .http
            .get(authorize.clone())
            .send()
            .await
            .expect("consent page");
        let (status, _, _, _) = self.record(res).await;
        assert_eq!(status, StatusCode::OK);
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.push(("decision".into(), decision.into()));
        form.push(("account".into(), account.into()));
        for s in sites {
            form.push(("site".into(), (*s).into()));
        }
        let res = self
            .http
            .post(self.url("/sandbox/authorize"))
            .form(&form)
            .send()
            .await
            .expect("decision");
        let (status, location, _, _) = self.record(res).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        Url::parse(&location.expect("location")).expect("callback url")
    }

    /// Calls the callback with (or without) the binding cookie.
    pub async fn callback(&self, callback: &Url, cookie: Option<&str>) -> Flow {
        let mut req = self.http.get(callback.clone());
        if let Some(c) = cookie {
            req = req.header(COOKIE, format!("{}; {c}", self.session));
        }
        let res = req.send().await.expect("callback");
        let (status, location, _, body) = self.record(res).await;
        Flow {
            status,
            location,
            body,
        }
    }

    /// The whole flow, accepted, for `account` on `sites`.
    pub async fn connect(&self, account: &str, sites: &[&str], integration: Option<i64>) -> Flow {
        let (authorize, cookie) = self.start(integration).await;
        let callback = self.consent(&authorize, "accept", account, sites).await;
        self.callback(&callback, Some(&cookie)).await
    }

    /// Integrations `1..=n`, each holding a real token family of the
    /// sandbox (Ada's grant on one site, issued now), the access token of
    /// integration `id` expiring at `expires_at(id)`: a fleet without `n`
    /// trips through the flow.
    pub async fn seed_families(&self, n: i64, expires_at: impl Fn(i64) -> i64) {
        let now = engine::Clock::now(&self.clock).0;
        self._instance
            .seed_sandbox_families(1..=n, now, expires_at)
            .await;
    }

    /// The single integer `sql` answers (a `COUNT(*)`, or an integer
    /// column): SQL both backends accept.
    pub async fn count(&self, sql: &str) -> i64 {
        engine::db::query(sql.to_owned())
            .scalar::<i64>(&self.database)
            .await
            .expect("count")
    }

    /// How many token events match `condition` (an SQL `WHERE` condition).
    pub async fn count_events(&self, condition: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM token_events WHERE {condition}"
        ))
        .await
    }

    pub async fn list(&self) -> serde_json::Value {
        let res = self
            .http
            .post(self.url("/api/list_integrations"))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.expect("body");
        self.seen.lock().expect("lock").push(text.clone());
        serde_json::from_str(&text).expect("json")
    }

    /// `POST path` with a form body (a server function): the status and the
    /// JSON answer (a string when it is not JSON). Recorded for leak checks.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, serde_json::Value) {
        let res = self
            .http
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("post");
        let status = res.status();
        let text = res.text().await.expect("body");
        self.seen.lock().expect("lock").push(text.clone());
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, value)
    }

    /// `method path` on the service API as a service calls it (no dashboard
    /// session): with `key` as its bearer token and a JSON `body`, each if
    /// any. The status, the headers and the JSON answer (a string when it is
    /// not JSON); the answer is recorded for leak checks.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, serde_json::Value) {
        let mut request = anonymous().request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let res = request.send().await.expect("send");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        self.seen.lock().expect("lock").push(text.clone());
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, headers, value)
    }

    /// A scheduler refresh of integration 1 whose token request the sandbox
    /// holds for `delay_ms`, started on its own task; answered `wait_ms`
    /// later (the request in flight, if `wait_ms < delay_ms`) with that task.
    pub async fn refresh_in_flight(
        self: &Arc<Self>,
        delay_ms: u64,
        wait_ms: u64,
    ) -> tokio::task::JoinHandle<engine::refresh::RefreshOutcome> {
        self.sandbox
            .inject_fault(sandbox::FaultKind::Delay { ms: delay_ms }, 1);
        let app = self.clone();
        let task = tokio::spawn(async move {
            app.engine
                .refresh(domain::IntegrationId(1), &domain::Actor::Scheduler)
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
        task
    }

    /// The stored token of integration `id` in `column`, decrypted.
    pub async fn stored_token(&self, id: i64, column: engine::vault::Column) -> String {
        let id = domain::IntegrationId(id);
        let (access, refresh) = self
            .database
            .encrypted_tokens(id)
            .await
            .expect("db")
            .expect("row");
        let blob = match column {
            engine::vault::Column::AccessToken => access,
            engine::vault::Column::RefreshToken => refresh,
        };
        self.vault
            .decrypt(id, column, &blob.expect("a stored token"))
            .expect("decrypt")
            .expose()
            .to_owned()
    }

    /// The body of `GET path`.
    pub async fn page_text(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body")
    }

    /// From now on every write of an access token fails ("disk full"): a
    /// trigger that aborts the UPDATE (on PostgreSQL, a plpgsql function
    /// raising an exception, and its trigger).
    pub async fn fail_rotations(&self) {
        if self.database.is_postgres() {
            engine::db::query(
                "CREATE FUNCTION fail_rotation() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN RAISE EXCEPTION 'disk full'; END $$",
            )
            .execute(&self.database)
            .await
            .expect("trigger function");
        }
        engine::db::Query::dialect(
            "CREATE TRIGGER fail_rotation BEFORE UPDATE OF access_token ON integrations
             BEGIN SELECT RAISE(ABORT, 'disk full'); END",
            "CREATE TRIGGER fail_rotation BEFORE UPDATE OF access_token ON integrations
             FOR EACH ROW EXECUTE FUNCTION fail_rotation()",
        )
        .execute(&self.database)
        .await
        .expect("trigger");
    }

    /// The disk "recovers": writes succeed again.
    pub async fn heal_rotations(&self) {
        engine::db::Query::dialect(
            "DROP TRIGGER fail_rotation",
            "DROP TRIGGER fail_rotation ON integrations",
        )
        .execute(&self.database)
        .await
        .expect("drop trigger");
        if self.database.is_postgres() {
            engine::db::query("DROP FUNCTION fail_rotation()")
                .execute(&self.database)
                .await
                .expect("drop trigger function");
        }
    }
}

/// After rows went into `integrations` with their own ids (in `tx`): on
/// PostgreSQL, moves the id's identity sequence past them, so that the next
/// integration the dashboard creates gets a free id (SQLite needs nothing).
pub async fn integration_ids_taken(tx: &mut engine::db::Tx) {
    if tx.is_postgres() {
        engine::db::query(
            "SELECT setval(pg_get_serial_sequence('integrations', 'id'),
                (SELECT max(id) FROM integrations))",
        )
        .execute(tx)
        .await
        .expect("move the integration id sequence");
    }
}

/// Runs the real server binary `server` ([`crate::server_binary!`]) in
/// sandbox mode, on a fresh database, redirect URI on `localhost:45678`,
/// with `env` added, and answers the first line it prints that starts with
/// `open `, and the lines before it.
pub fn open_line(server: &std::path::Path, env: &[(&str, &str)]) -> (Option<String>, Vec<String>) {
    use std::io::BufRead;

    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = std::process::Command::new(server);
    command
        .current_dir(dir.path())
        .env_remove("JIRA_CLIENT_ID")
        .env_remove("ADMIN_EMAIL")
        .env_remove("ADMIN_PASSWORD")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.path().display()),
        )
        .env("JIRA_REDIRECT_URI", "http://localhost:45678/oauth/callback")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run server");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let found = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match seen.recv_timeout(left) {
            Ok(line) if line.starts_with("open ") => break Some(line),
            Ok(line) => printed.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    (found, printed)
}
