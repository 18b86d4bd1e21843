//! The findings page: every finding of the fleet, most severe first, filtered by severity, OWASP
//! id, service, client, user and decision state, with keyset pages. Analysts get per row the
//! acknowledge / waive (reason and expiry) / clear forms, which POST to `/findings/decision` and
//! come back with a 303 to the page they were sent from (a local path only).
//!
//! The decision rules are [`crate::http::fleet_api::decide`], shared with the JSON API.

use axum::Extension;
use axum::extract::{Form, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::{Markup, html};
use serde::Deserialize;

use muster_proto::v1::Severity;

use super::components::{
    endpoint_link, filter_buttons, list_params, pager, select, severity_badge, severity_name, text_input, utc_text,
    word_options,
};
use super::layout;
use super::ops::{audited, csrf_field, end_of_day, local_or, refused, see_other, utc_or_never};
use crate::error::{ApiError, ErrorCode};
use crate::export::routes::FINDINGS_OCSF_PATH;
use crate::http::auth::Principal;
use crate::http::fleet_api::{DecisionAction, decide, decision_audit};
use crate::http::params::{FindingParams, Word};
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::read::{DecisionKind, FindingView};

pub const PATH: &str = "/findings";
pub const DECISION_PATH: &str = "/findings/decision";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, PATH, Access::Role(Role::Viewer), findings_page),
        Route::new(Method::POST, DECISION_PATH, Access::Role(Role::Analyst), decision),
    ]
}

/// The `data-finding` key of a row: agent, server (may be empty) and finding id, then the
/// subject when there is one (host-wide and advisory findings).
pub fn row_key(finding: &FindingView) -> String {
    let key = &finding.key;
    if key.subject.is_empty() {
        format!("{}/{}/{}", key.agent_id, key.server_id, key.finding_id)
    } else {
        format!("{}/{}/{}/{}", key.agent_id, key.server_id, key.finding_id, key.subject)
    }
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
                            th { "Finding" }
                            th { "Endpoint" }
                            th { "Service" }
                            th { "Client" }
                            th { "User" }
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

fn finding_row(finding: &FindingView, principal: &Principal, analyst: bool, here: &str) -> Markup {
    let decision = finding.decision.as_ref().filter(|d| d.active);
    html! {
        tr data-finding=(row_key(finding)) {
            td { (severity_badge(finding.severity)) }
            td {
                span.finding-id { (finding.key.finding_id) }
                div.message { (finding.message) }
                @if !finding.advisory.is_empty() { div.advisory { (finding.advisory) } }
            }
            td { (endpoint_link(&finding.key.agent_id, &finding.hostname)) }
            td { (finding.service) }
            td { (finding.client) }
            td { (finding.user) }
            td { (finding.owasp) }
            td {
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
            @if analyst {
                td.actions {
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
                    @if decision.is_some() {
                        form.clear method="post" action=(DECISION_PATH) {
                            (key_fields(finding, principal, here))
                            button.secondary type="submit" name="action" value="clear" { "Clear" }
                        }
                    }
                }
            }
        }
    }
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
    let key = crate::store::read::FindingKey {
        agent_id: form.agent_id,
        server_id: form.server_id,
        finding_id: form.finding_id,
        subject: form.subject,
    };
    match decide(&state, &principal.name, &key, action, &form.reason, expires_at).await {
        Ok(detail) => audited(see_other(&back), detail),
        Err(error) => {
            let mut response = refused(&principal, &error, &back);
            response.extensions_mut().insert(decision_audit(&key, action).detail(&error.message));
            response
        }
    }
}
