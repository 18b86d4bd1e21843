//! The activity page: the fleet's change events (a server appeared, changed — with what changed —
//! or disappeared on an endpoint; a finding appeared or was resolved), newest first, within a time
//! range (today, the last 7 days, or custom days), filtered by kind, host and client, with keyset
//! pages. Read-only.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::html;

use super::components::{
    endpoint_link, filter_buttons, list_params, pager, select, severity_badge, text_input, utc_text,
};
use super::layout;
use super::ops::refused;
use crate::http::fleet_api::activity;
use crate::http::params::{ActivityParams, RangeParam};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::ingest::ChangeKind;
use crate::store::Role;
use crate::store::read::ActivityEvent;

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
    let now = crate::state::unix_now();
    let (since, until) = filters.time_range(now).unwrap_or((None, None));
    let body = html! {
        div.page-head {
            h1 { "Activity" }
            p.lede { "What changed across the fleet: MCP servers appearing, changing and disappearing, findings appearing and resolved, newest first." }
        }
        nav.range-tabs aria-label="Time range" {
            @for (range, label) in [(None, "All time"), (Some(RangeParam::Today), "Today"), (Some(RangeParam::Week), "Last 7 days")] {
                @let current = filters.range == range && filters.from.is_none() && filters.to.is_none();
                a href=(range_link(&filters, range)) aria-current=[current.then_some("page")] { (label) }
            }
        }
        form.filters method="get" action=(PATH) {
            (select("kind", "Change", filters.kind.map(|k| k.as_str()), &[
                ("appeared", "Server appeared"), ("changed", "Server changed"), ("disappeared", "Server disappeared"),
                ("finding_appeared", "Finding appeared"), ("finding_resolved", "Finding resolved"),
            ]))
            (text_input("host", "Host", filters.host.as_deref(), "hostname or agent id"))
            (text_input("client", "Client", filters.client.as_deref(), "cursor"))
            (select("range", "Range", filters.range.map(|r| r.as_str()), &[("today", "Today"), ("7d", "Last 7 days"), ("custom", "Custom")]))
            label.field {
                span { "From" }
                input type="date" name="from" value=(filters.from.as_deref().unwrap_or(""));
            }
            label.field {
                span { "To" }
                input type="date" name="to" value=(filters.to.as_deref().unwrap_or(""));
            }
            (filter_buttons(PATH))
        }
        p.range-note data-range-since=[since] data-range-until=[until] {
            (range_text(since, until))
        }
        @if page.items.is_empty() {
            p.empty { "No change events match these filters." }
        } @else {
            section.card.table-card {
                table.data.activity {
                    thead { tr { th { "When" } th { "Change" } th { "Endpoint" } th { "Server" } th { "Client" } th { "What changed" } } }
                    tbody {
                        @for event in &page.items {
                            tr data-event=(event.id) data-kind=(event.kind.as_str()) {
                                td { time { (utc_text(event.at)) } }
                                td { span class={ "badge change-" (event.kind.as_str()) } { (kind_label(event.kind)) } }
                                td { (endpoint_link(&event.agent_id, &event.hostname)) }
                                td { (event.server_name) }
                                td { (event.client) }
                                td.what { (what_changed(event)) }
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

/// The page with `range` and the other filters kept (custom days and the cursor dropped).
fn range_link(filters: &ActivityParams, range: Option<RangeParam>) -> String {
    let kept = ActivityParams { range, from: None, to: None, cursor: None, ..filters.clone() };
    let query = serde_urlencoded::to_string(kept.filters()).unwrap_or_default();
    if query.is_empty() { PATH.to_string() } else { format!("{PATH}?{query}") }
}

/// The range in words: "Since 2026-12-07 00:00 UTC", "From … until …", "All time".
fn range_text(since: Option<i64>, until: Option<i64>) -> String {
    match (since, until) {
        (None, None) => "All time.".to_string(),
        (Some(since), None) => format!("Since {}.", utc_text(since)),
        (None, Some(until)) => format!("Before {}.", utc_text(until)),
        (Some(since), Some(until)) => format!("From {} until {}.", utc_text(since), utc_text(until)),
    }
}

pub(super) fn kind_label(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Appeared => "server appeared",
        ChangeKind::Changed => "server changed",
        ChangeKind::Disappeared => "server disappeared",
        ChangeKind::FindingAppeared => "finding appeared",
        ChangeKind::FindingResolved => "finding resolved",
    }
}

/// What changed: the field changes of a `changed` event, the finding of a finding event.
fn what_changed(event: &ActivityEvent) -> maud::Markup {
    html! {
        @if !event.finding_id.is_empty() {
            (severity_badge(event.severity)) " "
            @let title = if event.finding_title.is_empty() { event.finding_id.as_str() } else { event.finding_title.as_str() };
            a href=(findings_link(event)) { (title) }
            " " code { (event.finding_id) }
        } @else if !event.changes.is_empty() {
            ul.changes {
                @for change in &event.changes {
                    li data-field=(change.field) { (change.text()) }
                }
            }
        }
    }
}

/// The findings list filtered to this finding's rule on this host.
fn findings_link(event: &ActivityEvent) -> String {
    let host = if event.hostname.is_empty() { &event.agent_id } else { &event.hostname };
    let query =
        serde_urlencoded::to_string([("rule", event.finding_id.as_str()), ("host", host.as_str())]).unwrap_or_default();
    format!("/findings?{query}")
}
