//! [`AtlassianClient`]: the OAuth 2.0 (3LO) client (the `oauth2` crate, client
//! credentials in the request body) and the three API calls the product makes.
//! Every answer is classified into a [`ProviderError`]; no token is ever logged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use url::Url;

use crate::provider_error::{
    classify_token_error, is_transient_status, parse_retry_after, ProviderError,
};
use crate::secret::Secret;

/// The shortest access-token lifetime believed: a second (the sandbox's demo
/// and browser tests issue tokens of a few seconds; zero or less is nonsense).
pub(crate) const MIN_EXPIRES_IN_SECS: i64 = 1;
/// The longest access-token lifetime believed (a day; Atlassian's is an hour).
pub(crate) const MAX_EXPIRES_IN_SECS: i64 = 86_400;

type ConfiguredClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Where the provider lives and who we are to it.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub redirect_uri: Url,
    pub scopes: Vec<String>,
    pub auth_url: Url,
    pub token_url: Url,
    /// Base of `/oauth/token/accessible-resources`, `/me` and `/ex/jira/...`.
    pub api_url: Url,
    /// How long a request may take before it counts as a transient failure.
    pub timeout: Duration,
}

/// A token endpoint's successful answer.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: i64,
    pub scopes: Vec<String>,
}

/// One site from accessible-resources.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct AccessibleResource {
    pub id: String,
    pub url: String,
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The account from `/me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Me {
    pub account_id: String,
    pub name: String,
    pub email: Option<String>,
}

/// The Jira user from `/rest/api/3/myself`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JiraMyself {
    pub account_id: String,
    pub display_name: String,
}

/// The client the engine talks to the provider with; cheap to clone.
#[derive(Clone)]
pub struct AtlassianClient {
    oauth: ConfiguredClient,
    http: reqwest::Client,
    settings: Arc<ProviderSettings>,
}

impl std::fmt::Debug for AtlassianClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlassianClient")
            .field("token_url", &self.settings.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl AtlassianClient {
    pub fn new(settings: ProviderSettings) -> Result<Self, reqwest::Error> {
        let oauth = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                settings.client_secret.expose().to_owned(),
            ))
            .set_auth_uri(AuthUrl::from_url(settings.auth_url.clone()))
            .set_token_uri(TokenUrl::from_url(settings.token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(settings.redirect_uri.clone()))
            // Atlassian wants the credentials in the body, not a Basic header.
            .set_auth_type(AuthType::RequestBody);
        let http = reqwest::Client::builder()
            // Following redirects would let a provider bounce us anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .build()?;
        Ok(Self {
            oauth,
            http,
            settings: Arc::new(settings),
        })
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// The consent URL for `state` with a PKCE S256 challenge, carrying every
    /// parameter Atlassian documents (`audience`, `prompt=consent`, the scopes).
    /// Answers the URL and the verifier to keep for the callback.
    pub(crate) fn authorize_url(&self, state: &str) -> (Url, Secret) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let (url, _) = self
            .oauth
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.settings.scopes.iter().cloned().map(Scope::new))
            .add_extra_param("audience", "api.atlassian.com")
            .add_extra_param("prompt", "consent")
            .set_pkce_challenge(challenge)
            .url();
        (url, Secret::new(verifier.secret().clone()))
    }

    /// Exchanges an authorization code for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        verifier: &Secret,
    ) -> Result<TokenSet, ProviderError> {
        let status = StatusCell::default();
        let result = self
            .oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()))
            .request_async(&status.client(&self.http))
            .await;
        token_result(result, &status)
    }

    /// Sends a refresh token; the answer carries the NEW refresh token.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenSet, ProviderError> {
        let status = StatusCell::default();
        let token = RefreshToken::new(refresh_token.expose().to_owned());
        let result = self
            .oauth
            .exchange_refresh_token(&token)
            .request_async(&status.client(&self.http))
            .await;
        token_result(result, &status)
    }

    /// Every site the access token reaches.
    pub(crate) async fn accessible_resources(
        &self,
        access_token: &Secret,
    ) -> Result<Vec<AccessibleResource>, ProviderError> {
        self.get_json("oauth/token/accessible-resources", access_token)
            .await
    }

    /// The account behind the access token.
    pub async fn me(&self, access_token: &Secret) -> Result<Me, ProviderError> {
        self.get_json("me", access_token).await
    }

    /// Jira's `myself` on one site, with the answer's status and headers
    /// (what the rate limits learn from; `None` when nothing came back).
    pub(crate) async fn myself(
        &self,
        cloud_id: &str,
        access_token: &Secret,
    ) -> (
        Result<JiraMyself, ProviderError>,
        Option<(u16, reqwest::header::HeaderMap)>,
    ) {
        let mut seen = None;
        let path = format!("ex/jira/{cloud_id}/rest/api/3/myself");
        let result = self
            .get_json_seen(&path, access_token, |status, headers| {
                seen = Some((status, headers.clone()));
            })
            .await;
        (result, seen)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        access_token: &Secret,
    ) -> Result<T, ProviderError> {
        self.get_json_seen(path, access_token, |_, _| {}).await
    }

    /// [`Self::get_json`], showing `seen` the answer's status and headers.
    async fn get_json_seen<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        access_token: &Secret,
        seen: impl FnOnce(u16, &reqwest::header::HeaderMap),
    ) -> Result<T, ProviderError> {
        let url = api_url(&self.settings.api_url, path);
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        seen(status, response.headers());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response.bytes().await.map_err(transport_error)?;
        if is_transient_status(status) {
            return Err(ProviderError::Transient {
                status: Some(status),
                detail: format!("{path} answered {status}"),
                retry_after_secs: retry_after,
            });
        }
        if !(200..300).contains(&status) {
            return Err(ProviderError::Rejected {
                status,
                code: match status {
                    401 => "unauthorized".into(),
                    403 => "forbidden".into(),
                    404 => "not_found".into(),
                    _ => format!("http_{status}"),
                },
                description: format!("{path} answered {status}"),
            });
        }
        serde_json::from_slice(&body).map_err(|e| ProviderError::Transient {
            status: Some(status),
            detail: format!("{path} answered malformed JSON: {e}"),
            retry_after_secs: None,
        })
    }
}

/// `base` + `path`, keeping any path `base` already has.
fn api_url(base: &Url, path: &str) -> String {
    format!("{}/{}", base.as_str().trim_end_matches('/'), path)
}

fn transport_error(e: reqwest::Error) -> ProviderError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    ProviderError::Transient {
        status: e.status().map(|s| s.as_u16()),
        detail: kind.to_owned(),
        retry_after_secs: None,
    }
}

/// Records the HTTP status (and `Retry-After`) of the token endpoint's answer,
/// which the `oauth2` crate parses away but the event log and the
/// classification need.
#[derive(Clone, Default)]
struct StatusCell(Arc<Mutex<Option<Answered>>>);

/// An answer's status and `Retry-After` seconds.
type Answered = (u16, Option<i64>);

impl StatusCell {
    fn get(&self) -> Option<u16> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(s, _)| s)
    }

    fn retry_after(&self) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .and_then(|(_, r)| r)
    }

    /// An `oauth2` HTTP client over `http` that records the status here.
    fn client(
        &self,
        http: &reqwest::Client,
    ) -> impl Fn(
        HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, reqwest::Error>> + Send>,
    > + '_ {
        let http = http.clone();
        let cell = self.0.clone();
        move |request: HttpRequest| {
            let http = http.clone();
            let cell = cell.clone();
            Box::pin(async move {
                let request = reqwest::Request::try_from(request)?;
                let response = http.execute(request).await?;
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                *cell.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((response.status().as_u16(), retry_after));
                let mut builder = http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    builder = builder.header(name, value);
                }
                let body = response.bytes().await?.to_vec();
                // Building from a status and headers that came from a response cannot fail.
                Ok(builder.body(body).unwrap_or_default())
            })
        }
    }
}

fn token_result(
    result: Result<BasicTokenResponse, RequestTokenError<reqwest::Error, BasicErrorResponse>>,
    status: &StatusCell,
) -> Result<TokenSet, ProviderError> {
    match result {
        Ok(token) => Ok(TokenSet {
            access_token: Secret::new(token.access_token().secret().clone()),
            refresh_token: token
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone())),
            // A provider's absurd lifetime is clamped, so no deadline overflows
            // and nothing waits past a day to refresh.
            expires_in: token
                .expires_in()
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(3_600)
                .clamp(MIN_EXPIRES_IN_SECS, MAX_EXPIRES_IN_SECS),
            scopes: token
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
        }),
        Err(RequestTokenError::ServerResponse(err)) => Err(classify_token_error(
            status.get().unwrap_or(400),
            err.error().as_ref(),
            err.error_description()
                .map(String::as_str)
                .unwrap_or_default(),
            status.retry_after(),
        )),
        Err(RequestTokenError::Request(e)) => Err(transport_error(e)),
        // Includes an empty or non-JSON 2xx: the provider may have rotated,
        // so it is transient (retried with the same token inside the leeway).
        Err(RequestTokenError::Parse(_, _)) => Err(ProviderError::Transient {
            status: status.get(),
            detail: "the token endpoint answered a body that is not a token response".into(),
            retry_after_secs: status.retry_after(),
        }),
        Err(RequestTokenError::Other(detail)) => match status.get() {
            // An empty or non-JSON 2xx (a proxy's page, a cut body) may follow a
            // rotation: transient, so the same token is retried inside the leeway.
            Some(s) if !is_transient_status(s) && !(200..300).contains(&s) => {
                Err(ProviderError::Rejected {
                    status: s,
                    code: format!("http_{s}"),
                    description: detail,
                })
            }
            s => Err(ProviderError::Transient {
                status: s,
                detail,
                retry_after_secs: status.retry_after(),
            }),
        },
    }
}
