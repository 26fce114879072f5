//! [`TokenVault`]: AES-256-GCM encryption of tokens at rest. Each value gets a
//! random 96-bit nonce (stored in front of the ciphertext) and is bound to its
//! integration by using the integration id as associated data, so a ciphertext
//! copied onto another row does not decrypt.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use domain::IntegrationId;

use crate::secret::Secret;

const NONCE_LEN: usize = 12;

/// Why a key could not be loaded, or a value not decrypted.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("TOKEN_ENCRYPTION_KEY must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("TOKEN_ENCRYPTION_KEY is required outside sandbox mode (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)")]
    MissingKey,
    #[error("TOKEN_ENCRYPTION_KEY: cannot read or create the key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("a stored token could not be decrypted (wrong TOKEN_ENCRYPTION_KEY, or the row was tampered with)")]
    Decrypt,
    #[error("a token could not be encrypted")]
    Encrypt,
}

/// Encrypts and decrypts tokens under one key.
#[derive(Clone)]
pub struct TokenVault {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TokenVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVault([key redacted])")
    }
}

impl TokenVault {
    /// A vault from the base64 text of a 32-byte key.
    pub fn from_base64(key: &str) -> Result<Self, VaultError> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| VaultError::BadKey)?;
        if bytes.len() != 32 {
            return Err(VaultError::BadKey);
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
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

    /// `nonce || ciphertext` of `token`, bound to `integration_id`.
    pub fn encrypt(
        &self,
        integration_id: IntegrationId,
        token: &Secret,
    ) -> Result<Vec<u8>, VaultError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = integration_id.get().to_be_bytes();
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: token.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// The token stored as `blob` on integration `integration_id`.
    pub fn decrypt(
        &self,
        integration_id: IntegrationId,
        blob: &[u8],
    ) -> Result<Secret, VaultError> {
        if blob.len() < NONCE_LEN {
            return Err(VaultError::Decrypt);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let aad = integration_id.get().to_be_bytes();
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Decrypt)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| VaultError::Decrypt)
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

    fn vault() -> TokenVault {
        TokenVault::from_base64(&STANDARD.encode([7u8; 32])).expect("key")
    }

    #[test]
    fn round_trips_and_hides_the_token() {
        let v = vault();
        let token = Secret::new("sbx_at_abcdef");
        let blob = v.encrypt(IntegrationId(42), &token).expect("encrypt");
        assert!(!blob.windows(6).any(|w| w == b"abcdef"));
        assert_eq!(v.decrypt(IntegrationId(42), &blob).expect("decrypt"), token);
    }

    #[test]
    fn every_encryption_uses_a_new_nonce() {
        let v = vault();
        let token = Secret::new("same");
        assert_ne!(
            v.encrypt(IntegrationId(1), &token).expect("a"),
            v.encrypt(IntegrationId(1), &token).expect("b")
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_integration_does_not_decrypt() {
        let v = vault();
        let blob = v
            .encrypt(IntegrationId(1), &Secret::new("token"))
            .expect("encrypt");
        assert!(matches!(
            v.decrypt(IntegrationId(2), &blob),
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
            .encrypt(IntegrationId(3), &Secret::new("t"))
            .expect("encrypt");
        let second = TokenVault::load_or_create(&path).expect("reuse");
        assert_eq!(
            second
                .decrypt(IntegrationId(3), &blob)
                .expect("decrypt")
                .expose(),
            "t"
        );
    }
}
