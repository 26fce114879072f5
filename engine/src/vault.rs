//! [`TokenVault`]: XChaCha20-Poly1305 encryption of tokens at rest.
//!
//! A sealed value is `0x03 || key id (4 bytes) || nonce (24) || ciphertext`:
//! XChaCha20-Poly1305 under a 32-byte key, a random 192-bit nonce per value,
//! the id of the key that sealed it (the first four bytes of its SHA-256), and
//! as associated data the integration id AND the column, so a ciphertext
//! copied onto another row, or from the access-token column into the
//! refresh-token column, does not decrypt. Webhook signing secrets and the
//! key-check value are sealed the same way, bound to their own labels.
//!
//! Why a 192-bit nonce (the nonce budget): with random nonces, one key can
//! seal only so many values before two share a nonce, and a repeated nonce
//! under one key gives away the XOR of two tokens and lets the authenticator
//! be forged. AES-256-GCM's 96-bit nonce is, by NIST SP 800-38D, good for
//! 2^32 random-nonce encryptions per key. This product seals two tokens per
//! refresh, and the scheduled policy refreshes one-hour tokens every 55
//! minutes (about 26 times a day): about 52 million values a day at a million
//! integrations, so one key reached 2^32 in about 80 days, sooner than keys
//! are usually rotated. XChaCha20's 192-bit random nonce puts that bound out
//! of reach: after 2^80 values under one key the chance of any repeat is
//! still about 2^-33, so a key never has to be rotated for its nonces' sake.
//!
//! Older formats still open, and count as needing a re-seal
//! ([`TokenVault::needs_reseal`]):
//! - `0x02 || key id (4) || nonce (12) || ciphertext`: AES-256-GCM with the
//!   same key, id and associated data (written until the move to XChaCha);
//! - `nonce (12) || ciphertext`: AES-256-GCM with the integration id alone as
//!   associated data (written before key ids existed).
//!
//! Several keys may be configured, newest first (`TOKEN_ENCRYPTION_KEYS`):
//! the newest seals, any of them opens, so a key can be rotated without
//! downtime. A value sealed with an older key or in an older format is
//! re-sealed when rewritten (every refresh rewrites both tokens) or all at
//! once by `server --reseal-tokens`: after it, every value is in the current
//! format under the newest key.
//!
//! A key-check value in the database ([`TokenVault::check_value`]) lets
//! start-up refuse a key that is not the database's, instead of every refresh
//! failing later. Start-up rewrites it when it is in an older format; one in
//! an older format still proves the key.

use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use domain::IntegrationId;

use crate::secret::Secret;

const KEY_ID_LEN: usize = 4;
/// The first byte of a value sealed in the current format (XChaCha20-Poly1305).
const SEALED_V3: u8 = 0x03;
/// The first byte of a value sealed with AES-256-GCM and a key id (read only).
const SEALED_V2: u8 = 0x02;
/// The format byte and the key id, before the nonce.
const HEADER: usize = 1 + KEY_ID_LEN;
/// XChaCha20-Poly1305's nonce.
const XNONCE_LEN: usize = 24;
/// AES-256-GCM's nonce (formats 0x02 and before key ids).
const GCM_NONCE_LEN: usize = 12;
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

/// One configured key, ready for the current format and the older ones.
struct SealingKey {
    id: [u8; KEY_ID_LEN],
    /// Seals and opens the current format.
    cipher: XChaCha20Poly1305,
    /// Opens values sealed before the move to XChaCha (never seals).
    legacy: Aes256Gcm,
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
        cipher: XChaCha20Poly1305::new_from_slice(&bytes).ok()?,
        legacy: Aes256Gcm::new_from_slice(&bytes).ok()?,
    })
}

/// What a webhook secret's ciphertext is bound to.
fn webhook_aad(endpoint_id: i64) -> Vec<u8> {
    format!("webhook-secret:{endpoint_id}").into_bytes()
}

/// What a token's ciphertext is bound to: its row and column. The same for
/// formats 0x02 and 0x03 (the `v2` in it names this associated data, which
/// came with key ids, not the sealed value's format).
fn token_aad(integration_id: IntegrationId, column: Column) -> Vec<u8> {
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
                let key = STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng));
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

    /// `plain` sealed in the current format: `0x03 || key id || nonce || ciphertext`.
    fn seal(&self, key: &SealingKey, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = key
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| VaultError::Encrypt)?;
        let mut out = Vec::with_capacity(HEADER + XNONCE_LEN + ciphertext.len());
        out.push(SEALED_V3);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// The key whose id `blob` carries after its format byte, if configured.
    fn key_for(&self, blob: &[u8]) -> Option<&SealingKey> {
        let id = blob.get(1..HEADER)?;
        self.keys.iter().find(|k| k.id == id)
    }

    /// The plaintext of a value in the current format or an older one.
    fn open(&self, blob: &[u8], aad: &[u8], legacy_aad: Option<&[u8]>) -> Option<Vec<u8>> {
        let opened = match blob.first() {
            Some(&SEALED_V3) if blob.len() > HEADER + XNONCE_LEN => {
                self.key_for(blob).and_then(|key| {
                    let (nonce, msg) = blob[HEADER..].split_at(XNONCE_LEN);
                    key.cipher
                        .decrypt(XNonce::from_slice(nonce), Payload { msg, aad })
                        .ok()
                })
            }
            Some(&SEALED_V2) if blob.len() > HEADER + GCM_NONCE_LEN => {
                self.key_for(blob).and_then(|key| {
                    let (nonce, msg) = blob[HEADER..].split_at(GCM_NONCE_LEN);
                    key.legacy
                        .decrypt(aes_gcm::Nonce::from_slice(nonce), Payload { msg, aad })
                        .ok()
                })
            }
            _ => None,
        };
        if opened.is_some() {
            return opened;
        }
        // Before key ids: `nonce || ciphertext`, the integration id as
        // associated data. Its random nonce may begin with any byte, 0x02 and
        // 0x03 included, so it is tried whatever the first byte.
        let legacy_aad = legacy_aad?;
        if blob.len() <= GCM_NONCE_LEN {
            return None;
        }
        let (nonce, msg) = blob.split_at(GCM_NONCE_LEN);
        self.keys.iter().find_map(|key| {
            let payload = Payload {
                msg,
                aad: legacy_aad,
            };
            key.legacy
                .decrypt(aes_gcm::Nonce::from_slice(nonce), payload)
                .ok()
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
            &token_aad(integration_id, column),
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
            .open(blob, &token_aad(integration_id, column), Some(&legacy_aad))
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

    /// Whether `blob` should be re-sealed: it is sealed with a key other than
    /// the newest, or in an older format (AES-256-GCM, `0x02` or from before
    /// key ids), whose 96-bit nonces limit how many values one key may seal.
    pub fn needs_reseal(&self, blob: &[u8]) -> bool {
        !(blob.len() > HEADER + XNONCE_LEN
            && blob[0] == SEALED_V3
            && blob[1..HEADER] == self.newest().id)
    }

    /// A value that only the newest key opens, in the current format: stored
    /// once in the database so that start-up can tell whether the configured
    /// keys are the database's.
    pub(crate) fn check_value(&self) -> Result<Vec<u8>, VaultError> {
        self.seal(self.newest(), KEY_CHECK_TEXT.as_bytes(), b"key-check")
    }

    /// Whether one of the configured keys opens the database's key-check value
    /// (in the current format or in format 0x02).
    pub(crate) fn opens_check_value(&self, blob: &[u8]) -> bool {
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
    use aes_gcm::Key;

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
        let nonce = Aes256Gcm::generate_nonce(OsRng);
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

    /// The id a key's values carry: the first four bytes of its SHA-256.
    fn key_id(byte: u8) -> [u8; KEY_ID_LEN] {
        let digest = Sha256::digest([byte; 32]);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        id
    }

    /// `plain` sealed in format 0x02 exactly as the vault did before the move
    /// to XChaCha: `0x02 || key id || 12-byte nonce || AES-256-GCM ciphertext`.
    fn sealed_in_format_2(byte: u8, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&[byte; 32]));
        let nonce = Aes256Gcm::generate_nonce(OsRng);
        let ct = cipher
            .encrypt(&nonce, Payload { msg: plain, aad })
            .expect("encrypt");
        let mut out = vec![0x02];
        out.extend_from_slice(&key_id(byte));
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    #[test]
    fn new_values_are_xchacha20_poly1305_with_a_192_bit_nonce() {
        let v = TokenVault::from_base64(&key(6)).expect("vault");
        let blob = v
            .encrypt(IntegrationId(11), REFRESH, &Secret::new("rt-1"))
            .expect("encrypt");
        assert_eq!(blob[0], 0x03);
        assert_eq!(blob[1..5], key_id(6));
        // Header, 24-byte nonce, the token, Poly1305's 16-byte tag.
        assert_eq!(blob.len(), 5 + 24 + "rt-1".len() + 16);
        assert!(!v.needs_reseal(&blob));
        // Opened by XChaCha20-Poly1305 itself, from the layout alone.
        let cipher = XChaCha20Poly1305::new_from_slice(&[6u8; 32]).expect("key");
        let aad = token_aad(IntegrationId(11), REFRESH);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&blob[5..29]),
                Payload {
                    msg: &blob[29..],
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 opens it");
        assert_eq!(plain, b"rt-1");
        assert_eq!(
            v.decrypt(IntegrationId(11), REFRESH, &blob)
                .expect("decrypt")
                .expose(),
            "rt-1"
        );
    }

    #[test]
    fn format_2_values_still_open_and_need_a_reseal_into_the_new_format() {
        let aad = token_aad(IntegrationId(12), ACCESS);
        let blob = sealed_in_format_2(7, b"old-at", &aad);
        let v = vault(); // key 7: the newest, the very key that sealed it
        assert_eq!(
            v.decrypt(IntegrationId(12), ACCESS, &blob)
                .expect("opens")
                .expose(),
            "old-at"
        );
        // Sealed with the newest key, but with a 96-bit nonce: re-seal it.
        assert!(v.needs_reseal(&blob));
        // Still bound to its row and column.
        assert!(v.decrypt(IntegrationId(13), ACCESS, &blob).is_err());
        assert!(v.decrypt(IntegrationId(12), REFRESH, &blob).is_err());
        // An older key in a rotated list opens it too.
        let rotated = TokenVault::from_key_list(&format!("{}, {}", key(8), key(7))).expect("keys");
        let token = rotated
            .decrypt(IntegrationId(12), ACCESS, &blob)
            .expect("old key opens");
        assert!(rotated.needs_reseal(&blob));
        // What `--reseal-tokens` and a refresh write: the new format.
        let resealed = v
            .encrypt(IntegrationId(12), ACCESS, &token)
            .expect("reseal");
        assert_eq!(resealed[0], 0x03);
        assert!(!v.needs_reseal(&resealed));
    }

    #[test]
    fn new_values_are_bound_to_their_row_and_column() {
        let v = vault();
        let blob = v
            .encrypt(IntegrationId(20), ACCESS, &Secret::new("at"))
            .expect("encrypt");
        assert_eq!(blob[0], 0x03);
        assert!(v.decrypt(IntegrationId(20), ACCESS, &blob).is_ok());
        for (id, column) in [(21, ACCESS), (20, REFRESH), (21, REFRESH)] {
            assert!(
                matches!(
                    v.decrypt(IntegrationId(id), column, &blob),
                    Err(VaultError::Decrypt)
                ),
                "opened as {id} {column:?}"
            );
        }
        // Nor as a webhook secret or the key-check value.
        assert!(v.decrypt_webhook_secret(20, &blob).is_err());
        assert!(!v.opens_check_value(&blob));
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let v = vault();
        let blob = v
            .encrypt(IntegrationId(30), ACCESS, &Secret::new("token-30"))
            .expect("encrypt");
        // Every byte: format, key id, nonce, ciphertext, tag.
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(
                matches!(
                    v.decrypt(IntegrationId(30), ACCESS, &bad),
                    Err(VaultError::Decrypt)
                ),
                "byte {i} changed and it still opened"
            );
        }
        // Relabelled as format 0x02, truncated, or nothing at all.
        let mut relabelled = blob.clone();
        relabelled[0] = 0x02;
        assert!(v.decrypt(IntegrationId(30), ACCESS, &relabelled).is_err());
        for len in [0, 1, 5, 29, 29 + 16, blob.len() - 1] {
            assert!(
                v.decrypt(IntegrationId(30), ACCESS, &blob[..len]).is_err(),
                "{len} bytes opened"
            );
        }
        // A tampered format-2 value does not open either.
        let old = sealed_in_format_2(7, b"old", &token_aad(IntegrationId(30), ACCESS));
        let mut bad = old.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert!(v.decrypt(IntegrationId(30), ACCESS, &old).is_ok());
        assert!(v.decrypt(IntegrationId(30), ACCESS, &bad).is_err());
    }

    #[test]
    fn a_format_2_key_check_value_still_proves_the_key_and_is_rewritten() {
        let old_check = sealed_in_format_2(9, KEY_CHECK_TEXT.as_bytes(), b"key-check");
        let v = TokenVault::from_base64(&key(9)).expect("vault");
        assert!(v.opens_check_value(&old_check));
        assert!(!TokenVault::from_base64(&key(10))
            .expect("other")
            .opens_check_value(&old_check));
        // Start-up rewrites a check value that needs a re-seal: in the new format.
        assert!(v.needs_reseal(&old_check));
        let new_check = v.check_value().expect("check");
        assert_eq!(new_check[0], 0x03);
        assert!(!v.needs_reseal(&new_check));
        assert!(v.opens_check_value(&new_check));
    }

    #[test]
    fn a_format_2_webhook_secret_still_opens_and_needs_a_reseal() {
        let blob = sealed_in_format_2(7, b"whsec_old", &webhook_aad(4));
        let v = vault();
        assert_eq!(
            v.decrypt_webhook_secret(4, &blob).expect("opens").expose(),
            "whsec_old"
        );
        assert!(v.decrypt_webhook_secret(5, &blob).is_err());
        assert!(v.needs_reseal(&blob));
        let resealed = v
            .encrypt_webhook_secret(4, &Secret::new("whsec_old"))
            .expect("seal");
        assert_eq!(resealed[0], 0x03);
        assert!(!v.needs_reseal(&resealed));
    }
}
