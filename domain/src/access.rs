//! Who may do what: the three [`Role`]s, what each [`Permission`] needs, and the
//! [`Actor`] an event names (a person, later an API key, or the scheduler).

use serde::{Deserialize, Serialize};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted (hashing is deliberately slow).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A person's role. Each includes the ones below it: an admin may do what an
/// operator may, an operator what a viewer may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads the dashboard, the integration pages and their event logs.
    Viewer,
    /// Also connects, refreshes, re-authenticates, tests and disconnects.
    Operator,
    /// Also manages users (and, later, API keys and webhooks).
    Admin,
}

names!(Role {
    Viewer => "viewer",
    Operator => "operator",
    Admin => "admin",
});

impl Role {
    /// What the role is for, in one phrase (the settings page's role picker).
    pub fn summary(self) -> &'static str {
        match self {
            Role::Viewer => "reads everything, changes nothing",
            Role::Operator => "connects, refreshes, tests and disconnects integrations",
            Role::Admin => "everything, and manages users",
        }
    }

    /// Whether this role may do `permission`.
    pub fn may(self, permission: Permission) -> bool {
        self >= permission.needs()
    }
}

/// What a request wants to do. The server maps every route to one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read pages, views and event logs.
    Read,
    /// Change an integration: connect, refresh, test, disconnect.
    Operate,
    /// Manage users, API keys and webhooks.
    Administer,
}

impl Permission {
    /// The least role that holds this permission.
    pub fn needs(self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::Operate => Role::Operator,
            Permission::Administer => Role::Admin,
        }
    }

    /// The refusal's sentence for a role without this permission.
    pub fn refusal(self, role: Role) -> String {
        let what = match self {
            Permission::Read => "read the dashboard",
            Permission::Operate => "change integrations",
            Permission::Administer => "manage users and settings",
        };
        format!(
            "Your role ({role}) may not {what}: ask an administrator for the {} role.",
            self.needs()
        )
    }
}

/// Who did something, as the event log names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Actor {
    /// A signed-in person, by email.
    User(String),
    /// The background scheduler.
    Scheduler,
    /// A program of the service API, by its key's id and name.
    ApiKey { id: i64, name: String },
    /// A calling product's customer, through a connect link, by their id there.
    EndUser(String),
}

impl Actor {
    /// The stored text: `user:<email>`, `scheduler`, `key:<id>:<name>` or
    /// `end-user:<id>`.
    pub fn stored(&self) -> String {
        match self {
            Actor::User(email) => format!("user:{email}"),
            Actor::Scheduler => "scheduler".to_owned(),
            Actor::ApiKey { id, name } => format!("key:{id}:{name}"),
            Actor::EndUser(id) => format!("end-user:{id}"),
        }
    }

    /// What the event log shows: the email, "scheduler", or `API key "<name>"`.
    pub fn label(&self) -> String {
        match self {
            Actor::User(email) => email.clone(),
            Actor::Scheduler => "scheduler".to_owned(),
            Actor::ApiKey { name, .. } => format!("API key \"{name}\""),
            Actor::EndUser(id) => format!("end user \"{id}\" (connect link)"),
        }
    }

    /// The actor a stored text names (`None` for an unknown form).
    pub fn parse(stored: &str) -> Option<Self> {
        match stored.split_once(':') {
            Some(("user", email)) => Some(Actor::User(email.to_owned())),
            Some(("end-user", id)) => Some(Actor::EndUser(id.to_owned())),
            Some(("key", rest)) => {
                let (id, name) = rest.split_once(':')?;
                Some(Actor::ApiKey {
                    id: id.parse().ok()?,
                    name: name.to_owned(),
                })
            }
            None if stored == "scheduler" => Some(Actor::Scheduler),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_includes_the_ones_below() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false]),
            (Role::Operator, [true, true, false]),
            (Role::Admin, [true, true, true]),
        ];
        for (role, expected) in table {
            let got = [Read, Operate, Administer].map(|p| role.may(p));
            assert_eq!(got, expected, "{role}");
        }
    }

    #[test]
    fn roles_round_trip_through_their_names_and_serde() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
            let json = serde_json::to_string(role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn actors_round_trip_through_their_stored_text() {
        let key = Actor::ApiKey {
            id: 7,
            name: "billing: sync".into(),
        };
        for actor in [
            Actor::User("ann@example.com".into()),
            Actor::Scheduler,
            key.clone(),
            Actor::EndUser("customer: 42".into()),
        ] {
            assert_eq!(Actor::parse(&actor.stored()), Some(actor.clone()));
        }
        assert_eq!(Actor::User("a@b.c".into()).label(), "a@b.c");
        assert_eq!(key.label(), "API key \"billing: sync\"");
        assert_eq!(Actor::parse("robot"), None);
        assert_eq!(Actor::parse("key:x:name"), None);
    }

    #[test]
    fn a_refusal_names_the_role_it_needs() {
        let text = Permission::Operate.refusal(Role::Viewer);
        assert!(
            text.contains("viewer") && text.contains("operator"),
            "{text}"
        );
    }
}
