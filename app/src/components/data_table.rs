use leptos::prelude::*;

/// A table of records inside a panel: a scrolling region the keyboard can
/// reach (`label` is what a screen reader names it), the table's `class`
/// (what the stylesheet and the browser tests find it by), one column head
/// per `columns` entry (an empty one for a column of buttons) and the rows.
#[component]
pub fn DataTable(
    label: &'static str,
    class: &'static str,
    columns: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label=label>
            <table class=class>
                <thead><tr>
                    {columns.iter().map(|c| view! { <th scope="col">{*c}</th> }).collect_view()}
                </tr></thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
