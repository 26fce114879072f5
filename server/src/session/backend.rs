//! `axum-login`'s backend over the engine's accounts: it checks credentials
//! (with the engine's throttle) and looks the session's user up on every
//! request, so a removed user's sessions end at once, and a changed password
//! ends every session signed in with the old one (the session remembers
//! [`engine::accounts::User::session_key`], which changes with the password).

use axum_login::{AuthUser, AuthnBackend};
use engine::accounts::{SignInError, User};
use engine::Engine;

/// The session's user.
#[derive(Debug, Clone)]
pub struct SessionUser(pub User);

impl AuthUser for SessionUser {
    type Id = i64;

    fn id(&self) -> i64 {
        self.0.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.0.session_key()
    }
}

/// What the sign-in form sends, and where from.
pub struct Credentials {
    pub email: String,
    pub password: String,
    /// The client's address, for the throttle.
    pub client: String,
    /// The browser's known-device proofs, if it sent any.
    pub devices: Vec<String>,
}

#[derive(Clone)]
pub struct Backend {
    engine: Engine,
}

impl Backend {
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }
}

impl AuthnBackend for Backend {
    type User = SessionUser;
    type Credentials = Credentials;
    type Error = SignInError;

    async fn authenticate(&self, c: Credentials) -> Result<Option<SessionUser>, SignInError> {
        match self
            .engine
            .sign_in(&c.email, &c.password, &c.client, &c.devices)
            .await
        {
            Ok(user) => Ok(Some(SessionUser(user))),
            Err(SignInError::Invalid) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_user(&self, id: &i64) -> Result<Option<SessionUser>, SignInError> {
        Ok(self.engine.user(*id).await?.map(SessionUser))
    }
}

/// The request's session and user.
pub type AuthSession = axum_login::AuthSession<Backend>;
