//! [`TokenVault`]: AES-256-GCM encryption of tokens at rest.
//!
//! A sealed value is `0x02 || key id (4 bytes) || nonce (12) || ciphertext`:
//! a random 96-bit nonce per value, the id of the key that sealed it (the
//! first four bytes of its SHA-256), and as associated data the integration id
//! AND the column, so a ciphertext copied onto another row, or from the
//! access-token column into the refresh-token column, does not decrypt.
//!
//! Several keys may be configured, newest first (`TOKEN_ENCRYPTION_KEYS`):
//! the newest seals, any of them opens, so a key can be rotated without
//! downtime; values sealed with an older key are re-sealed when rewritten (every
//! refresh rewrites both tokens) or all at once by `server --reseal-tokens`.
//! Values written before key ids existed (`nonce || ciphertext`, the id alone
//! as associated data) still open, and are re-sealed the same way.
//!
//! A key-check value in the database ([`TokenVault::check_value`]) lets
//! start-up refuse a key that is not the database's, instead of every refresh
//! failing later.

use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use domain::IntegrationId;

use crate::secret::Secret;

const NONCE_LEN: usize = 12;
const KEY_ID_LEN: usize = 4;
/// The first byte of a value sealed in the current format.
const SEALED_V2: u8 = 0x02;
const V2_HEADER: usize = 1 + KEY_ID_LEN;
/// What the key-check value seals.
const KEY_CHECK_TEXT: &str = "jira-dashboard token key check";

/// Why a key could not be loaded, or a value not decrypted.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("TOKEN_ENCRYPTION_KEY must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("TOKEN_ENCRYPTION_KEYS: key {0} (counting from 1, newest first) is not base64 of exactly 32 bytes")]
    BadKeyInList(usize),
    #[error("TOKEN_ENCRYPTION_KEY is required outside sandbox mode (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)")]
    MissingKey,
    #[error("TOKEN_ENCRYPTION_KEY: cannot read or create the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("TOKEN_ENCRYPTION_KEY does not open this database's tokens: it is not the key they were encrypted with (set the old key, or list it after the new one in TOKEN_ENCRYPTION_KEYS)")]
    WrongKey,
    #[error("a stored token could not be decrypted (wrong TOKEN_ENCRYPTION_KEY, or the row was tampered with)")]
    Decrypt,
    #[error("a token could not be encrypted")]
    Encrypt,
}

/// The column a token lives in: part of what its ciphertext is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    AccessToken,
    RefreshToken,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::AccessToken => "access_token",
            Column::RefreshToken => "refresh_token",
        }
    }
}

struct SealingKey {
    id: [u8; KEY_ID_LEN],
    cipher: Aes256Gcm,
}

/// Encrypts tokens under the newest key and decrypts them under any key.
#[derive(Clone)]
pub struct TokenVault {
    /// Newest first; never empty.
    keys: Arc<Vec<SealingKey>>,
}

impl std::fmt::Debug for TokenVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenVault({} key(s), redacted)", self.keys.len())
    }
}

fn sealing_key(text: &str) -> Option<SealingKey> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    let digest = Sha256::digest(&bytes);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    Some(SealingKey {
        id,
        cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
    })
}

/// The associated data of a current-format value.
/// What a webhook secret's ciphertext is bound to.
fn webhook_aad(endpoint_id: i64) -> Vec<u8> {
    format!("webhook-secret:{endpoint_id}").into_bytes()
}

fn v2_aad(integration_id: IntegrationId, column: Column) -> Vec<u8> {
    let mut aad = b"jira-dashboard/token/v2/".to_vec();
    aad.extend_from_slice(&integration_id.get().to_be_bytes());
    aad.push(b'/');
    aad.extend_from_slice(column.name().as_bytes());
    aad
}

impl TokenVault {
    /// A vault from the base64 text of a 32-byte key.
    pub fn from_base64(key: &str) -> Result<Self, VaultError> {
        let key = sealing_key(key).ok_or(VaultError::BadKey)?;
        Ok(Self {
            keys: Arc::new(vec![key]),
        })
    }

    /// A vault from several keys, newest first, separated by commas or
    /// white space (`TOKEN_ENCRYPTION_KEYS`).
    pub fn from_key_list(list: &str) -> Result<Self, VaultError> {
        let keys = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|k| !k.is_empty())
            .enumerate()
            .map(|(i, k)| sealing_key(k).ok_or(VaultError::BadKeyInList(i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(VaultError::MissingKey);
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// Sandbox mode: reads the key file, or creates it (mode 0600) with a new
    /// random key when missing.
    pub fn load_or_create(path: &Path) -> Result<Self, VaultError> {
        let file_error = |source| VaultError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(folder).map_err(file_error)?;
                }
                let key = STANDARD.encode(Aes256Gcm::generate_key(OsRng));
                write_private(path, &key).map_err(file_error)?;
                Self::from_base64(&key)
            }
            Err(e) => Err(file_error(e)),
        }
    }

    fn newest(&self) -> &SealingKey {
        // Built from a non-empty list: the first is the newest.
        &self.keys[0]
    }

    fn seal(&self, key: &SealingKey, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = key
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| VaultError::Encrypt)?;
        let mut out = Vec::with_capacity(V2_HEADER + NONCE_LEN + ciphertext.len());
        out.push(SEALED_V2);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// The plaintext of a current-format value, or of a legacy one.
    fn open(&self, blob: &[u8], aad: &[u8], legacy_aad: Option<&[u8]>) -> Option<Vec<u8>> {
        if blob.len() > V2_HEADER + NONCE_LEN && blob[0] == SEALED_V2 {
            let (id, rest) = blob[1..].split_at(KEY_ID_LEN);
            if let Some(key) = self.keys.iter().find(|k| k.id == id) {
                let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
                let payload = Payload {
                    msg: ciphertext,
                    aad,
                };
                if let Ok(plain) = key.cipher.decrypt(Nonce::from_slice(nonce), payload) {
                    return Some(plain);
                }
            }
        }
        // Before key ids: `nonce || ciphertext`, the integration id as associated data.
        let legacy_aad = legacy_aad?;
        if blob.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        self.keys.iter().find_map(|key| {
            let payload = Payload {
                msg: ciphertext,
                aad: legacy_aad,
            };
            key.cipher.decrypt(Nonce::from_slice(nonce), payload).ok()
        })
    }

    /// `token` sealed with the newest key, bound to its row and column.
    pub fn encrypt(
        &self,
        integration_id: IntegrationId,
        column: Column,
        token: &Secret,
    ) -> Result<Vec<u8>, VaultError> {
        self.seal(
            self.newest(),
            token.expose().as_bytes(),
            &v2_aad(integration_id, column),
        )
    }

    /// The token stored as `blob` in `column` of integration `integration_id`.
    pub fn decrypt(
        &self,
        integration_id: IntegrationId,
        column: Column,
        blob: &[u8],
    ) -> Result<Secret, VaultError> {
        let legacy_aad = integration_id.get().to_be_bytes();
        let plain = self
            .open(blob, &v2_aad(integration_id, column), Some(&legacy_aad))
            .ok_or(VaultError::Decrypt)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| VaultError::Decrypt)
    }

    /// A webhook endpoint's signing secret sealed with the newest key, bound to
    /// its endpoint.
    pub fn encrypt_webhook_secret(
        &self,
        endpoint_id: i64,
        secret: &Secret,
    ) -> Result<Vec<u8>, VaultError> {
        self.seal(
            self.newest(),
            secret.expose().as_bytes(),
            &webhook_aad(endpoint_id),
        )
    }

    /// The signing secret of webhook endpoint `endpoint_id`, stored as `blob`.
    pub fn decrypt_webhook_secret(
        &self,
        endpoint_id: i64,
        blob: &[u8],
    ) -> Result<Secret, VaultError> {
        let plain = self
            .open(blob, &webhook_aad(endpoint_id), None)
            .ok_or(VaultError::Decrypt)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| VaultError::Decrypt)
    }

    /// Whether `blob` is sealed with something other than the newest key in
    /// the current format (it should be re-sealed).
    pub fn needs_reseal(&self, blob: &[u8]) -> bool {
        !(blob.len() > V2_HEADER && blob[0] == SEALED_V2 && blob[1..V2_HEADER] == self.newest().id)
    }

    /// A value that only the newest key opens: stored once in the database so
    /// that start-up can tell whether the configured keys are the database's.
    pub fn check_value(&self) -> Result<Vec<u8>, VaultError> {
        self.seal(self.newest(), KEY_CHECK_TEXT.as_bytes(), b"key-check")
    }

    /// Whether one of the configured keys opens the database's key-check value.
    pub fn opens_check_value(&self, blob: &[u8]) -> bool {
        self.open(blob, b"key-check", None)
            .is_some_and(|plain| plain == KEY_CHECK_TEXT.as_bytes())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS: Column = Column::AccessToken;
    const REFRESH: Column = Column::RefreshToken;

    fn vault() -> TokenVault {
        TokenVault::from_base64(&STANDARD.encode([7u8; 32])).expect("key")
    }

    #[test]
    fn round_trips_and_hides_the_token() {
        let v = vault();
        let token = Secret::new("sbx_at_abcdef");
        let blob = v
            .encrypt(IntegrationId(42), ACCESS, &token)
            .expect("encrypt");
        assert!(!blob.windows(6).any(|w| w == b"abcdef"));
        assert_eq!(
            v.decrypt(IntegrationId(42), ACCESS, &blob)
                .expect("decrypt"),
            token
        );
    }

    #[test]
    fn every_encryption_uses_a_new_nonce() {
        let v = vault();
        let token = Secret::new("same");
        assert_ne!(
            v.encrypt(IntegrationId(1), ACCESS, &token).expect("a"),
            v.encrypt(IntegrationId(1), ACCESS, &token).expect("b")
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_integration_does_not_decrypt() {
        let v = vault();
        let blob = v
            .encrypt(IntegrationId(1), ACCESS, &Secret::new("token"))
            .expect("encrypt");
        assert!(matches!(
            v.decrypt(IntegrationId(2), ACCESS, &blob),
            Err(VaultError::Decrypt)
        ));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(matches!(
            TokenVault::from_base64("not base64!"),
            Err(VaultError::BadKey)
        ));
        assert!(matches!(
            TokenVault::from_base64(&STANDARD.encode([1u8; 16])),
            Err(VaultError::BadKey)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_generated_key_file_is_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("keys/token.key");
        let first = TokenVault::load_or_create(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let blob = first
            .encrypt(IntegrationId(3), ACCESS, &Secret::new("t"))
            .expect("encrypt");
        let second = TokenVault::load_or_create(&path).expect("reuse");
        assert_eq!(
            second
                .decrypt(IntegrationId(3), ACCESS, &blob)
                .expect("decrypt")
                .expose(),
            "t"
        );
    }

    #[test]
    fn a_ciphertext_moved_to_the_other_column_does_not_decrypt() {
        let v = vault();
        let blob = v
            .encrypt(IntegrationId(1), ACCESS, &Secret::new("token"))
            .expect("encrypt");
        assert!(matches!(
            v.decrypt(IntegrationId(1), REFRESH, &blob),
            Err(VaultError::Decrypt)
        ));
    }

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn an_old_key_opens_what_it_sealed_and_the_newest_seals() {
        let old = TokenVault::from_base64(&key(1)).expect("old");
        let sealed_old = old
            .encrypt(IntegrationId(5), REFRESH, &Secret::new("rt"))
            .expect("encrypt");
        let rotated = TokenVault::from_key_list(&format!("{}, {}", key(2), key(1))).expect("keys");
        assert_eq!(
            rotated
                .decrypt(IntegrationId(5), REFRESH, &sealed_old)
                .expect("old key opens")
                .expose(),
            "rt"
        );
        assert!(rotated.needs_reseal(&sealed_old));
        let sealed_new = rotated
            .encrypt(IntegrationId(5), REFRESH, &Secret::new("rt"))
            .expect("encrypt");
        assert!(!rotated.needs_reseal(&sealed_new));
        // The new value is the new key's: the old key alone cannot open it.
        assert!(old.decrypt(IntegrationId(5), REFRESH, &sealed_new).is_err());
        assert!(matches!(
            TokenVault::from_key_list(&format!("{},nope", key(2))),
            Err(VaultError::BadKeyInList(2))
        ));
    }

    #[test]
    fn values_from_before_key_ids_still_open() {
        let v = TokenVault::from_base64(&key(3)).expect("vault");
        // The old format: nonce || ciphertext, the id alone as associated data.
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&[3u8; 32]));
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = 9_i64.to_be_bytes();
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: b"legacy",
                    aad: &aad,
                },
            )
            .expect("encrypt");
        let blob = [nonce.as_slice(), &ct].concat();
        let token = v.decrypt(IntegrationId(9), ACCESS, &blob).expect("opens");
        assert_eq!(token.expose(), "legacy");
        assert!(v.needs_reseal(&blob));
        assert!(v.decrypt(IntegrationId(8), ACCESS, &blob).is_err());
    }

    #[test]
    fn the_key_check_value_tells_the_databases_key_from_another() {
        let v = TokenVault::from_base64(&key(4)).expect("vault");
        let check = v.check_value().expect("check");
        assert!(v.opens_check_value(&check));
        assert!(!TokenVault::from_base64(&key(5))
            .expect("other")
            .opens_check_value(&check));
        let rotated = TokenVault::from_key_list(&format!("{} {}", key(5), key(4))).expect("keys");
        assert!(rotated.opens_check_value(&check));
    }
}
