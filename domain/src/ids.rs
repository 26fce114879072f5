//! [`IntegrationId`]: the number that names an integration in URLs, JSON, the
//! database and the log.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An integration's id (the `integrations.id` primary key). In JSON and SQL it
/// is the plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
pub struct IntegrationId(pub i64);

impl IntegrationId {
    /// The plain number.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a positive id as it appears in a URL (`/integrations/3`, `?integration=3`).
impl FromStr for IntegrationId {
    type Err = BadIntegrationId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Self(id)),
            _ => Err(BadIntegrationId),
        }
    }
}

/// Text that is not a positive integration number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadIntegrationId;

impl fmt::Display for BadIntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integration is named by a positive number, e.g. 3")
    }
}

impl std::error::Error for BadIntegrationId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positive_numbers_only() {
        assert_eq!("3".parse(), Ok(IntegrationId(3)));
        for bad in ["0", "-1", "x", "", "9223372036854775808"] {
            assert_eq!(bad.parse::<IntegrationId>(), Err(BadIntegrationId), "{bad}");
        }
    }
}
