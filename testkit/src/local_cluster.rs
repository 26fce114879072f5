//! Several dashboard processes sharing one PostgreSQL database, with the
//! Atlassian sandbox as a server of its own: what the cluster tests
//! (`server/tests/cluster.rs`) and `bench replicas` run. Each process is the
//! real `server` binary, started with the environment an operator would give
//! it (`JIRA_CLIENT_ID` and the sandbox's URLs, one `TOKEN_ENCRYPTION_KEY`
//! for all, the same `DATABASE_URL`), so it can be killed like one.
//!
//! PostgreSQL is the server `TEST_POSTGRES_URL` names (`scripts/test`
//! starts one), or one this module starts with `scripts/postgres` in a
//! temporary folder and stops when dropped; every cluster gets a fresh
//! database on it.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use engine::{Database, TokenVault};

use crate::local_instance::{fresh_postgres_database, seed_families, Seeding};

/// The client the sandbox registers and every process uses.
pub const CLIENT_ID: &str = "cluster-client-id";
const CLIENT_SECRET: &str = "cluster-client-secret";
/// The callback the client registered (the processes' redirect URI).
pub const REDIRECT_URI: &str = "http://localhost:3000/oauth/callback";

/// A PostgreSQL server: `TEST_POSTGRES_URL`'s, or a throw-away one.
pub struct Postgres {
    /// `postgres://user@host:port`, without a database.
    pub server: String,
    /// The folder of the one started here (stopped and removed on drop).
    started: Option<tempfile::TempDir>,
}

impl Postgres {
    /// `TEST_POSTGRES_URL`'s server, else a new one (`scripts/postgres`).
    pub fn start() -> Result<Self, String> {
        if let Ok(server) = std::env::var("TEST_POSTGRES_URL") {
            if !server.is_empty() {
                return Ok(Self {
                    server: server.trim_end_matches('/').to_owned(),
                    started: None,
                });
            }
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        // The `postgres` user runs it when this is root: it must reach the folder.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755));
        }
        let port = free_port()?;
        let out = Command::new(scripts_postgres())
            .arg("start")
            .arg(dir.path().join("pg"))
            .arg(port.to_string())
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("scripts/postgres: {e}"))?;
        if !out.status.success() {
            return Err(format!("scripts/postgres start failed ({})", out.status));
        }
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let server = url
            .rsplit_once('/')
            .map(|(server, _)| server.to_owned())
            .ok_or_else(|| format!("scripts/postgres printed {url:?}"))?;
        Ok(Self {
            server,
            started: Some(dir),
        })
    }

    /// A new, empty database on this server; its URL.
    pub async fn fresh_database(&self) -> Result<String, String> {
        fresh_postgres_database(&self.server).await
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(dir) = &self.started {
            let _ = Command::new(scripts_postgres())
                .arg("stop")
                .arg(dir.path().join("pg"))
                .stdout(Stdio::null())
                .status();
        }
    }
}

fn scripts_postgres() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres")
}

/// A port nobody listens on right now.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("bind: {e}"))
}

/// The sandbox on a port of its own, on the system clock, in memory.
pub struct StandaloneSandbox {
    pub sandbox: sandbox::Sandbox,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    serving: tokio::task::JoinHandle<()>,
}

impl StandaloneSandbox {
    /// Serves a sandbox with [`CLIENT_ID`] registered for [`REDIRECT_URI`].
    pub async fn start(settings: sandbox::Settings) -> Result<Self, String> {
        let client = sandbox::Client {
            id: CLIENT_ID.to_owned(),
            secret: CLIENT_SECRET.to_owned(),
            redirect_uris: vec![REDIRECT_URI.to_owned()],
        };
        let sandbox = sandbox::Sandbox::new(vec![client], settings, sandbox::clock::system_time());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("bind: {e}"))?;
        let router = sandbox.router();
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            sandbox,
            base: format!("http://{addr}"),
            serving,
        })
    }
}

impl Drop for StandaloneSandbox {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// One `server` process; killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// What it printed (stdout and stderr), line by line.
    pub output: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `binary` with `env` added, listening on a free port; waits
    /// until it says where.
    pub fn spawn(binary: &Path, env: &[(String, String)]) -> Result<Self, String> {
        let mut command = Command::new(binary);
        for inherited in [
            "DATABASE_URL",
            "JIRA_CLIENT_ID",
            "JIRA_CLIENT_SECRET",
            "ADMIN_EMAIL",
            "ADMIN_PASSWORD",
            "TOKEN_ENCRYPTION_KEY",
            "TOKEN_ENCRYPTION_KEYS",
        ] {
            command.env_remove(inherited);
        }
        // The line that says where it listens is the server's own, at info.
        let log = env
            .iter()
            .find(|(k, _)| k == "RUST_LOG")
            .map_or_else(|| "info".to_owned(), |(_, v)| format!("{v},server=info"));
        command
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("NO_COLOR", "1")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let (lines, seen) = std::sync::mpsc::channel::<String>();
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        for stream in [stdout, stderr].into_iter().flatten() {
            let lines = lines.clone();
            let output = output.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream)
                    .lines()
                    .map_while(Result::ok)
                {
                    let line = without_colours(&line);
                    output
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(line.clone());
                    let _ = lines.send(line);
                }
            });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match seen.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, rest)) = line.split_once("listening on ") {
                        break rest
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let said = output.lock().unwrap_or_else(|p| p.into_inner()).join("\n");
                    return Err(format!("the server did not start:\n{said}"));
                }
            }
        };
        Ok(Self {
            child,
            base: format!("http://{addr}"),
            output,
        })
    }

    /// `kill -9`: no shutdown, no last write.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Drops the terminal colour codes tracing may print.
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// PostgreSQL, the sandbox and the server processes sharing them.
pub struct Cluster {
    pub servers: Vec<ServerProcess>,
    pub sandbox: StandaloneSandbox,
    /// The processes' database, opened here too (seeding, inspecting).
    pub database: Database,
    pub database_url: String,
    pub vault: TokenVault,
    env: Vec<(String, String)>,
    binary: PathBuf,
    /// Last: the database server outlives everything that uses it.
    pub postgres: Postgres,
}

impl Cluster {
    /// A fresh database, the sandbox (`settings`), and `servers` processes
    /// of `binary`, each with `extra` in its environment. The first one
    /// creates the administrator ([`crate::ADMIN_EMAIL`]).
    pub async fn start(
        binary: &Path,
        servers: usize,
        extra: &[(&str, &str)],
        settings: sandbox::Settings,
    ) -> Result<Self, String> {
        let postgres = Postgres::start()?;
        let database_url = postgres.fresh_database().await?;
        let database = Database::open(&database_url)
            .await
            .map_err(|e| e.to_string())?;
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        let vault = TokenVault::from_base64(&key).map_err(|e| e.to_string())?;
        let sandbox = StandaloneSandbox::start(settings).await?;
        let mut env: Vec<(String, String)> = [
            ("DATABASE_URL", database_url.as_str()),
            ("TOKEN_ENCRYPTION_KEY", key.as_str()),
            ("JIRA_CLIENT_ID", CLIENT_ID),
            ("JIRA_CLIENT_SECRET", CLIENT_SECRET),
            ("JIRA_AUTH_URL", &format!("{}/authorize", sandbox.base)),
            ("JIRA_TOKEN_URL", &format!("{}/oauth/token", sandbox.base)),
            ("JIRA_API_URL", &sandbox.base),
            ("JIRA_REDIRECT_URI", REDIRECT_URI),
            ("ADMIN_EMAIL", crate::ADMIN_EMAIL),
            ("ADMIN_PASSWORD", crate::ADMIN_PASSWORD),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut cluster = Self {
            servers: Vec::new(),
            sandbox,
            database,
            database_url,
            vault,
            env,
            binary: binary.to_owned(),
            postgres,
        };
        for _ in 0..servers {
            cluster.add_server()?;
        }
        Ok(cluster)
    }

    /// Starts one more process; its index in [`Cluster::servers`].
    pub fn add_server(&mut self) -> Result<usize, String> {
        self.servers
            .push(ServerProcess::spawn(&self.binary, &self.env)?);
        Ok(self.servers.len() - 1)
    }

    /// Connected integrations `ids`, each with a real token family of the
    /// sandbox issued now, the access token expiring at `expires_at(id)`.
    pub async fn seed(&self, ids: std::ops::RangeInclusive<i64>, expires_at: impl Fn(i64) -> i64) {
        let to = Seeding {
            database: &self.database,
            vault: &self.vault,
            sandbox: &self.sandbox.sandbox,
            client_id: CLIENT_ID,
            redirect_uri: REDIRECT_URI,
        };
        seed_families(&to, ids, self.sandbox.sandbox.now(), expires_at).await;
    }
}
