//! `/login` and `/setup`, rendered on the server only: plain forms with the
//! product's stylesheet and no WebAssembly (they work before it loads, and
//! without it). Every text from a request is escaped by Leptos.

use leptos::prelude::*;

use crate::document::{static_document, PRODUCT};

/// What the sign-in page shows besides its form.
pub struct SignInView<'a> {
    /// The page to go to after signing in (a local path).
    pub next: &'a str,
    /// The email typed last time, kept in the field.
    pub email: &'a str,
    pub error: Option<&'a str>,
    /// A note above the form (signed out, first start).
    pub note: Option<&'a str>,
}

/// `/login`: email, password, "Sign in".
pub fn sign_in_document(p: SignInView<'_>) -> String {
    let note = p.note.map(str::to_owned);
    let error = p.error.map(str::to_owned);
    let next = p.next.to_owned();
    let email = p.email.to_owned();
    static_document("Sign in", move || {
        view! {
            <SignInMain>
                <h2>"Sign in"</h2>
                {note.map(|note| view! { <p class="notice" role="status">{note}</p> })}
                <Alert sentence=error/>
                <form class="stacked-form" method="post" action="/login">
                    <input type="hidden" name="next" value=next/>
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="username" required autofocus value=email/>
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required/>
                    <button class="button primary" type="submit">"Sign in"</button>
                </form>
            </SignInMain>
        }
    })
}

/// `/setup?token=...`: the first administrator's email and password.
pub fn setup_document(token: &str, email: &str, error: Option<&str>) -> String {
    let token = token.to_owned();
    let email = email.to_owned();
    let error = error.map(str::to_owned);
    let min = engine::accounts::rules::MIN_PASSWORD_CHARS.to_string();
    let password_label = format!("Password (at least {min} characters)");
    static_document("Set up", move || {
        view! {
            <SignInMain>
                <h2>"Create the first administrator"</h2>
                <p>
                    "No account exists yet. The account you create here is the dashboard's first administrator: it can add the other users in Settings."
                </p>
                <Alert sentence=error/>
                <form class="stacked-form" method="post" action="/setup">
                    <input type="hidden" name="token" value=token/>
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="username" required autofocus value=email/>
                    <label for="password">{password_label}</label>
                    <input id="password" name="password" type="password" autocomplete="new-password" required minlength=min.clone()/>
                    <label for="confirm">"Password again"</label>
                    <input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength=min/>
                    <button class="button primary" type="submit">"Create administrator"</button>
                </form>
            </SignInMain>
        }
    })
}

/// A setup link that opens nothing: `sentence` says why.
pub fn setup_link_invalid_document(sentence: &str) -> String {
    let sentence = sentence.to_owned();
    static_document("Set up", move || {
        view! {
            <SignInMain>
                <h2>"Set up"</h2>
                <Alert sentence=Some(sentence)/>
                <p><a class="button primary" href="/login">"Go to sign in"</a></p>
            </SignInMain>
        }
    })
}

/// The frame of these pages: the product's name above `children`.
#[component]
fn SignInMain(children: Children) -> impl IntoView {
    view! {
        <main class="content sign-in">
            <h1>{PRODUCT}</h1>
            {children()}
        </main>
    }
}

/// What went wrong with the form, if anything.
#[component]
fn Alert(sentence: Option<String>) -> impl IntoView {
    sentence.map(|sentence| view! { <p class="error" role="alert">{sentence}</p> })
}
