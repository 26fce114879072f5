//! The pages a connect link's visitor sees (`/connect/{token}`), rendered on
//! the server only, with no WebAssembly and no link into the dashboard: the
//! visitor has no account here. They name the company's product
//! (`PRODUCT_NAME`), say which Jira access is asked for, and say how the
//! flow ended. Every text from a request or a service is escaped by Leptos.

use leptos::prelude::*;

use crate::document::static_document;

/// What the invitation page shows.
pub struct LinkPageView<'a> {
    /// `PRODUCT_NAME`: whose product asks for access.
    pub product: &'a str,
    /// The name the service gave its customer, if any.
    pub display_name: Option<&'a str>,
    /// It repairs an existing connection.
    pub reauthenticates: bool,
    /// The OAuth scopes asked for.
    pub scopes: &'a [String],
    /// Where the button posts (`/connect/{token}`).
    pub action: &'a str,
}

/// What one of Atlassian's scopes lets the product do, in words.
fn scope_phrase(scope: &str) -> String {
    match scope {
        "read:jira-work" => "Read your Jira projects, issues and comments".to_owned(),
        "write:jira-work" => "Create and change Jira issues and comments".to_owned(),
        "manage:jira-project" => "Manage Jira projects".to_owned(),
        "manage:jira-configuration" => "Manage Jira's settings".to_owned(),
        "manage:jira-webhook" => "Register webhooks to hear about changes in Jira".to_owned(),
        "read:jira-user" => "Read the names of Jira's users".to_owned(),
        "read:me" => "Read your Atlassian profile (name and email)".to_owned(),
        "offline_access" => {
            "Keep this access while you are away, until you revoke it (at most a year)".to_owned()
        }
        other => format!("Use the \"{other}\" permission"),
    }
}

/// `GET /connect/{token}`: who asks, for what, and the button that starts
/// the flow at Atlassian.
pub fn connect_link_document(p: LinkPageView<'_>) -> String {
    let product = p.product.to_owned();
    let heading = match p.reauthenticates {
        true => format!("Reconnect Jira to {product}"),
        false => format!("Connect Jira to {product}"),
    };
    let greeting = p.display_name.map(|name| format!("For {name}."));
    let lead = match p.reauthenticates {
        true => format!("{product}'s connection to your Jira needs your consent again. Nothing else changes: the same connection is repaired."),
        false => format!("{product} asks for access to your Jira Cloud site. You choose the site and agree on Atlassian's own page."),
    };
    let phrases: Vec<String> = p.scopes.iter().map(|s| scope_phrase(s)).collect();
    let action = p.action.to_owned();
    static_document(&heading.clone(), move || {
        view! {
            <LinkMain heading>
                {greeting.map(|g| view! { <p class="muted">{g}</p> })}
                <p>{lead}</p>
                <h2>"Access asked for"</h2>
                <ul class="scopes">
                    {phrases.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                </ul>
                <form method="post" action=action>
                    <button class="button primary" type="submit">"Continue to Atlassian"</button>
                </form>
                <p class="muted">"This link works once. You can revoke the access at any time in your Atlassian account's settings (Connected apps)."</p>
            </LinkMain>
        }
    })
}

/// A link that cannot be used, or a flow that ended: `heading` and the
/// `sentence` that says what happened and what to do.
pub fn link_outcome_document(
    product: &str,
    heading: &str,
    sentence: &str,
    success: bool,
) -> String {
    let title = format!("{heading} - {product}");
    let (heading, sentence) = (heading.to_owned(), sentence.to_owned());
    let class = if success { "notice" } else { "error" };
    static_document(&title, move || {
        view! {
            <LinkMain heading>
                <p class=class role="status">{sentence}</p>
                <p class="muted">"You can close this page."</p>
            </LinkMain>
        }
    })
}

/// The frame of these pages.
#[component]
fn LinkMain(heading: String, children: Children) -> impl IntoView {
    view! {
        <main class="content sign-in connect-link">
            <h1>{heading}</h1>
            {children()}
        </main>
    }
}
