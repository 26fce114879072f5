//! The token rules as plain functions of the state and the time: no HTTP here,
//! so each rule is easy to read next to `shared/ATLASSIAN.md`.
//!
//! Issued tokens are kept as SHA-256 digests ([`TokenHash`]): the sandbox only
//! has to recognise a token it is shown. When the state is persisted, every
//! mutation that matters for a restart is also recorded as a [`Change`] in a
//! journal that `persist` writes through before the answer goes out.

use std::collections::{BTreeSet, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::settings::Settings;

/// The scope that makes Atlassian issue a refresh token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A token-endpoint failure, with Atlassian's status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Wrong client id or secret: `401 access_denied "Unauthorized"`.
    BadClient,
    /// Unknown, expired or rotated-away refresh token: `403 invalid_grant`.
    UnknownRefreshToken,
    /// The token's family was revoked: `403 unauthorized_client`.
    FamilyRevoked,
    /// A bad authorization code, redirect URI or PKCE verifier: `403 invalid_grant`.
    BadCode(&'static str),
    /// Missing or malformed parameters: `400 invalid_request`.
    BadRequest(String),
    /// `400 unsupported_grant_type`.
    UnsupportedGrantType,
}

impl TokenError {
    /// HTTP status and JSON body, exactly as Atlassian answers.
    pub fn status_and_body(&self) -> (u16, serde_json::Value) {
        use serde_json::json;
        match self {
            TokenError::BadClient => (
                401,
                json!({"error": "access_denied", "error_description": "Unauthorized"}),
            ),
            TokenError::UnknownRefreshToken => (
                403,
                json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}),
            ),
            TokenError::FamilyRevoked => (
                403,
                json!({"error": "unauthorized_client", "error_description": "refresh_token is invalid"}),
            ),
            TokenError::BadCode(why) => (
                403,
                json!({"error": "invalid_grant", "error_description": why}),
            ),
            TokenError::BadRequest(why) => (
                400,
                json!({"error": "invalid_request", "error_description": why}),
            ),
            TokenError::UnsupportedGrantType => (
                400,
                json!({"error": "unsupported_grant_type", "error_description": "grant_type must be authorization_code or refresh_token"}),
            ),
        }
    }
}

/// A successful token response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// What a failing token request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer `500 {"error":"server_error"}` without touching any token.
    ServerError,
    /// Wait this many milliseconds, then answer normally.
    Delay { ms: u64 },
    /// Answer `200` with a truncated JSON body, after processing normally
    /// (the response is "lost": the tokens did rotate).
    Malformed,
    /// Answer `200` with an empty `text/plain` body (a proxy's answer), after
    /// processing normally: another kind of lost response.
    EmptyAnswer,
    /// Answer this status (e.g. `429`, `408`, `503`) with a JSON error body
    /// and, when set, a `Retry-After` header, without touching any token.
    Status {
        code: u16,
        retry_after_secs: Option<u64>,
    },
}

/// The next `remaining` token requests fail with `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub remaining: u32,
}

/// An authorization code, as issued by the consent page.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub account_id: String,
    pub cloud_ids: Vec<String>,
    /// PKCE S256 challenge, when the authorize request carried one.
    pub code_challenge: Option<String>,
}

struct CodeRecord {
    grant: CodeGrant,
    issued_at: i64,
    used: bool,
    /// The family the code's exchange created (revoked if the code is replayed).
    family: Option<usize>,
}

/// SHA-256 of an issued token: how the sandbox recognises it.
pub type TokenHash = [u8; 32];

/// SHA-256 of `token`.
pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// A change to the state that must survive a restart, in the order the rules
/// made it. Ids are indices into the store's grants and families.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Grant {
        id: usize,
        client_id: String,
        account_id: String,
    },
    GrantSite {
        grant: usize,
        cloud_id: String,
    },
    Family {
        id: usize,
        grant: usize,
        scopes: String,
        consented_at: i64,
    },
    FamilyRevoked {
        id: usize,
    },
    RefreshToken {
        hash: TokenHash,
        family: usize,
        issued_at: i64,
    },
    Superseded {
        hash: TokenHash,
        at: i64,
    },
    AccessToken {
        hash: TokenHash,
        family: usize,
        expires_at: i64,
    },
    ClockOffset(i64),
}

/// Persisted state, as read back at start-up (see `persist`).
#[derive(Debug, Default)]
pub struct Restored {
    /// `(id, client_id, account_id, cloud_ids)`.
    pub grants: Vec<(usize, String, String, Vec<String>)>,
    /// `(id, grant, scopes, consented_at, revoked)`.
    pub families: Vec<(usize, usize, String, i64, bool)>,
    /// `(hash, family, issued_at, superseded_at)`.
    pub refresh_tokens: Vec<(TokenHash, usize, i64, Option<i64>)>,
    /// `(hash, family, expires_at)`.
    pub access_tokens: Vec<(TokenHash, usize, i64)>,
}

/// Why persisted state could not be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError(pub String);

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RestoreError {}

/// One grant per (app, account): the sites it reaches grow with each consent.
struct Grant {
    client_id: String,
    account_id: String,
    cloud_ids: BTreeSet<String>,
    token_requests: u64,
}

/// One consent flow's chain of rotating refresh tokens.
struct Family {
    grant: usize,
    scopes: Vec<String>,
    consented_at: i64,
    revoked: bool,
    /// The refresh token most recently issued (the others are superseded).
    current_refresh: Option<TokenHash>,
}

struct RefreshRecord {
    family: usize,
    issued_at: i64,
    /// When a newer refresh token replaced this one.
    superseded_at: Option<i64>,
}

struct AccessRecord {
    family: usize,
    expires_at: i64,
}

/// What an access token gives access to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// The app (OAuth client) the token was issued to.
    pub client_id: String,
    pub account_id: String,
    pub cloud_ids: Vec<String>,
    pub scopes: Vec<String>,
}

/// A grant's counters, for `/control/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantStats {
    pub client_id: String,
    pub account_id: String,
    pub token_requests: u64,
    pub live_families: usize,
}

/// Every code, grant, family and token the sandbox has issued.
pub struct Store {
    pub settings: Settings,
    codes: HashMap<String, CodeRecord>,
    grants: Vec<Grant>,
    families: Vec<Family>,
    refresh_tokens: HashMap<TokenHash, RefreshRecord>,
    access_tokens: HashMap<TokenHash, AccessRecord>,
    fault: Option<Fault>,
    unattributed_requests: u64,
    /// Changes not yet written; `None` when nothing is persisted.
    journal: Option<Vec<Change>>,
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// `BASE64URL(SHA256(verifier))`, RFC 7636's S256.
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Store {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            codes: HashMap::new(),
            grants: Vec::new(),
            families: Vec::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            fault: None,
            unattributed_requests: 0,
            journal: None,
        }
    }

    /// A store rebuilt from persisted state, recording its changes from now on.
    /// Ids must be dense (`0..n`, which is how they are written); a token whose
    /// family is unknown is an error too: the rows do not come from the sandbox.
    pub fn restore(settings: Settings, state: Restored) -> Result<Self, RestoreError> {
        let mut store = Self::new(settings);
        store.journal = Some(Vec::new());
        for (id, client_id, account_id, cloud_ids) in state.grants {
            if id != store.grants.len() {
                return Err(RestoreError(format!(
                    "sandbox_grants: expected id {}, found {id}",
                    store.grants.len()
                )));
            }
            store.grants.push(Grant {
                client_id,
                account_id,
                cloud_ids: cloud_ids.into_iter().collect(),
                token_requests: 0,
            });
        }
        for (id, grant, scopes, consented_at, revoked) in state.families {
            if id != store.families.len() || grant >= store.grants.len() {
                return Err(RestoreError(format!(
                    "sandbox_families: row {id} (grant {grant}) does not follow family {} of {} grants",
                    store.families.len(),
                    store.grants.len()
                )));
            }
            store.families.push(Family {
                grant,
                scopes: scopes.split_whitespace().map(String::from).collect(),
                consented_at,
                revoked,
                current_refresh: None,
            });
        }
        let families = store.families.len();
        let unknown = |table: &str, family: usize| {
            RestoreError(format!("{table}: a token of unknown family {family}"))
        };
        for (hash, family, issued_at, superseded_at) in state.refresh_tokens {
            let f = store
                .families
                .get_mut(family)
                .ok_or_else(|| unknown("sandbox_refresh_tokens", family))?;
            if superseded_at.is_none() {
                f.current_refresh = Some(hash);
            }
            store.refresh_tokens.insert(
                hash,
                RefreshRecord {
                    family,
                    issued_at,
                    superseded_at,
                },
            );
        }
        for (hash, family, expires_at) in state.access_tokens {
            if family >= families {
                return Err(unknown("sandbox_access_tokens", family));
            }
            store
                .access_tokens
                .insert(hash, AccessRecord { family, expires_at });
        }
        Ok(store)
    }

    fn record(&mut self, change: Change) {
        if let Some(journal) = &mut self.journal {
            journal.push(change);
        }
    }

    /// Records a change made outside the rules (the clock's offset).
    pub fn record_clock_offset(&mut self, offset: i64) {
        self.record(Change::ClockOffset(offset));
    }

    /// The changes not yet written, oldest first (empty when not persisting).
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Puts back changes that could not be written, ahead of any newer ones.
    pub fn requeue_changes(&mut self, mut changes: Vec<Change>) {
        if let Some(journal) = &mut self.journal {
            changes.append(journal);
            *journal = changes;
        }
    }

    fn revoke_family(&mut self, id: usize) -> bool {
        match self.families.get_mut(id) {
            Some(family) if !family.revoked => {
                family.revoked = true;
                self.record(Change::FamilyRevoked { id });
                true
            }
            _ => false,
        }
    }

    /// Issues a single-use authorization code after the user accepted.
    pub fn issue_code(&mut self, grant: CodeGrant, now: i64) -> String {
        let code = random_token("sbx_code_");
        self.codes.insert(
            code.clone(),
            CodeRecord {
                grant,
                issued_at: now,
                used: false,
                family: None,
            },
        );
        code
    }

    /// Counts a token request against the grant it names (by code or refresh
    /// token), before any rule is applied: a request that fails still arrived.
    pub fn count_token_request(&mut self, code: Option<&str>, refresh_token: Option<&str>) {
        let owner = code
            .and_then(|c| self.codes.get(c))
            .map(|r| (r.grant.client_id.clone(), r.grant.account_id.clone()))
            .or_else(|| {
                refresh_token
                    .and_then(|t| self.refresh_tokens.get(&token_hash(t)))
                    .map(|r| {
                        let g = &self.grants[self.families[r.family].grant];
                        (g.client_id.clone(), g.account_id.clone())
                    })
            });
        match owner {
            Some((client_id, account_id)) => {
                let idx = self.grant_index(&client_id, &account_id);
                self.grants[idx].token_requests += 1;
            }
            None => self.unattributed_requests += 1,
        }
    }

    fn grant_index(&mut self, client_id: &str, account_id: &str) -> usize {
        if let Some(i) = self
            .grants
            .iter()
            .position(|g| g.client_id == client_id && g.account_id == account_id)
        {
            return i;
        }
        self.grants.push(Grant {
            client_id: client_id.to_owned(),
            account_id: account_id.to_owned(),
            cloud_ids: BTreeSet::new(),
            token_requests: 0,
        });
        let id = self.grants.len() - 1;
        self.record(Change::Grant {
            id,
            client_id: client_id.to_owned(),
            account_id: account_id.to_owned(),
        });
        id
    }

    /// `grant_type=authorization_code`. The client's credentials were checked.
    pub fn exchange_code(
        &mut self,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
        now: i64,
    ) -> Result<Issued, TokenError> {
        const INVALID: TokenError = TokenError::BadCode("Invalid authorization code");
        let record = self.codes.get_mut(code).ok_or(INVALID)?;
        if record.grant.client_id != client_id {
            return Err(INVALID);
        }
        if record.used {
            // A replayed code: revoke what it issued (RFC 6749 section 4.1.2).
            if let Some(family) = record.family {
                self.revoke_family(family);
            }
            return Err(INVALID);
        }
        if now >= record.issued_at + self.settings.code_lifetime_secs {
            return Err(INVALID);
        }
        if record.grant.redirect_uri != redirect_uri {
            return Err(TokenError::BadCode(
                "redirect_uri does not match the authorization request",
            ));
        }
        if let Some(challenge) = &record.grant.code_challenge {
            match code_verifier {
                Some(v) if pkce_s256(v) == *challenge => {}
                _ => return Err(TokenError::BadCode("code_verifier is invalid")),
            }
        }
        record.used = true;
        let grant = record.grant.clone();
        let g = self.grant_index(&grant.client_id, &grant.account_id);
        for cloud_id in &grant.cloud_ids {
            if self.grants[g].cloud_ids.insert(cloud_id.clone()) {
                self.record(Change::GrantSite {
                    grant: g,
                    cloud_id: cloud_id.clone(),
                });
            }
        }
        let with_refresh = grant.scopes.iter().any(|s| s == OFFLINE_ACCESS)
            && !self.settings.withhold_refresh_tokens;
        let scopes: Vec<String> = grant
            .scopes
            .into_iter()
            .filter(|s| with_refresh || s != OFFLINE_ACCESS)
            .collect();
        self.record(Change::Family {
            id: self.families.len(),
            grant: g,
            scopes: scopes.join(" "),
            consented_at: now,
        });
        self.families.push(Family {
            grant: g,
            scopes,
            consented_at: now,
            revoked: false,
            current_refresh: None,
        });
        let family = self.families.len() - 1;
        if let Some(record) = self.codes.get_mut(code) {
            record.family = Some(family);
        }
        Ok(self.issue(family, with_refresh, now))
    }

    /// `grant_type=refresh_token`. The client's credentials were checked.
    pub fn refresh(
        &mut self,
        client_id: &str,
        refresh_token: &str,
        now: i64,
    ) -> Result<Issued, TokenError> {
        let record = self
            .refresh_tokens
            .get(&token_hash(refresh_token))
            .ok_or(TokenError::UnknownRefreshToken)?;
        let family_idx = record.family;
        let family = &self.families[family_idx];
        if self.grants[family.grant].client_id != client_id {
            return Err(TokenError::UnknownRefreshToken);
        }
        if family.revoked {
            return Err(TokenError::FamilyRevoked);
        }
        if now >= family.consented_at + self.settings.refresh_absolute_secs
            || now >= record.issued_at + self.settings.refresh_idle_secs
        {
            return Err(TokenError::UnknownRefreshToken);
        }
        if let Some(superseded_at) = record.superseded_at {
            if now > superseded_at + self.settings.rotation_leeway_secs {
                // Reuse outside the leeway: the whole family dies.
                self.revoke_family(family_idx);
                return Err(TokenError::FamilyRevoked);
            }
        }
        if let Some(current) = self.families[family_idx].current_refresh.take() {
            if let Some(r) = self.refresh_tokens.get_mut(&current) {
                if r.superseded_at.is_none() {
                    r.superseded_at = Some(now);
                    self.record(Change::Superseded {
                        hash: current,
                        at: now,
                    });
                }
            }
        }
        Ok(self.issue(family_idx, true, now))
    }

    fn issue(&mut self, family: usize, with_refresh: bool, now: i64) -> Issued {
        let lifetime = self.settings.access_token_lifetime_secs;
        let access_token = random_token("sbx_at_");
        let hash = token_hash(&access_token);
        let expires_at = now.saturating_add(lifetime);
        self.access_tokens
            .insert(hash, AccessRecord { family, expires_at });
        self.record(Change::AccessToken {
            hash,
            family,
            expires_at,
        });
        let refresh_token = with_refresh.then(|| {
            let token = random_token("sbx_rt_");
            let hash = token_hash(&token);
            self.refresh_tokens.insert(
                hash,
                RefreshRecord {
                    family,
                    issued_at: now,
                    superseded_at: None,
                },
            );
            self.record(Change::RefreshToken {
                hash,
                family,
                issued_at: now,
            });
            self.families[family].current_refresh = Some(hash);
            token
        });
        Issued {
            access_token,
            token_type: "Bearer",
            expires_in: lifetime,
            scope: self.families[family].scopes.join(" "),
            refresh_token,
        }
    }

    /// What a live access token reaches; `None` when unknown, expired or revoked.
    pub fn access(&self, access_token: &str, now: i64) -> Option<AccessGrant> {
        let record = self.access_tokens.get(&token_hash(access_token))?;
        let family = &self.families[record.family];
        if family.revoked || now >= record.expires_at {
            return None;
        }
        let grant = &self.grants[family.grant];
        Some(AccessGrant {
            client_id: grant.client_id.clone(),
            account_id: grant.account_id.clone(),
            cloud_ids: grant.cloud_ids.iter().cloned().collect(),
            scopes: family.scopes.clone(),
        })
    }

    /// Revokes every family of every grant of `account_id`.
    pub fn revoke_account(&mut self, account_id: &str) -> usize {
        let grants: Vec<usize> = (0..self.grants.len())
            .filter(|&g| self.grants[g].account_id == account_id)
            .collect();
        let families: Vec<usize> = (0..self.families.len())
            .filter(|&f| grants.contains(&self.families[f].grant))
            .collect();
        families
            .into_iter()
            .filter(|&f| self.revoke_family(f))
            .count()
    }

    pub fn set_fault(&mut self, fault: Fault) {
        self.fault = (fault.remaining > 0).then_some(fault);
    }

    /// Takes one fault off the plan, if any is pending.
    pub fn take_fault(&mut self) -> Option<FaultKind> {
        let fault = self.fault.as_mut()?;
        let kind = fault.kind;
        fault.remaining -= 1;
        if fault.remaining == 0 {
            self.fault = None;
        }
        Some(kind)
    }

    pub fn token_requests_for(&self, account_id: &str) -> u64 {
        self.grants
            .iter()
            .filter(|g| g.account_id == account_id)
            .map(|g| g.token_requests)
            .sum()
    }

    pub fn stats(&self) -> (Vec<GrantStats>, u64) {
        let grants = self
            .grants
            .iter()
            .enumerate()
            .map(|(i, g)| GrantStats {
                client_id: g.client_id.clone(),
                account_id: g.account_id.clone(),
                token_requests: g.token_requests,
                live_families: self
                    .families
                    .iter()
                    .filter(|f| f.grant == i && !f.revoked)
                    .count(),
            })
            .collect();
        (grants, self.unattributed_requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    fn code_grant(scopes: &str) -> CodeGrant {
        CodeGrant {
            client_id: "client".into(),
            redirect_uri: "http://localhost/cb".into(),
            scopes: scopes.split(' ').map(String::from).collect(),
            account_id: "acc".into(),
            cloud_ids: vec!["site-1".into()],
            code_challenge: None,
        }
    }

    fn connected(store: &mut Store) -> Issued {
        let code = store.issue_code(code_grant("read:me offline_access"), T0);
        store
            .exchange_code("client", &code, "http://localhost/cb", None, T0)
            .expect("exchange")
    }

    #[test]
    fn rotation_keeps_the_old_token_alive_for_the_leeway_only() {
        let mut store = Store::new(Settings::default());
        let first = connected(&mut store);
        let rt0 = first
            .refresh_token
            .expect("offline_access gives a refresh token");
        let second = store.refresh("client", &rt0, T0 + 10).expect("refresh");
        let rt1 = second.refresh_token.expect("rotated");
        assert_ne!(rt0, rt1);
        // Inside the leeway the old token still works (a lost response retried).
        store
            .refresh("client", &rt0, T0 + 10 + 600)
            .expect("inside leeway");
        // Outside it, reuse kills the family, the newest token included.
        assert_eq!(
            store.refresh("client", &rt0, T0 + 10 + 601),
            Err(TokenError::FamilyRevoked)
        );
        assert_eq!(
            store.refresh("client", &rt1, T0 + 10 + 602),
            Err(TokenError::FamilyRevoked)
        );
    }

    #[test]
    fn a_fault_plan_runs_out() {
        let mut store = Store::new(Settings::default());
        store.set_fault(Fault {
            kind: FaultKind::ServerError,
            remaining: 2,
        });
        assert_eq!(store.take_fault(), Some(FaultKind::ServerError));
        assert_eq!(store.take_fault(), Some(FaultKind::ServerError));
        assert_eq!(store.take_fault(), None);
    }
}
