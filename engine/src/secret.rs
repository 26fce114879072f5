//! [`Secret`]: a token that cannot be printed or serialized by accident.

use std::fmt;

/// A secret string (an access or refresh token, a client secret). `Debug` and
/// `Display` print `[redacted]`; there is no `Serialize`. Read it with
/// [`Secret::expose`] only where it is sent to the provider or encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: for the wire to the provider and the vault, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("sbx_at_very_secret");
        assert!(!format!("{s:?} {s}").contains("very_secret"));
        assert_eq!(s.expose(), "sbx_at_very_secret");
    }
}
