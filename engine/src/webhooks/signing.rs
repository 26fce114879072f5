//! Webhook secrets and signatures in the Standard Webhooks format, through
//! the format's own crate (`standardwebhooks`): a secret is `whsec_` and the
//! base64 of its key bytes; a signature is `v1,` and the base64 HMAC-SHA256
//! of `"{webhook-id}.{webhook-timestamp}.{body}"` under those bytes.

use base64::Engine as _;
use rand::RngCore;

use crate::Secret;

/// Key bytes in a secret the dashboard makes (the format's recommended size).
const SECRET_BYTES: usize = 24;
/// The fewest key bytes a secret from the environment may have.
const MIN_SECRET_BYTES: usize = 16;

/// A new signing secret, `whsec_...`: shown once, then only used to sign.
pub(crate) fn new_secret() -> Secret {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    Secret::new(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// Whether `text` is a usable secret (`whsec_` and base64 of at least 16
/// bytes, as Standard Webhooks libraries read it); the reason when not.
pub fn check_secret(text: &str) -> Result<(), &'static str> {
    let Some(encoded) = text.strip_prefix("whsec_") else {
        return Err(
            "must start with whsec_ followed by base64 (the Standard Webhooks secret format)",
        );
    };
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(bytes) if bytes.len() >= MIN_SECRET_BYTES => Ok(()),
        Ok(_) => Err("must carry at least 16 bytes after whsec_ (24 recommended)"),
        Err(_) => Err("is not valid base64 after whsec_"),
    }
}

/// Why a message could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("the endpoint's secret cannot sign: {0}")]
pub(crate) struct SignError(String);

/// The `webhook-signature` header for one attempt.
pub(crate) fn sign(
    secret: &Secret,
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, SignError> {
    standardwebhooks::Webhook::new(secret.expose())
        .and_then(|hook| hook.sign(message_id, timestamp, body.as_bytes()))
        .map_err(|e| SignError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_secrets_are_valid_distinct_and_sign_the_format_s_example() {
        let a = new_secret();
        assert!(check_secret(a.expose()).is_ok());
        assert_ne!(a.expose(), new_secret().expose());
        // The example of the Standard Webhooks specification.
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let signature = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        )
        .expect("sign");
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn malformed_secrets_are_refused_with_a_reason() {
        assert!(check_secret("hunter2").is_err());
        assert!(check_secret("whsec_%%%").is_err());
        assert!(check_secret("whsec_c2hvcnQ=").is_err());
    }
}
