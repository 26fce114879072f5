//! The token key against the database: a wrong key stops start-up with one
//! line; several keys (newest first) rotate without downtime; `--reseal-tokens`
//! moves every stored token to the newest key, and values in the older
//! AES-256-GCM formats to the current one (XChaCha20-Poly1305). The real binary.

use std::path::Path;
use std::process::Command;

const KEY_A: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="; // 32 × 'A'
const KEY_B: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="; // 32 × 'B'

/// Runs the binary with `args` on the database in `dir`; answers (exit code,
/// stdout, stderr). `--reseal-tokens` exits by itself; a server that starts is
/// seen by its "listening" line and stopped.
fn server(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(testkit::server_binary!())
        .current_dir(dir)
        .env_remove("JIRA_CLIENT_ID")
        .env_remove("TOKEN_ENCRYPTION_KEY")
        .env_remove("TOKEN_ENCRYPTION_KEYS")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.display()),
        )
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run server");
    // Give a starting server time to reach its listening line, then stop it.
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn integration_with_tokens(dir: &Path, key: &str) {
    // One stored token sealed with `key`, written the way the engine does.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let db = engine::Database::open(&format!("sqlite://{}/db.sqlite", dir.display()))
            .await
            .expect("open");
        let vault = engine::TokenVault::from_base64(key).expect("key");
        let id = domain::IntegrationId(1);
        let sealed = vault
            .encrypt(
                id,
                engine::vault::Column::AccessToken,
                &engine::Secret::new("at"),
            )
            .expect("seal");
        sqlx::query(
            "INSERT INTO integrations (id, account_id, account_name, scopes, access_token,
                expires_at, access_token_lifetime, consented_at, created_at, updated_at)
             VALUES (1, 'acc', 'Ada', '', ?, 0, 0, 0, 0, 0)",
        )
        .bind(sealed)
        .execute(db.sqlite_pool().expect("sqlite"))
        .await
        .expect("insert");
    });
}

#[test]
fn a_wrong_key_stops_start_up_and_a_rotation_keeps_every_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    integration_with_tokens(dir.path(), KEY_A);
    let key_a = [("TOKEN_ENCRYPTION_KEY", KEY_A)];
    let key_b = [("TOKEN_ENCRYPTION_KEY", KEY_B)];

    // First start with the right key: it records the key-check value.
    let (code, _, stderr) = server(dir.path(), &key_a, &[]);
    assert_eq!(code, None, "still running, killed by the test: {stderr}");
    // Another key: one line naming the variable, exit code 1.
    let (code, _, stderr) = server(dir.path(), &key_b, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("TOKEN_ENCRYPTION_KEY") && lines[0].contains("not the key"),
        "{stderr}"
    );

    // Rotation: the new key first, the old one after it.
    let both = [("TOKEN_ENCRYPTION_KEYS", &*format!("{KEY_B},{KEY_A}"))];
    let (code, stdout, stderr) = server(dir.path(), &both, &["--reseal-tokens"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("re-sealed 1 row(s)"), "{stdout}");
    // Every token is now the new key's: the new key alone starts, the old alone does not.
    let (code, _, stderr) = server(dir.path(), &key_b, &[]);
    assert_eq!(code, None, "{stderr}");
    let (code, _, stderr) = server(dir.path(), &key_a, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    // And the token itself opens under the new key.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let db = engine::Database::open(&format!("sqlite://{}/db.sqlite", dir.path().display()))
            .await
            .expect("open");
        let blob: Vec<u8> =
            sqlx::query_scalar("SELECT access_token FROM integrations WHERE id = 1")
                .fetch_one(db.sqlite_pool().expect("sqlite"))
                .await
                .expect("row");
        let vault = engine::TokenVault::from_base64(KEY_B).expect("key");
        let token = vault
            .decrypt(
                domain::IntegrationId(1),
                engine::vault::Column::AccessToken,
                &blob,
            )
            .expect("opens with the new key");
        assert_eq!(token.expose(), "at");
        assert!(!vault.needs_reseal(&blob));
    });
}

/// `plain` sealed as the vault did before XChaCha20-Poly1305, independently of
/// the vault: `0x02 || key id (the key's SHA-256, 4 bytes) || 12-byte nonce ||
/// AES-256-GCM ciphertext`.
fn sealed_in_format_2(key: &str, plain: &[u8], aad: &[u8]) -> Vec<u8> {
    use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
    use base64::Engine as _;
    use sha2::Digest as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .expect("base64");
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key).expect("32 bytes");
    let nonce = aes_gcm::Aes256Gcm::generate_nonce(OsRng);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: plain, aad })
        .expect("seal");
    let mut out = vec![0x02];
    out.extend_from_slice(&sha2::Sha256::digest(&key)[..4]);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// A token's associated data in formats 0x02 and 0x03: its row and column.
fn token_aad(id: i64, column: &str) -> Vec<u8> {
    let mut aad = b"jira-dashboard/token/v2/".to_vec();
    aad.extend_from_slice(&id.to_be_bytes());
    aad.push(b'/');
    aad.extend_from_slice(column.as_bytes());
    aad
}

#[test]
fn the_reseal_moves_aes_gcm_values_to_the_current_format_under_the_same_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/db.sqlite", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // A database written before the move: both tokens and the key-check
    // value in format 0x02, under KEY_A.
    runtime.block_on(async {
        let db = engine::Database::open(&url).await.expect("open");
        let pool = db.sqlite_pool().expect("sqlite");
        sqlx::query(
            "INSERT INTO integrations (id, account_id, account_name, scopes, access_token,
                refresh_token, expires_at, access_token_lifetime, consented_at, created_at,
                updated_at)
             VALUES (1, 'acc', 'Ada', '', ?, ?, 0, 0, 0, 0, 0)",
        )
        .bind(sealed_in_format_2(
            KEY_A,
            b"at",
            &token_aad(1, "access_token"),
        ))
        .bind(sealed_in_format_2(
            KEY_A,
            b"rt",
            &token_aad(1, "refresh_token"),
        ))
        .execute(pool)
        .await
        .expect("insert");
        sqlx::query("INSERT INTO token_key_check (id, check_value, written_at) VALUES (1, ?, 0)")
            .bind(sealed_in_format_2(
                KEY_A,
                b"jira-dashboard token key check",
                b"key-check",
            ))
            .execute(pool)
            .await
            .expect("insert check value");
    });
    let read = |sql: &'static str| -> Vec<u8> {
        runtime.block_on(async {
            let db = engine::Database::open(&url).await.expect("open");
            sqlx::query_scalar(sql)
                .fetch_one(db.sqlite_pool().expect("sqlite"))
                .await
                .expect("row")
        })
    };
    let key_a = [("TOKEN_ENCRYPTION_KEY", KEY_A)];

    // The old check value still proves the key; start-up rewrites it in the
    // current format.
    let (code, _, stderr) = server(dir.path(), &key_a, &[]);
    assert_eq!(code, None, "still running, killed by the test: {stderr}");
    let check = read("SELECT check_value FROM token_key_check WHERE id = 1");
    assert_eq!(
        check[0], 0x03,
        "the check value is rewritten in format 0x03"
    );

    // The same key, no rotation: the old format alone calls for a re-seal.
    let (code, stdout, stderr) = server(dir.path(), &key_a, &["--reseal-tokens"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("re-sealed 1 row(s)"), "{stdout}");
    let vault = engine::TokenVault::from_base64(KEY_A).expect("key");
    for (sql, column, token) in [
        (
            "SELECT access_token FROM integrations WHERE id = 1",
            engine::vault::Column::AccessToken,
            "at",
        ),
        (
            "SELECT refresh_token FROM integrations WHERE id = 1",
            engine::vault::Column::RefreshToken,
            "rt",
        ),
    ] {
        let blob = read(sql);
        assert_eq!(blob[0], 0x03, "{column:?} is in the current format");
        assert!(!vault.needs_reseal(&blob));
        let opened = vault
            .decrypt(domain::IntegrationId(1), column, &blob)
            .expect("opens");
        assert_eq!(opened.expose(), token);
    }
    // Nothing is left to move.
    let (code, stdout, stderr) = server(dir.path(), &key_a, &["--reseal-tokens"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("re-sealed 0 row(s)"), "{stdout}");
}
