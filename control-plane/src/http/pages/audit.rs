//! The audit log page (admin): who did what, to what, when, from where and with which outcome,
//! newest first, paged by entry id. Entries are written by the audit middleware and the CLI,
//! never here.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::html;
use serde::{Deserialize, Serialize};

use super::components::utc_text;
use super::layout;
use super::ops::{pager, refused, state_badge, url_with};
use crate::error::ApiError;
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::store::Role;

pub const PATH: &str = "/audit";
const PAGE_SIZE: u32 = 100;

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new(Method::GET, PATH, Access::Role(Role::Admin), audit_page)]
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct AuditPageQuery {
    /// Entries older than this id (the keyset cursor).
    before: Option<i64>,
}

async fn audit_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<AuditPageQuery>,
) -> Response {
    // One extra row says whether a next page exists.
    let mut records = match state.cp.store.list_audit(query.before, PAGE_SIZE + 1).await {
        Ok(records) => records,
        Err(error) => return refused(&principal, &ApiError::from(error), "/"),
    };
    let more = records.len() > PAGE_SIZE as usize;
    records.truncate(PAGE_SIZE as usize);
    let next_url =
        more.then(|| records.last().map(|r| url_with(PATH, &AuditPageQuery { before: Some(r.id) }))).flatten();
    let first_url = query.before.map(|_| PATH.to_string());
    let body = html! {
        div.page-head {
            h1 { "Audit log" }
            p.lede { "Every sign-in and every change made through the dashboard, the API or the command line, newest first." }
        }
        @if records.is_empty() {
            p.empty { "The audit log is empty." }
        } @else {
            section.card.table-card {
                table.data.audit {
                    thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Target" } th { "Outcome" } th { "Source" } th { "Detail" } } }
                    tbody {
                        @for record in &records {
                            tr data-audit=(record.id) {
                                td { (utc_text(record.entry.at)) }
                                td { (record.entry.actor) }
                                td { code { (record.entry.action) } }
                                td.target { (record.entry.target) }
                                @let outcome = record.entry.outcome.as_str();
                                td { (state_badge(if outcome == "success" { "ok" } else { "danger" }, "outcome", outcome)) }
                                td { (record.entry.source_addr) }
                                td.detail { (record.entry.detail) }
                            }
                        }
                    }
                }
            }
        }
        (pager(first_url.as_deref(), next_url.as_deref()))
    };
    layout::page("Audit log", Some(&principal), body).into_response()
}
