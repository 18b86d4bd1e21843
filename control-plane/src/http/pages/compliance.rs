//! The Compliance pages (viewer): the fleet against the current published policy version
//! (`/compliance`: totals, every rule with its actions by state, the hourly trend) and the
//! endpoint list behind every count (`/compliance/endpoints`, filtered by action state, rule,
//! version and violations). Every count is a link to the endpoints it counts. Both call the
//! use-cases of [`crate::compliance`], as `/api/v1/compliance` does; one endpoint's actions are
//! shown on its endpoint page ([`endpoint_section`]).

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::{Markup, html};
use muster_proto::WireWord as _;
use muster_proto::v1::PolicyActionState;

use super::components::{bad_params, endpoint_link, filter_buttons, list_params, pager, select, text_input, utc_text};
use super::layout;
use super::ops::refused;
use crate::compliance::{self, EndpointView, Summary};
use crate::error::ApiError;
use crate::http::params::{self, ComplianceParams, NoParams};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::compliance::{RuleCompliance, StateTotals, TrendPoint};

pub const PATH: &str = "/compliance";
pub const ENDPOINTS_PATH: &str = "/compliance/endpoints";

/// How many rules the summary page lists (the API pages through all of them).
const RULES_SHOWN: u32 = 200;
/// The trend shown: the last day, hourly, newest first.
const TREND_DAYS: u32 = 1;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, PATH, Access::Role(Role::Viewer), summary_page),
        Route::new(Method::GET, ENDPOINTS_PATH, Access::Role(Role::Viewer), endpoints_page),
    ]
}

/// The states in display order, with their word (the filter value) and label.
const STATES: [(PolicyActionState, &str); 5] = [
    (PolicyActionState::Pending, "Pending"),
    (PolicyActionState::Applied, "Applied"),
    (PolicyActionState::Failed, "Failed"),
    (PolicyActionState::Excepted, "Excepted"),
    (PolicyActionState::NotInForce, "Not in force"),
];

fn count_of(totals: &StateTotals, state: PolicyActionState) -> u64 {
    match state {
        PolicyActionState::Pending => totals.pending,
        PolicyActionState::Applied => totals.applied,
        PolicyActionState::Failed => totals.failed,
        PolicyActionState::Excepted => totals.excepted,
        PolicyActionState::NotInForce => totals.not_in_force,
        PolicyActionState::Unspecified => 0,
    }
}

/// The endpoint list filtered by `pairs`.
fn endpoints_link(pairs: &[(&str, &str)]) -> String {
    let owned: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
    super::components::link(ENDPOINTS_PATH, &owned)
}

/// A count as a link to the endpoints it counts.
fn count_link(count: u64, pairs: &[(&str, &str)]) -> Markup {
    html! { a.count href=(endpoints_link(pairs)) { (count) } }
}

/// `span.badge.state-<word>` with the state's label.
pub fn state_badge(state: i32) -> Markup {
    let (word, label) = match PolicyActionState::from_number(state) {
        Some(known) if known != PolicyActionState::Unspecified => {
            (known.word(), STATES.iter().find(|(s, _)| *s == known).map_or("", |(_, l)| l))
        }
        _ => ("unspecified", "unknown"),
    };
    html! { span class={ "badge state-" (word) } { (label) } }
}

async fn summary_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return bad_params(&error, &principal);
    }
    let store = state.cp.store.as_ref();
    let loaded = async {
        let summary = compliance::summary(store).await?;
        let rules = compliance::rules(store, None, RULES_SHOWN).await?;
        let trend = compliance::trend(store, TREND_DAYS, unix_now()).await?;
        let waiting = crate::exception_requests::waiting(store, None).await?;
        Ok::<_, crate::error::ActionError>((summary, rules, trend, waiting))
    };
    match loaded.await {
        Ok((summary, rules, trend, waiting)) => {
            let more_rules = rules.next_cursor.is_some();
            summary_view(&principal, &summary, &rules.items, more_rules, &trend, waiting).into_response()
        }
        Err(error) => refused(&principal, &ApiError::from(error), "/"),
    }
}

fn summary_view(
    principal: &Principal,
    summary: &Summary,
    rules: &[RuleCompliance],
    more_rules: bool,
    trend: &[TrendPoint],
    waiting: u64,
) -> Markup {
    let t = &summary.totals;
    let body = html! {
        div.page-head {
            h1 { "Compliance" }
            p.lede {
                @if let Some(current) = &summary.current {
                    "What the agents report about the current policy, "
                    a.current-version href={ "/policies/" (current.version) } { "v" (current.version) }
                    @if !current.name.is_empty() { " (" (current.name) ")" }
                    @if let Some(at) = current.published_at { ", published " (utc_text(at)) }
                    "."
                } @else {
                    "No policy has been published yet. " a href="/policies" { "Policies" }
                }
            }
            p.lede { (super::exceptions::waiting_link(waiting, true)) "; " a href=(super::exceptions::PATH) { "the exception queue" } " lists every request and its decision." }
        }
        section.card.compliance-totals aria-label="Endpoints" {
            h2 { "Endpoints" }
            dl.facts {
                dt { "Reporting a policy state" } dd.endpoints { (count_link(t.endpoints, &[])) }
                dt { "On the current version" } dd.on-current { (count_link(t.on_current, &[("version", "current")])) }
                dt { "Behind" } dd.behind { (count_link(t.endpoints.saturating_sub(t.on_current), &[("version", "behind")])) }
                dt { "With violations" } dd.violating { (count_link(t.violating, &[("violating", "true")])) }
                dt { "Holding no policy" } dd { (t.without_policy) }
                dt { "Refused the last bundle" } dd { (t.refusing) }
            }
        }
        section.card.compliance-actions aria-label="Actions" {
            h2 { "Actions by state" }
            dl.facts {
                @for (s, label) in STATES {
                    dt { (label) }
                    dd data-state=(s.word()) { (count_link(count_of(&t.actions, s), &[("state", s.word())])) }
                }
            }
        }
        section.card.table-card aria-label="Rules" {
            h2 { "Rules" }
            @if rules.is_empty() {
                p.empty { "No endpoint reports a broken rule." }
            } @else {
                table.data.compliance-rules {
                    thead {
                        tr {
                            th { "Rule" } th { "Action" } th { "Endpoints" }
                            @for (_, label) in STATES { th { (label) } }
                        }
                    }
                    tbody {
                        @for rule in rules {
                            tr data-rule=(rule.rule_id) {
                                td { code { (rule.rule_id) } }
                                td { (rule.action) }
                                td.num { (count_link(rule.endpoints, &[("rule", rule.rule_id.as_str())])) }
                                @for (s, _) in STATES {
                                    td.num data-state=(s.word()) {
                                        (count_link(count_of(&rule.servers, s), &[("rule", rule.rule_id.as_str()), ("state", s.word())]))
                                    }
                                }
                            }
                        }
                    }
                }
                p.muted { "Per state: servers whose action is in that state; the link lists their endpoints." }
                @if more_rules { p.muted { "The first " (RULES_SHOWN) " rules are listed; " code { "/api/v1/compliance/rules" } " pages through all." } }
            }
        }
        section.card.table-card aria-label="Trend" {
            h2 { "Trend (last 24 hours)" }
            @if trend.is_empty() {
                p.empty { "No trend point yet: the rollup task records one every few minutes." }
            } @else {
                table.data.compliance-trend {
                    thead { tr { th { "Hour (UTC)" } th { "Version" } th { "Endpoints" } th { "On current" } th { "Violating" } th { "Failed" } th { "Pending" } } }
                    tbody {
                        @for p in trend.iter().rev() {
                            tr {
                                td { (utc_text(p.hour)) }
                                td { "v" (p.policy_version) }
                                td.num { (p.endpoints) }
                                td.num { (p.on_current) }
                                td.num { (p.violating) }
                                td.num { (p.actions.failed) }
                                td.num { (p.actions.pending) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page("Compliance", Some(principal), body)
}

async fn endpoints_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (filters, back): (ComplianceParams, _) = match list_params(raw.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let filter = match filters.filter() {
        Ok(filter) => filter,
        Err(error) => return bad_params(&error, &principal),
    };
    let page = match compliance::endpoints(state.cp.store.as_ref(), filter).await {
        Ok(page) => page,
        Err(error) => return refused(&principal, &ApiError::from(error), PATH),
    };
    let state_options: Vec<(&str, &str)> = STATES.iter().map(|(s, label)| (s.word(), *label)).collect();
    let body = html! {
        div.page-head {
            h1 { "Compliance by endpoint" }
            p.lede { a href=(PATH) { "Compliance" } " · endpoints whose agent reported a policy state, by hostname." }
        }
        form.filters method="get" action=(ENDPOINTS_PATH) {
            (select("state", "Action state", filters.state.map(|s| s.as_str()), &state_options))
            (text_input("rule", "Rule", filters.rule.as_deref(), "no-sse"))
            (select("version", "Version", filters.version.map(|v| v.as_str()), &[("current", "Current"), ("behind", "Behind")]))
            (select("violating", "Violations", filters.violating.filter(|v| *v).map(|_| "true"), &[("true", "At least one")]))
            (filter_buttons(ENDPOINTS_PATH))
        }
        @if page.items.is_empty() {
            p.empty { "No endpoint matches these filters." }
        } @else {
            section.card.table-card {
                table.data.compliance-endpoints {
                    thead {
                        tr {
                            th { "Endpoint" } th { "Applied" } th { "Acknowledged" } th { "Violations" }
                            @for (_, label) in STATES { th { (label) } }
                            th { "Evaluated" } th { "Refusal" }
                        }
                    }
                    tbody {
                        @for e in &page.items {
                            tr data-agent=(e.agent_id) {
                                td { (endpoint_link(&e.agent_id, &e.hostname)) }
                                td {
                                    @if e.applied_version == 0 { span.muted { "none" } } @else { "v" (e.applied_version) }
                                    @if !e.on_current { " " span.badge.warn { "behind" } }
                                }
                                td { @if e.acked_version == 0 { span.muted { "none" } } @else { "v" (e.acked_version) } }
                                td.num.violations { (e.violations) }
                                @for (s, _) in STATES { td.num data-state=(s.word()) { (count_of(&e.actions, s)) } }
                                td { (utc_text(e.evaluated_at)) }
                                td { (e.refusal) }
                            }
                        }
                    }
                }
            }
        }
        (pager(ENDPOINTS_PATH, &filters.filters(), filters.cursor.as_deref(), &back, page.next_cursor.as_deref()))
    };
    layout::page_in("Compliance by endpoint", "Compliance", Some(&principal), html! {}, body).into_response()
}

/// One endpoint's policy state for its endpoint page: None when its agent never reported one.
pub fn endpoint_section(view: Option<&EndpointView>) -> Markup {
    html! {
        section.card.endpoint-policy aria-label="Policy" {
            h2 { "Policy" }
            @match view {
                None => { p.empty { "This endpoint's agent has reported no policy state." } }
                Some(view) => {
                    @let e = &view.compliance.endpoint;
                    dl.facts {
                        dt { "Applied version" }
                        dd.applied-version {
                            @if e.applied_version == 0 { "none" } @else { a href={ "/policies/" (e.applied_version) } { "v" (e.applied_version) } }
                            @if e.on_current { " " span.badge.ok { "current" } } @else { " " span.badge.warn { "behind v" (view.current_version) } }
                        }
                        dt { "Acknowledged version" } dd { "v" (e.acked_version) }
                        dt { "Violations" } dd.violations { (e.violations) }
                        dt { "Evaluated" } dd { (utc_text(e.evaluated_at)) }
                        @if !e.refusal.is_empty() { dt { "Refused the last bundle" } dd.refusal { (e.refusal) } }
                        @if e.data_version != 0 { dt { "Data bundle in use" } dd.data-version { (e.data_version) } }
                        @if e.data_refused_version != 0 {
                            dt { "Refused data bundle" }
                            dd.data-refusal { (e.data_refused_version) ": " (e.data_refusal) }
                        }
                    }
                    @if view.compliance.actions.is_empty() {
                        p.empty { "No rule is broken here." }
                    } @else {
                        table.data.policy-actions {
                            thead { tr { th { "Server" } th { "Client" } th { "Rule" } th { "Action" } th { "State" } th { "Detail" } th { "Due" } } }
                            tbody {
                                @for a in &view.compliance.actions {
                                    tr data-rule=(a.rule_id) data-server=(a.server_id) {
                                        td { @if a.server_name.is_empty() { code { (a.server_id) } } @else { (a.server_name) } }
                                        td { (a.client) }
                                        td { a href=(endpoints_link(&[("rule", a.rule_id.as_str())])) { code { (a.rule_id) } } }
                                        td { (a.action) }
                                        td { (state_badge(a.action_state)) }
                                        td.detail { (a.detail) }
                                        td { @if let Some(at) = a.due_at { (utc_text(at)) } @else { "now" } }
                                    }
                                }
                            }
                        }
                        @if view.compliance.truncated { p.muted { "The first actions are listed; the API has the same list." } }
                    }
                }
            }
        }
    }
}
