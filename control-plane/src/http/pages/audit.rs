//! The audit log page (admin): who did what, to what, when, from where and with which outcome,
//! newest first, paged by entry id. Entries are written by the audit middleware and the CLI,
//! never here.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::html;
use serde::Deserialize;

use super::components::{bad_params, list_params, pager, utc_text};
use super::layout;
use super::ops::{refused, state_badge};
use crate::error::ApiError;
use crate::http::auth::Principal;
use crate::http::params::ParamError;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::store::Role;
use crate::store::read::Cursor;

pub const PATH: &str = "/audit";
const PAGE_SIZE: u32 = 100;

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new(Method::GET, PATH, Access::Role(Role::Admin), audit_page)]
}

/// The page's query: the shared pager's `cursor`, here holding the id of the last entry shown.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditPageQuery {
    cursor: Option<String>,
}

impl AuditPageQuery {
    /// Entries older than this id.
    fn before(&self) -> Result<Option<i64>, ParamError> {
        let Some(text) = &self.cursor else { return Ok(None) };
        let bad = || ParamError("cursor: not a cursor this server issued".into());
        Cursor::decode(text).map_err(|_| bad())?.int_key().map(Some).map_err(|_| bad())
    }
}

fn cursor_of(id: i64) -> String {
    Cursor { key: id.to_string(), id: id.to_string() }.encode()
}

async fn audit_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (query, back): (AuditPageQuery, _) = match list_params(raw.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let before = match query.before() {
        Ok(before) => before,
        Err(error) => return bad_params(&error, &principal),
    };
    // One extra row says whether a next page exists.
    let mut records = match state.cp.store.list_audit(before, PAGE_SIZE + 1).await {
        Ok(records) => records,
        Err(error) => return refused(&principal, &ApiError::from(error), "/"),
    };
    let more = records.len() > PAGE_SIZE as usize;
    records.truncate(PAGE_SIZE as usize);
    let next = more.then(|| records.last().map(|r| cursor_of(r.id))).flatten();
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
        (pager(PATH, &[], query.cursor.as_deref(), &back, next.as_deref()))
    };
    layout::page("Audit log", Some(&principal), body).into_response()
}
