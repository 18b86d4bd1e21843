//! The findings page: every finding of the fleet, most severe first, filtered by severity, OWASP
//! id, rule, host, text, service, client, user and decision state (every text filter ignores
//! case), with keyset pages; each row names its fix from the findings catalog and links to the
//! finding's own page (`/findings/detail?key=...`: what, where, why it matters, how to fix, and
//! the history of decisions from the audit log). Analysts get the acknowledge / waive (reason
//! and expiry) / clear forms, which POST to `/findings/decision` and come back with a 303 to the
//! page they were sent from (a local path only).
//!
//! Decisions go through the [`crate::findings::decide`] use-case, shared with the JSON API.

use axum::Extension;
use axum::extract::{Form, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::{Markup, html};
use serde::Deserialize;

use muster_proto::v1::Severity;

use super::components::{
    bad_params, endpoint_link, error_page, filter_buttons, link, list_params, pager, select, severity_badge,
    severity_name, store_error, text_input, utc_text, word_options,
};
use super::layout;
use super::ops::{audited, csrf_field, end_of_day, local_or, refused, see_other, utc_or_never};
use crate::error::{ApiError, ErrorCode};
use crate::findings::{DecisionAction, decide, decision_audit};
use crate::http::exports::FINDINGS_OCSF_PATH;
use crate::http::params::{FindingParams, Word};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::read::{DecisionKind, FindingKey, FindingQuery, FindingView};

pub const PATH: &str = "/findings";
pub const DECISION_PATH: &str = "/findings/decision";
pub const DETAIL_PATH: &str = "/findings/detail";

/// Most decisions shown on a finding's page.
const HISTORY_LIMIT: u32 = 100;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, PATH, Access::Role(Role::Viewer), findings_page),
        Route::new(Method::GET, DETAIL_PATH, Access::Role(Role::Viewer), detail_page),
        Route::new(Method::POST, DECISION_PATH, Access::Role(Role::Analyst), decision),
    ]
}

/// The `data-finding` key of a row: agent, server (may be empty) and finding id, then the
/// subject when there is one (host-wide and advisory findings). The same text is the target of
/// the finding's decisions in the audit log and the `key` of its page.
pub fn row_key(finding: &FindingView) -> String {
    key_text(&finding.key)
}

fn key_text(key: &FindingKey) -> String {
    if key.subject.is_empty() {
        format!("{}/{}/{}", key.agent_id, key.server_id, key.finding_id)
    } else {
        format!("{}/{}/{}/{}", key.agent_id, key.server_id, key.finding_id, key.subject)
    }
}

/// [`key_text`] read back; None when agent or finding id is missing.
fn parse_key(text: &str) -> Option<FindingKey> {
    let mut parts = text.splitn(4, '/');
    let agent_id = parts.next().filter(|p| !p.is_empty())?.to_string();
    let server_id = parts.next()?.to_string();
    let finding_id = parts.next().filter(|p| !p.is_empty())?.to_string();
    let subject = parts.next().unwrap_or("").to_string();
    Some(FindingKey { agent_id, server_id, finding_id, subject })
}

/// The link to a finding's own page.
pub fn detail_href(finding: &FindingView) -> String {
    link(DETAIL_PATH, &[("key", row_key(finding))])
}

async fn findings_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    uri: http::Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let (filters, back): (FindingParams, _) = match list_params(raw.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let query = match filters.query(unix_now()) {
        Ok(query) => query,
        Err(error) => return refused(&principal, &error.into(), PATH),
    };
    let page = match state.cp.store.findings(&query).await {
        Ok(page) => page,
        Err(error) => return refused(&principal, &ApiError::from(error), PATH),
    };
    let here = uri.path_and_query().map_or(PATH.to_string(), |p| p.as_str().to_string());
    let analyst = principal.role >= Role::Analyst;
    let body = html! {
        div.page-head {
            h1 { "Findings" }
            p.lede {
                "Configuration and supply-chain findings reported by the agents, most severe first. "
                a.download href=(FINDINGS_OCSF_PATH) download="" { "Download all as OCSF (JSON lines)" }
            }
        }
        (filter_form(&filters))
        @if page.items.is_empty() {
            p.empty { "No findings match these filters." }
        } @else {
            section.card.table-card {
                table.data.findings {
                    thead {
                        tr {
                            th { "Severity" }
                            th { "Finding and fix" }
                            th { "Where" }
                            th { "OWASP" }
                            th { "State" }
                            @if analyst { th { "Decision" } }
                        }
                    }
                    tbody {
                        @for finding in &page.items {
                            (finding_row(finding, &principal, analyst, &here))
                        }
                    }
                }
            }
        }
        (pager(PATH, &filters.filters(), filters.cursor.as_deref(), &back, page.next_cursor.as_deref()))
    };
    layout::page("Findings", Some(&principal), body).into_response()
}

fn filter_form(filters: &FindingParams) -> Markup {
    let severities = word_options::<Severity>(severity_name);
    let states = [("open", "Open"), ("acknowledged", "Acknowledged"), ("waived", "Waived")];
    html! {
        form.filters method="get" action=(PATH) {
            (select("severity", "Severity at least", filters.severity.map(Word::as_str), &severities))
            (text_input("q", "Text", filters.q.as_deref(), "token, server, host"))
            (text_input("host", "Host", filters.host.as_deref(), "laptop"))
            (text_input("rule", "Rule", filters.rule.as_deref(), "MUSTER-SECRET-ENV"))
            (text_input("owasp", "OWASP id", filters.owasp.as_deref(), "MCP01"))
            (text_input("service", "Service", filters.service.as_deref(), "github"))
            (text_input("client", "Client", filters.client.as_deref(), "cursor"))
            (text_input("user", "User", filters.user.as_deref(), ""))
            (select("state", "State", filters.state.map(|s| s.as_str()), &states))
            @if let Some(agent) = filters.agent.as_deref().filter(|a| !a.is_empty()) {
                input type="hidden" name="agent" value=(agent);
            }
            (filter_buttons(PATH))
        }
    }
}

/// The findings list filtered by one name of a finding.
fn filtered(name: &'static str, value: &str) -> String {
    super::components::link("/findings", &[(name, value.to_string())])
}

fn finding_row(finding: &FindingView, principal: &Principal, analyst: bool, here: &str) -> Markup {
    let decision = finding.decision.as_ref().filter(|d| d.active);
    html! {
        tr data-finding=(row_key(finding)) {
            td { (severity_badge(finding.severity)) }
            td.finding {
                a.finding-link href=(detail_href(finding)) {
                    @if finding.title.is_empty() { (finding.key.finding_id) } @else { (finding.title) }
                }
                div { span.finding-id { (finding.key.finding_id) } }
                div.message { (finding.message) }
                @if !finding.advisory.is_empty() { div.advisory { (finding.advisory) } }
                @if !finding.remediation.is_empty() {
                    div.remediation { span.label { "Fix: " } (finding.remediation) }
                }
            }
            td.where {
                (endpoint_link(&finding.key.agent_id, &finding.hostname))
                @if !finding.server_name.is_empty() {
                    div.server-name {
                        a href=(super::server_list::server_on_endpoint(&finding.key.agent_id, &finding.key.server_id)) {
                            (finding.server_name)
                        }
                    }
                }
                div.muted-line {
                    @if !finding.client.is_empty() { a href=(filtered("client", &finding.client)) { (finding.client) } }
                    @if !finding.user.is_empty() { " · " a href=(filtered("user", &finding.user)) { (finding.user) } }
                    @if !finding.service.is_empty() { " · " a href=(filtered("service", &finding.service)) { (finding.service) } }
                }
            }
            td { @if !finding.owasp.is_empty() { a href=(filtered("owasp", &finding.owasp)) { (finding.owasp) } } }
            td { (state_cell(decision)) }
            @if analyst {
                td.actions { (decision_forms(finding, decision.is_some(), principal, here)) }
            }
        }
    }
}

fn state_cell(decision: Option<&crate::store::read::FindingDecision>) -> Markup {
    html! {
        @match decision {
            Some(d) => {
                span class={ "badge state-" (d.kind.as_str()) } { (d.kind.as_str()) }
                div.decision-note {
                    "by " (d.decided_by) " · " (utc_text(d.decided_at))
                    @if d.kind == DecisionKind::Waived || d.expires_at.is_some() { " · until " (utc_or_never(d.expires_at)) }
                }
                @if !d.reason.is_empty() { div.reason { (d.reason) } }
            }
            None => { span.badge.neutral.state-open { "open" } }
        }
    }
}

fn decision_forms(finding: &FindingView, decided: bool, principal: &Principal, here: &str) -> Markup {
    html! {
        form.decide method="post" action=(DECISION_PATH) {
            (key_fields(finding, principal, here))
            button type="submit" name="action" value="acknowledge" { "Acknowledge" }
        }
        // Folded until asked for (no script: a disclosure element), so rows stay one line high.
        details.waive-details {
            summary { "Waive…" }
            form.waive method="post" action=(DECISION_PATH) {
                (key_fields(finding, principal, here))
                input type="text" name="reason" placeholder="Reason" required maxlength="500" aria-label="Waiver reason";
                input type="date" name="expires" required aria-label="Waived until";
                button type="submit" name="action" value="waive" { "Waive" }
            }
        }
        @if decided {
            form.clear method="post" action=(DECISION_PATH) {
                (key_fields(finding, principal, here))
                button.secondary type="submit" name="action" value="clear" { "Clear" }
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetailParams {
    /// The finding's key, as [`row_key`] writes it.
    key: String,
}

/// One finding: what, where (endpoint, server, config file), why it matters (severity and the
/// OWASP MCP category), how to fix it (the catalog's remediation), its decision with the forms,
/// and the decisions taken on it so far (the audit log's rows about it).
async fn detail_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    uri: http::Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    let params: DetailParams = match crate::http::params::parse(raw.as_deref()) {
        Ok(params) => params,
        Err(error) => return bad_params(&error, &principal),
    };
    let Some(key) = parse_key(&params.key) else {
        return error_page(http::StatusCode::BAD_REQUEST, "key: expected AGENT/SERVER/FINDING[/SUBJECT]", &principal);
    };
    let now = unix_now();
    let query = FindingQuery {
        agent_id: Some(key.agent_id.clone()),
        server_id: Some(key.server_id.clone()),
        finding_id: Some(key.finding_id.clone()),
        subject: Some(key.subject.clone()),
        now,
        limit: 1,
        ..FindingQuery::default()
    };
    let finding = match state.cp.store.findings(&query).await {
        Ok(page) => page.items.into_iter().next(),
        Err(error) => return store_error(error, &principal),
    };
    let Some(finding) = finding else {
        return error_page(
            http::StatusCode::NOT_FOUND,
            "no such finding: it may have been resolved by a later report",
            &principal,
        );
    };
    let history = match state.cp.store.audit_of_target("finding.", &key_text(&key), HISTORY_LIMIT).await {
        Ok(rows) => rows,
        Err(error) => return store_error(error, &principal),
    };
    let here = uri.path_and_query().map_or(DETAIL_PATH.to_string(), |p| p.as_str().to_string());
    let decision = finding.decision.as_ref().filter(|d| d.active);
    let title = if finding.title.is_empty() { finding.key.finding_id.clone() } else { finding.title.clone() };
    let owasp_name = crate::finding_catalog::owasp_name(&finding.owasp);
    let body = html! {
        div.page-head {
            p.crumbs { a href=(PATH) { "Findings" } " / " (finding.key.finding_id) }
            h1 { (title) }
            p.lede { (severity_badge(finding.severity)) " " span.finding-id { (finding.key.finding_id) } " on " (endpoint_link(&finding.key.agent_id, &finding.hostname)) }
        }
        div.detail-grid {
            section.card.what {
                h2 { "What" }
                p.message { (finding.message) }
                @if !finding.advisory.is_empty() { p.advisory { "Advisory " (finding.advisory) } }
            }
            section.card.where {
                h2 { "Where" }
                dl.facts {
                    dt { "Endpoint" } dd { (endpoint_link(&finding.key.agent_id, &finding.hostname)) }
                    dt { "Server" } dd { @if finding.server_name.is_empty() { span.muted { "the client as a whole" } } @else { (finding.server_name) } }
                    dt { "Config file" } dd { @if finding.config_path.is_empty() { span.muted { "—" } } @else { code.config-path { (finding.config_path) } } }
                    dt { "Client" } dd { (finding.client) }
                    dt { "User" } dd { (finding.user) }
                    @if !finding.service.is_empty() { dt { "Service" } dd { (finding.service) } }
                }
            }
            section.card.why {
                h2 { "Why it matters" }
                p {
                    (severity_badge(finding.severity)) " "
                    @if finding.owasp.is_empty() { "No OWASP MCP Top 10 category." } @else {
                        a.owasp href=(link(PATH, &[("owasp", finding.owasp.clone())])) { "OWASP " (finding.owasp) }
                        @if !owasp_name.is_empty() { ": " (owasp_name) }
                    }
                }
            }
            section.card.fix {
                h2 { "How to fix" }
                @if finding.remediation.is_empty() {
                    p.muted { "This server's findings catalog has no entry for " (finding.key.finding_id) "." }
                } @else {
                    p.remediation { (finding.remediation) }
                }
            }
        }
        section.card.decisions {
            h2 { "Decision" }
            p { (state_cell(decision)) }
            @if principal.role >= Role::Analyst {
                div.actions.detail-actions { (decision_forms(&finding, decision.is_some(), &principal, &here)) }
            }
            h3 { "History" }
            @if history.is_empty() {
                p.empty { "No decision has been taken on this finding." }
            } @else {
                table.data.history {
                    thead { tr { th { "When" } th { "Who" } th { "Decision" } th { "Outcome" } th { "Detail" } } }
                    tbody {
                        @for record in &history {
                            tr {
                                td { (utc_text(record.entry.at)) }
                                td { (record.entry.actor) }
                                td { (record.entry.action.trim_start_matches("finding.")) }
                                td { (record.entry.outcome.as_str()) }
                                td.detail { (record.entry.detail) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(&title, Some(&principal), body).into_response()
}

fn key_fields(finding: &FindingView, principal: &Principal, here: &str) -> Markup {
    html! {
        (csrf_field(principal))
        input type="hidden" name="agent_id" value=(finding.key.agent_id);
        input type="hidden" name="server_id" value=(finding.key.server_id);
        input type="hidden" name="finding_id" value=(finding.key.finding_id);
        @if !finding.key.subject.is_empty() {
            input type="hidden" name="subject" value=(finding.key.subject);
        }
        input type="hidden" name="next" value=(here);
    }
}

#[derive(Deserialize)]
struct DecisionForm {
    agent_id: String,
    #[serde(default)]
    server_id: String,
    finding_id: String,
    /// See [`crate::store::read::FindingKey::subject`].
    #[serde(default)]
    subject: String,
    action: String,
    #[serde(default)]
    reason: String,
    /// `YYYY-MM-DD`: the decision holds through that day (UTC).
    #[serde(default)]
    expires: String,
    next: Option<String>,
}

async fn decision(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let back = local_or(form.next.as_deref(), PATH);
    let Some(action) = DecisionAction::parse(&form.action) else {
        let error = ApiError::new(ErrorCode::InvalidArgument, "unknown action");
        return refused(&principal, &error, &back);
    };
    let expires_at = match form.expires.trim() {
        "" => None,
        date => match end_of_day(date) {
            Some(at) => Some(at),
            None => {
                let error = ApiError::new(ErrorCode::InvalidArgument, "expiry: expected a date (YYYY-MM-DD)");
                return refused(&principal, &error, &back);
            }
        },
    };
    let key = FindingKey {
        agent_id: form.agent_id,
        server_id: form.server_id,
        finding_id: form.finding_id,
        subject: form.subject,
    };
    match decide(state.cp.store.as_ref(), &principal.name, &key, action, &form.reason, expires_at, unix_now()).await {
        Ok(detail) => audited(see_other(&back), detail),
        Err(error) => {
            let error = ApiError::from(error);
            let mut response = refused(&principal, &error, &back);
            response.extensions_mut().insert(decision_audit(&key, action).detail(&error.message));
            response
        }
    }
}
