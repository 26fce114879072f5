use leptos::prelude::*;

use crate::api::{disconnect_integration, refresh_integration, test_connection};
use crate::model::DashboardPageView;

/// How an outcome message looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeTone {
    Ok,
    Problem,
}

/// The last outcome shown on one integration's card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub integration_id: i64,
    pub tone: NoticeTone,
    pub text: String,
}

/// The dashboard's shared state: the list, the open dialogs, the last outcome.
#[derive(Clone, Copy)]
pub struct DashboardCtx {
    pub integrations: Resource<Result<DashboardPageView, ServerFnError>>,
    /// The re-authentication dialog: (integration id, why).
    pub reauth: RwSignal<Option<(i64, String)>>,
    /// The disconnect confirmation: (integration id, site name).
    pub confirm_disconnect: RwSignal<Option<(i64, String)>>,
    pub notice: RwSignal<Option<Notice>>,
    /// The integration whose request is in flight, if any.
    pub busy: RwSignal<Option<i64>>,
}

impl DashboardCtx {
    pub fn new(integrations: Resource<Result<DashboardPageView, ServerFnError>>) -> Self {
        Self {
            integrations,
            reauth: RwSignal::new(None),
            confirm_disconnect: RwSignal::new(None),
            notice: RwSignal::new(None),
            busy: RwSignal::new(None),
        }
    }

    fn say(self, integration_id: i64, tone: NoticeTone, text: String) {
        self.notice.set(Some(Notice {
            integration_id,
            tone,
            text,
        }));
    }

    /// "Refresh token": shows the outcome; opens the dialog when only the user can help.
    pub fn refresh(self, id: i64) {
        self.busy.set(Some(id));
        leptos::task::spawn_local(async move {
            match refresh_integration(id).await {
                Ok(outcome) => {
                    let tone = if outcome.ok {
                        NoticeTone::Ok
                    } else {
                        NoticeTone::Problem
                    };
                    self.say(id, tone, outcome.message.clone());
                    if outcome.requires_reauth {
                        self.reauth.set(Some((id, outcome.message)));
                    }
                }
                Err(e) => self.say(id, NoticeTone::Problem, error_text(e)),
            }
            self.busy.set(None);
            self.integrations.refetch();
        });
    }

    /// "Test connection": shows the Jira display name, or the error.
    pub fn test(self, id: i64) {
        self.busy.set(Some(id));
        leptos::task::spawn_local(async move {
            match test_connection(id).await {
                Ok(result) => {
                    let tone = if result.ok {
                        NoticeTone::Ok
                    } else {
                        NoticeTone::Problem
                    };
                    self.say(id, tone, result.message);
                }
                Err(e) => self.say(id, NoticeTone::Problem, error_text(e)),
            }
            self.busy.set(None);
        });
    }

    /// Disconnects after the user confirmed in the dialog.
    pub fn disconnect(self, id: i64) {
        self.confirm_disconnect.set(None);
        self.busy.set(Some(id));
        leptos::task::spawn_local(async move {
            if let Err(e) = disconnect_integration(id).await {
                self.say(id, NoticeTone::Problem, error_text(e));
            }
            self.busy.set(None);
            self.integrations.refetch();
        });
    }
}

/// The sentence inside a server function error.
pub fn error_text(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(text) => text,
        other => format!("The request failed: {other}"),
    }
}
