//! Known devices: a browser that signed in to an account keeps a proof of it
//! (the server sets it as a cookie at sign-in), and the sign-in throttle's
//! per-email slow-down never holds that browser up. Strangers guessing at an
//! email from many addresses slow that email down for everyone else, never
//! for its owner's own browser (OWASP's "device cookies").
//!
//! A proof is `v1.<issued>.<nonce>.<mac>`: an HMAC-SHA256 over the account's
//! id and email, when it was issued and a random nonce, keyed with a key
//! derived from the account's password hash. It proves nothing but "this
//! browser signed in to this account within [`KNOWN_DEVICE_SECS`]": it signs
//! no one in, and a password change forgets every device of that account.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use domain::UnixTime;

use super::User;

/// How long a browser stays known after it signed in.
pub const KNOWN_DEVICE_SECS: i64 = 90 * 86_400;
/// The longest proof read (anything longer is not one).
const MAX_PROOF_CHARS: usize = 200;

type HmacSha256 = Hmac<Sha256>;

impl User {
    /// A new proof that this browser signed in to this account at `now`.
    pub fn device_proof(&self, now: UnixTime) -> String {
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let mac = URL_SAFE_NO_PAD.encode(self.device_mac(now.secs(), &nonce));
        format!("v1.{}.{nonce}.{mac}", now.secs())
    }

    /// Whether `proof` is one this account gave a browser, not older than
    /// [`KNOWN_DEVICE_SECS`] (and not from the future).
    pub fn knows_device(&self, proof: &str, now: UnixTime) -> bool {
        if proof.len() > MAX_PROOF_CHARS {
            return false;
        }
        let mut parts = proof.split('.');
        let (Some("v1"), Some(issued), Some(nonce), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return false;
        };
        let Ok(issued_at) = issued.parse::<i64>() else {
            return false;
        };
        // Written as this server writes it: `+5` or `005` would verify too,
        // and each spelling would get a count of its own.
        if issued != issued_at.to_string() {
            return false;
        }
        let issued = issued_at;
        let age = now.secs().saturating_sub(issued);
        if !(0..=KNOWN_DEVICE_SECS).contains(&age) {
            return false;
        }
        let Ok(mac) = URL_SAFE_NO_PAD.decode(mac) else {
            return false;
        };
        self.device_hmac(issued, nonce).verify_slice(&mac).is_ok()
    }

    fn device_mac(&self, issued: i64, nonce: &str) -> Vec<u8> {
        self.device_hmac(issued, nonce)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    fn device_hmac(&self, issued: i64, nonce: &str) -> HmacSha256 {
        // A 32-byte key: HMAC takes any length, so this cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.device_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"jira-dashboard known device\0");
        mac.update(&self.id.to_le_bytes());
        mac.update(self.email.as_bytes());
        mac.update(b"\0");
        mac.update(&issued.to_le_bytes());
        mac.update(nonce.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::UserRow;
    use domain::Role;

    fn user(id: i64, email: &str, hash: &str) -> User {
        User::from_row(UserRow {
            id,
            email: email.to_owned(),
            password_hash: hash.to_owned(),
            role: Role::Admin,
            created_at: UnixTime(0),
        })
    }

    #[test]
    fn a_proof_is_known_to_its_account_only_for_ninety_days() {
        let ann = user(1, "ann@example.com", "$argon2id$one");
        let now = UnixTime(1_800_000_000);
        let proof = ann.device_proof(now);
        assert!(ann.knows_device(&proof, now));
        assert!(ann.knows_device(&proof, now + KNOWN_DEVICE_SECS));
        assert!(!ann.knows_device(&proof, now + KNOWN_DEVICE_SECS + 1));
        assert!(!ann.knows_device(&proof, now - 1), "issued in the future");
        // Another account, the same account after a password change.
        assert!(!user(2, "bob@example.com", "$argon2id$one").knows_device(&proof, now));
        assert!(!user(1, "ann@example.com", "$argon2id$two").knows_device(&proof, now));
        // Tampered, truncated, made up.
        let later = proof.replacen(&now.secs().to_string(), &(now.secs() + 5).to_string(), 1);
        assert!(!ann.knows_device(&later, now + 5));
        assert!(!ann.knows_device(&proof[..proof.len() - 2], now));
        // Another spelling of the same issue time is not the same proof.
        for respelt in [
            proof.replacen("v1.", "v1.0", 1),
            proof.replacen("v1.", "v1.+", 1),
        ] {
            assert!(!ann.knows_device(&respelt, now), "{respelt}");
        }
        for junk in [
            "",
            "v1",
            "v1...",
            "v2.1.a.b",
            &"x".repeat(10_000),
            "v1.x.y.z.w",
        ] {
            assert!(!ann.knows_device(junk, now), "{junk:?}");
        }
    }
}
