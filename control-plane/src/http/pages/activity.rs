//! The activity page: the fleet's change events (a server appeared, changed or disappeared on an
//! endpoint), newest first, filtered by kind and host, with keyset pages. Read-only.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::html;

use super::components::{endpoint_link, filter_buttons, list_params, pager, select, text_input, utc_text};
use super::layout;
use super::ops::refused;
use crate::http::auth::Principal;
use crate::http::fleet_api::activity;
use crate::http::params::ActivityParams;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::store::Role;

pub const PATH: &str = "/activity";

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new(Method::GET, PATH, Access::Role(Role::Viewer), activity_page)]
}

async fn activity_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (filters, back): (ActivityParams, _) = match list_params(raw.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let page = match activity(&state, &filters).await {
        Ok(page) => page,
        Err(error) => return refused(&principal, &error, PATH),
    };
    let body = html! {
        div.page-head {
            h1 { "Activity" }
            p.lede { "MCP servers appearing, changing and disappearing across the fleet, newest first." }
        }
        form.filters method="get" action=(PATH) {
            (select("kind", "Change", filters.kind.map(|k| k.as_str()), &[("appeared", "Appeared"), ("changed", "Changed"), ("disappeared", "Disappeared")]))
            (text_input("host", "Host", filters.host.as_deref(), "hostname or agent id"))
            (text_input("client", "Client", filters.client.as_deref(), "cursor"))
            (filter_buttons(PATH))
        }
        @if page.items.is_empty() {
            p.empty { "No change events match these filters." }
        } @else {
            section.card.table-card {
                table.data.activity {
                    thead { tr { th { "When" } th { "Change" } th { "Endpoint" } th { "Server" } th { "Client" } } }
                    tbody {
                        @for event in &page.items {
                            tr data-event=(event.id) {
                                td { time { (utc_text(event.at)) } }
                                td { span class={ "badge change-" (event.kind.as_str()) } { (event.kind.as_str()) } }
                                td { (endpoint_link(&event.agent_id, &event.hostname)) }
                                td { (event.server_name) }
                                td { (event.client) }
                            }
                        }
                    }
                }
            }
        }
        (pager(PATH, &filters.filters(), filters.cursor.as_deref(), &back, page.next_cursor.as_deref()))
    };
    layout::page("Activity", Some(&principal), body).into_response()
}
