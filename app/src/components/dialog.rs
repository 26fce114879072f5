use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;

/// A modal dialog: `role="dialog"`, focus moved to `initial_focus` when it
/// opens and kept inside (Tab cycles through its links and buttons), Escape
/// calls `on_close`. No `window.confirm` anywhere.
#[component]
pub fn Dialog(
    /// The id of the element that titles the dialog.
    labelled_by: &'static str,
    /// The id of the element that describes it.
    described_by: &'static str,
    initial_focus: NodeRef<html::Button>,
    on_close: Callback<()>,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<html::Div>::new();
    Effect::new(move |_| {
        if let Some(button) = initial_focus.get() {
            let _ = button.focus();
        }
    });
    let on_keydown = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            on_close.run(());
        }
        "Tab" => trap_focus(&ev, dialog),
        _ => {}
    };
    view! {
        <div class="modal-backdrop">
            <div
                class="modal"
                role="dialog"
                aria-modal="true"
                aria-labelledby=labelled_by
                aria-describedby=described_by
                node_ref=dialog
                on:keydown=on_keydown
            >
                {children()}
            </div>
        </div>
    }
}

/// Keeps Tab and Shift+Tab inside the dialog.
#[cfg(feature = "hydrate")]
fn trap_focus(ev: &KeyboardEvent, dialog: NodeRef<html::Div>) {
    use wasm_bindgen::JsCast;
    let Some(dialog) = dialog.get() else { return };
    let Ok(nodes) = dialog.query_selector_all("a[href], button:not([disabled])") else {
        return;
    };
    let focusable: Vec<web_sys::HtmlElement> = (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .collect();
    let (Some(first), Some(last)) = (focusable.first(), focusable.last()) else {
        return;
    };
    let active = document().active_element();
    let is = |el: &web_sys::HtmlElement| {
        active
            .as_ref()
            .is_some_and(|a| a == el.as_ref() as &web_sys::Element)
    };
    if ev.shift_key() && (is(first) || active.is_none()) {
        ev.prevent_default();
        let _ = last.focus();
    } else if !ev.shift_key() && is(last) {
        ev.prevent_default();
        let _ = first.focus();
    }
}

#[cfg(not(feature = "hydrate"))]
fn trap_focus(_ev: &KeyboardEvent, _dialog: NodeRef<html::Div>) {}
