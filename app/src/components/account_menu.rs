use leptos::prelude::*;

use crate::model::ViewerView;

/// Who is signed in, with their role, a link to Settings and "Sign out"
/// (a form: signing out is a POST, so no other site can do it with a link).
#[component]
pub fn AccountMenu(viewer: Option<ViewerView>) -> impl IntoView {
    viewer.map(|v| {
        view! {
            <div class="account-menu">
                <span class="signed-in-as" data-testid="signed-in-as">
                    {v.email} " · " <span class="role">{v.role.as_str()}</span>
                </span>
                <a class="button" href="/settings" rel="external">"Settings"</a>
                <form method="post" action="/logout" class="inline-form">
                    <button class="button" type="submit">"Sign out"</button>
                </form>
            </div>
        }
    })
}
