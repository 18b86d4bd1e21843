//! The analysts' exception queue (`/exceptions`, viewer): the policy exception requests that
//! developers filed from their tray or the API, waiting ones first (longest waiting first), then
//! decided ones, filtered by status, host and text and paged like every list; one request's page
//! (`/exceptions/{id}`) with what it covers, the developer's reason, its decision and the audit
//! log's entries about it; and for admins the approve form (an expiry from presets or a date,
//! bounded, and a note) and the deny form (a note), which POST to `/exceptions/{id}/approve` and
//! `/exceptions/{id}/deny` and come back with a 303 to the request's page.
//!
//! Every read and decision goes through the use-cases of [`crate::exception_requests`], the same
//! the JSON API calls, so an approval is published as a policy version exactly as through
//! `/api/v1/exception-requests/{id}/approve`. Roles are the route table's (a viewer's POST is
//! refused there); the reason is developer free text: maud escapes it, and it is shown cut to a
//! bounded length. [`endpoint_section`] and [`waiting_link`] are the pieces other pages show.

use axum::Extension;
use axum::extract::{Form, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use maud::{Markup, html};
use serde::Deserialize;

use super::components::{
    bad_params, endpoint_link, error_page, filter_buttons, link, list_params, pager, select, text_input, time_ago,
    utc_text,
};
use super::layout;
use super::ops::{audited, csrf_field, refused, see_other, state_badge};
use crate::audit::AuditEvent;
use crate::error::{ActionError, ApiError};
use crate::exception_requests::{self as requests, EXPIRY_PRESETS, MAX_EXPIRY_DAYS, MAX_TEXT};
use crate::http::params::{self, ExceptionQueueParams, NoParams};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::exception_requests::{RequestQuery, RequestRow, RequestState};
use crate::timefmt::{iso_date, waited_text};

pub const PATH: &str = "/exceptions";
/// The navigation entry the queue's pages mark as current.
pub const NAV_LABEL: &str = "Exceptions";
/// The queue filtered to the requests waiting for a decision.
pub const WAITING_PATH: &str = "/exceptions?status=pending";

/// Longest reason shown in a list row (the request's page shows all of it).
const REASON_IN_LIST: usize = 160;
/// Most requests an endpoint's page lists.
const ENDPOINT_ROWS: u32 = 10;
/// Most audit entries a request's page lists.
const HISTORY_LIMIT: u32 = 50;
/// The preset selected when the approve form opens.
const DEFAULT_PRESET: u32 = 30;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, PATH, Access::Role(Role::Viewer), queue_page),
        Route::new(Method::GET, "/exceptions/{id}", Access::Role(Role::Viewer), detail_page),
        Route::new(Method::POST, "/exceptions/{id}/approve", Access::Role(Role::Admin), approve_form),
        Route::new(Method::POST, "/exceptions/{id}/deny", Access::Role(Role::Admin), deny_form),
    ]
}

/// The page of request `id`.
pub fn detail_path(id: &str) -> String {
    format!("{PATH}/{id}")
}

/// Request ids are hex (`exception_requests::create`); anything else names no request and never
/// reaches a redirect's `Location`.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn bounded(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

fn state_tone(state: RequestState) -> &'static str {
    match state {
        RequestState::Pending => "warn",
        RequestState::Approved => "ok",
        RequestState::Denied => "danger",
    }
}

/// `span.badge.<tone>.request-<state>`.
fn request_badge(state: RequestState) -> Markup {
    state_badge(state_tone(state), "request", state.as_str())
}

fn rules_text(rules: &[String]) -> Markup {
    html! {
        @if rules.iter().any(|r| r == "*") {
            span.rules { "every rule" }
        } @else {
            span.rules {
                @for (i, rule) in rules.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (rule) }
                }
            }
        }
    }
}

fn endpoint_cell(row: &RequestRow) -> Markup {
    html! {
        @if row.request.agent_id.is_empty() { span.muted { "any endpoint" } }
        @else { (endpoint_link(&row.request.agent_id, &row.hostname)) }
    }
}

fn user_cell(row: &RequestRow) -> Markup {
    html! { @if row.request.user.is_empty() { span.muted { "any user" } } @else { (row.request.user) } }
}

fn server_cell(row: &RequestRow) -> Markup {
    let r = &row.request;
    let label = if row.server_name.is_empty() { r.server_id.as_str() } else { row.server_name.as_str() };
    html! {
        @if r.server_id.is_empty() {
            span.muted { "any server" }
        } @else if r.agent_id.is_empty() || row.server_name.is_empty() {
            span.server-name { (label) }
        } @else {
            a.server-name href=(super::server_list::server_on_endpoint(&r.agent_id, &r.server_id)) { (label) }
        }
    }
}

fn client_cell(row: &RequestRow) -> Markup {
    html! { @if row.client.is_empty() { span.muted { "—" } } @else { (row.client) } }
}

/// Who filed a request: a tray's request arrives through its endpoint's agent (`agent:<id>`),
/// which says nothing an analyst needs beyond the endpoint already shown.
fn requester(requested_by: &str) -> String {
    if requested_by.starts_with("agent:") { "from the tray".to_string() } else { format!("by {requested_by}") }
}

fn reason_cell(reason: &str) -> Markup {
    html! { div.request-reason { (bounded(reason, REASON_IN_LIST)) } }
}

// ---------------------------------------------------------------------------------------------
// The queue

async fn queue_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (filters, back): (ExceptionQueueParams, _) = match list_params(raw.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let query = match filters.query() {
        Ok(query) => query,
        Err(error) => return bad_params(&error, &principal),
    };
    let store = state.cp.store.as_ref();
    let loaded =
        async { Ok::<_, ActionError>((requests::queue(store, &query).await?, requests::waiting(store, None).await?)) };
    let (page, waiting) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return refused(&principal, &ApiError::from(error), "/"),
    };
    let now = unix_now();
    let (open, decided): (Vec<&RequestRow>, Vec<&RequestRow>) =
        page.items.iter().partition(|row| row.request.state == RequestState::Pending);
    let body = html! {
        div.page-head {
            h1 { "Exception requests" }
            p.lede {
                "Developers ask for a policy rule to be lifted for their server, from the tray or the API. "
                a.waiting-count href=(WAITING_PATH) { (waiting_text(waiting)) } ". "
                @if principal.role >= Role::Admin {
                    "Open a request to approve it with an expiry (published as a policy exception) or deny it."
                } @else {
                    "Admins approve or deny them: an approval publishes a policy version."
                }
            }
        }
        (filter_form(&filters))
        @if page.items.is_empty() {
            p.empty { "No exception request matches these filters." }
        }
        @if !open.is_empty() {
            section.card.table-card.queue-waiting aria-label="Waiting" {
                h2 { "Waiting for a decision" }
                table.data.exception-requests {
                    thead {
                        tr {
                            th { "Endpoint" } th { "OS user" } th { "Client" } th { "Server" } th { "Rules" }
                            th { "Reason" } th { "Requested" } th { "Waiting" } th { span.visually-hidden { "Open" } }
                        }
                    }
                    tbody {
                        @for row in &open {
                            @let r = &row.request;
                            tr data-request=(r.id) data-state=(r.state.as_str()) {
                                td { (endpoint_cell(row)) }
                                td { (user_cell(row)) }
                                td { (client_cell(row)) }
                                td { (server_cell(row)) }
                                td { (rules_text(&r.rules)) }
                                td.reason-cell { (reason_cell(&r.reason)) div.muted-line { (requester(&r.requested_by)) } }
                                td.nowrap { (time_ago(r.created_at, now)) }
                                td.nowrap.waited { (waited_text(r.created_at, now)) }
                                td { a.button.review href=(detail_path(&r.id)) { "Review" } }
                            }
                        }
                    }
                }
            }
        }
        @if !decided.is_empty() {
            section.card.table-card.queue-decided aria-label="Decided" {
                h2 { "Decided" }
                table.data.exception-requests {
                    thead {
                        tr {
                            th { "Endpoint" } th { "Server" } th { "Rules" } th { "Reason" } th { "Decision" }
                            th { "Expires" } th { "Note" }
                        }
                    }
                    tbody {
                        @for row in &decided {
                            @let r = &row.request;
                            tr data-request=(r.id) data-state=(r.state.as_str()) {
                                td { (endpoint_cell(row)) div.muted-line { (user_cell(row)) } }
                                td { (server_cell(row)) }
                                td { (rules_text(&r.rules)) }
                                td.reason-cell { (reason_cell(&r.reason)) }
                                td {
                                    a.decision-link href=(detail_path(&r.id)) { (request_badge(r.state)) }
                                    div.muted-line {
                                        "by " (r.decided_by)
                                        @if let Some(at) = r.decided_at { ", " (time_ago(at, now)) }
                                    }
                                }
                                td.nowrap {
                                    @if let Some(at) = r.expires_at { time title=(utc_text(at)) { (iso_date(at)) } } @else { span.muted { "—" } }
                                }
                                td.reason-cell { div.request-note { (bounded(&r.note, REASON_IN_LIST)) } }
                            }
                        }
                    }
                }
            }
        }
        (pager(PATH, &filters.filters(), filters.cursor.as_deref(), &back, page.next_cursor.as_deref()))
    };
    layout::page_in("Exception requests", NAV_LABEL, Some(&principal), html! {}, body).into_response()
}

fn waiting_text(waiting: u64) -> String {
    match waiting {
        0 => "No exception request waiting".to_string(),
        1 => "1 exception request waiting".to_string(),
        n => format!("{n} exception requests waiting"),
    }
}

/// The count of waiting requests as a link to them, for the overview and compliance pages
/// (nothing when `waiting` is zero and `always` is false).
pub fn waiting_link(waiting: u64, always: bool) -> Markup {
    html! {
        @if waiting > 0 || always {
            a.waiting-requests href=(WAITING_PATH) { (waiting_text(waiting)) }
        }
    }
}

fn filter_form(filters: &ExceptionQueueParams) -> Markup {
    let states = [("pending", "Waiting"), ("approved", "Approved"), ("denied", "Denied")];
    html! {
        form.filters method="get" action=(PATH) {
            (select("status", "Status", filters.status.map(|s| s.as_str()), &states))
            (text_input("host", "Host", filters.host.as_deref(), "laptop"))
            (text_input("q", "Text", filters.q.as_deref(), "reason, server, rule"))
            @if let Some(agent) = filters.agent.as_deref().filter(|a| !a.is_empty()) {
                input type="hidden" name="agent" value=(agent);
            }
            (filter_buttons(PATH))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One request

async fn detail_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(error) = params::parse::<NoParams>(raw.as_deref()) {
        return bad_params(&error, &principal);
    }
    if !plausible_id(&id) {
        return error_page(StatusCode::NOT_FOUND, "no such exception request", &principal);
    }
    let store = state.cp.store.as_ref();
    let row = match requests::detail(store, &id).await {
        Ok(row) => row,
        Err(ActionError::NotFound(_)) => {
            return error_page(StatusCode::NOT_FOUND, "no such exception request", &principal);
        }
        Err(error) => return refused(&principal, &ApiError::from(error), PATH),
    };
    let history =
        match store.audit_of_target("exception_request.", &format!("exception-request/{id}"), HISTORY_LIMIT).await {
            Ok(rows) => rows,
            Err(error) => return refused(&principal, &ApiError::from(error), PATH),
        };
    let now = unix_now();
    let r = &row.request;
    let title = format!("Exception request {id}");
    let body = html! {
        div.page-head {
            p.crumbs { a href=(PATH) { "Exception requests" } " / " (r.id) }
            h1 { "Exception request" }
            p.lede {
                (request_badge(r.state)) " "
                (rules_text(&r.rules)) " for " (server_cell(&row)) " on " (endpoint_cell(&row))
            }
        }
        div.detail-grid {
            section.card.request-facts {
                h2 { "What it covers" }
                dl.facts {
                    dt { "Endpoint" } dd { (endpoint_cell(&row)) }
                    dt { "OS user" } dd { (user_cell(&row)) }
                    dt { "Client" } dd { (client_cell(&row)) }
                    dt { "Server" } dd { (server_cell(&row)) @if !r.server_id.is_empty() { " " code.server-id { (r.server_id) } } }
                    dt { "Rules" } dd { (rules_text(&r.rules)) }
                    dt { "Requested" } dd.requester {
                        @if r.requested_by.starts_with("agent:") { "from the developer's tray, through the endpoint's agent" } @else { "by " (r.requested_by) }
                    }
                    dt { "Filed" } dd { (utc_text(r.created_at)) " (" (time_ago(r.created_at, now)) ")" }
                    @if r.state == RequestState::Pending {
                        dt { "Waiting" } dd.waited { (waited_text(r.created_at, now)) }
                    }
                }
            }
            section.card.request-reason-card {
                h2 { "The developer's reason" }
                p.request-reason.full { (bounded(&r.reason, MAX_TEXT)) }
            }
        }
        section.card.decisions.request-decision {
            h2 { "Decision" }
            @if r.state == RequestState::Pending {
                @if principal.role >= Role::Admin {
                    (decision_forms(r.id.as_str(), &principal, now))
                } @else {
                    p.muted.read-only {
                        "Waiting for an admin's decision: approving publishes a policy version, so only admins approve or deny."
                    }
                }
            } @else {
                dl.facts.decided {
                    dt { "Decision" } dd { (request_badge(r.state)) }
                    dt { "By" } dd { (r.decided_by) }
                    dt { "When" } dd { @if let Some(at) = r.decided_at { (utc_text(at)) " (" (time_ago(at, now)) ")" } }
                    @if let Some(at) = r.expires_at {
                        dt { "Expires" } dd.expires { (utc_text(at)) }
                    }
                    @if let Some(version) = r.policy_version {
                        dt { "Published in" } dd {
                            a.policy-version href={ "/policies/" (version) } { "policy v" (version) }
                            " as exception " code { "request-" (r.id) }
                        }
                    }
                    dt { "Note" } dd.request-note { @if r.note.is_empty() { span.muted { "none" } } @else { (bounded(&r.note, MAX_TEXT)) } }
                }
            }
            h3 { "History" }
            @if history.is_empty() {
                p.empty { "The audit log has no entry about this request." }
            } @else {
                table.data.history {
                    thead { tr { th { "When" } th { "Who" } th { "Action" } th { "Outcome" } th { "Detail" } } }
                    tbody {
                        @for record in &history {
                            tr {
                                td { (utc_text(record.entry.at)) }
                                td { (record.entry.actor) }
                                td { (record.entry.action.trim_start_matches("exception_request.")) }
                                td { (record.entry.outcome.as_str()) }
                                td.detail { (bounded(&record.entry.detail, MAX_TEXT)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page_in(&title, NAV_LABEL, Some(&principal), html! {}, body).into_response()
}

/// The approve form (expiry preset or date, note) and the deny form (note).
fn decision_forms(id: &str, principal: &Principal, now: i64) -> Markup {
    let earliest = iso_date(now + 86_400);
    let latest = iso_date(now + MAX_EXPIRY_DAYS * 86_400);
    let max_text = MAX_TEXT.to_string();
    html! {
        div.request-forms {
            form.approve method="post" action={ (detail_path(id)) "/approve" } {
                (csrf_field(principal))
                fieldset.expiry {
                    legend { "Lift the rules until" }
                    @for days in EXPIRY_PRESETS {
                        label.choice {
                            input type="radio" name="expiry" value=(days) checked[days == DEFAULT_PRESET];
                            " " (days) " days"
                        }
                    }
                    label.choice {
                        input type="radio" name="expiry" value="date";
                        " the end of "
                        input type="date" name="until" min=(earliest) max=(latest) aria-label="Custom expiry date";
                    }
                }
                label.field {
                    span { "Note (optional)" }
                    input type="text" name="note" maxlength=(max_text) placeholder="Why it is approved";
                }
                button type="submit" { "Approve and publish" }
            }
            form.deny method="post" action={ (detail_path(id)) "/deny" } {
                (csrf_field(principal))
                label.field {
                    span { "Note to the developer" }
                    input type="text" name="note" maxlength=(max_text) placeholder="What to do instead";
                }
                button.danger type="submit" { "Deny" }
            }
        }
    }
}

#[derive(Deserialize)]
struct ApproveForm {
    /// A preset's number of days, or `date`.
    #[serde(default)]
    expiry: String,
    /// `YYYY-MM-DD` when `expiry` is `date`.
    #[serde(default)]
    until: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
struct DenyForm {
    #[serde(default)]
    note: String,
}

/// The refusal page for a decision the use-case refused, carrying the audit event the API's
/// refusal carries.
fn refused_decision(principal: &Principal, error: ActionError, action: &str, id: &str) -> Response {
    let error = ApiError::from(error);
    let event = AuditEvent::new(action, &format!("exception-request/{id}")).detail(&error.message);
    audited(refused(principal, &error, &detail_path(id)), event)
}

async fn approve_form(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<ApproveForm>,
) -> Response {
    if !plausible_id(&id) {
        return error_page(StatusCode::NOT_FOUND, "no such exception request", &principal);
    }
    let now = unix_now();
    let decided = match requests::chosen_expiry(&form.expiry, &form.until, now) {
        Ok(expires_at) => {
            let store = state.cp.store.as_ref();
            requests::approve(store, state.cp.as_ref(), &id, &principal.name, expires_at, &form.note, now).await
        }
        Err(error) => Err(error),
    };
    match decided {
        Ok((_, event)) => audited(see_other(&detail_path(&id)), event),
        Err(error) => refused_decision(&principal, error, "exception_request.approve", &id),
    }
}

async fn deny_form(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<DenyForm>,
) -> Response {
    if !plausible_id(&id) {
        return error_page(StatusCode::NOT_FOUND, "no such exception request", &principal);
    }
    let store = state.cp.store.as_ref();
    match requests::deny(store, state.cp.as_ref(), &id, &principal.name, &form.note, unix_now()).await {
        Ok(event) => audited(see_other(&detail_path(&id)), event),
        Err(error) => refused_decision(&principal, error, "exception_request.deny", &id),
    }
}

// ---------------------------------------------------------------------------------------------
// On other pages

/// An endpoint page's card: the requests covering it (newest in the queue's order, at most
/// [`ENDPOINT_ROWS`]), each linking to its page, and a link to all of them in the queue.
pub async fn endpoint_section(store: &dyn crate::store::Store, agent_id: &str) -> Result<Markup, ActionError> {
    let query = RequestQuery { agent_id: Some(agent_id.to_string()), limit: ENDPOINT_ROWS, ..RequestQuery::default() };
    let page = requests::queue(store, &query).await?;
    let waiting = requests::waiting(store, Some(agent_id)).await?;
    let all = link(PATH, &[("agent", agent_id.to_string())]);
    let now = unix_now();
    Ok(html! {
        section.card.table-card.endpoint-exceptions aria-label="Exception requests" {
            h2 { "Exception requests" }
            @if page.items.is_empty() {
                p.empty { "Nobody asked for a policy exception on this endpoint." }
            } @else {
                p.muted {
                    a.endpoint-waiting href=(link(PATH, &[("agent", agent_id.to_string()), ("status", "pending".into())])) {
                        (waiting) " waiting"
                    }
                    " · " a.endpoint-all-requests href=(all) { "all of this endpoint's requests" }
                }
                table.data.exception-requests {
                    thead { tr { th { "State" } th { "Server" } th { "OS user" } th { "Rules" } th { "Reason" } th { "Requested" } } }
                    tbody {
                        @for row in &page.items {
                            @let r = &row.request;
                            tr data-request=(r.id) data-state=(r.state.as_str()) {
                                td { a href=(detail_path(&r.id)) { (request_badge(r.state)) } }
                                td { (server_cell(row)) }
                                td { (user_cell(row)) }
                                td { (rules_text(&r.rules)) }
                                td.reason-cell { (reason_cell(&r.reason)) }
                                td.nowrap { (time_ago(r.created_at, now)) }
                            }
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cut_to_a_bound_and_ids_are_hex_only() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("ééééé", 3), "ééé…");
        assert_eq!(bounded(&"x".repeat(600), MAX_TEXT).chars().count(), MAX_TEXT + 1);
        assert!(plausible_id("0123abcdef"));
        for bad in ["", "a/b", "a\r\nb", "../x", &"a".repeat(65)] {
            assert!(!plausible_id(bad), "{bad:?}");
        }
        assert_eq!(waiting_text(1), "1 exception request waiting");
        assert!(waiting_link(0, false).into_string().is_empty());
        assert!(waiting_link(3, false).into_string().contains(r#"href="/exceptions?status=pending""#));
    }
}
