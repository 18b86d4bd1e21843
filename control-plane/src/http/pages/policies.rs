//! The policy pages (analyst): the editor, where a policy text is checked and dry-run against the
//! stored fleet (problems shown with their line and column beside the text, the result by
//! rule with the servers each rule hits), and the draft from observation, whose text opens in
//! the editor. Both call the use-cases of [`crate::policy_preview`], as the JSON API and the CLI
//! do; neither page writes anything.

use axum::Extension;
use axum::extract::{Form, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::{Markup, html};
use serde::Deserialize;

use super::components::bad_params;
use super::layout;
use super::ops::{csrf_field, refused};
use crate::error::ApiError;
use crate::http::params::{self, NoParams};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::policy_preview::draft::{self, Draft, LaunchKind};
use crate::policy_preview::dry_run::{self, DryRun, DryRunError};
use crate::state::unix_now;
use crate::store::Role;

pub const EDITOR_PATH: &str = "/policies/edit";
pub const DRAFT_PATH: &str = "/policies/draft";
/// Where the editor's publish button posts (admins only; `policy_versions`).
pub const PUBLISH_PATH: &str = "/policies/publish";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, EDITOR_PATH, Access::Role(Role::Analyst), editor_page),
        Route::new(Method::POST, EDITOR_PATH, Access::Role(Role::Analyst), dry_run_form),
        Route::new(Method::GET, DRAFT_PATH, Access::Role(Role::Analyst), draft_page),
    ]
}

/// What a new policy starts from.
const TEMPLATE: &str = "version = 1\nname = \"acme\"\n\n[[rule]]\nid = \"no-sse\"\ntitle = \"The SSE transport is \
                        being retired\"\naction = \"notify\"\n[rule.match]\ntransport = [\"sse\"]\n";

async fn editor_page(Extension(principal): Extension<Principal>, RawQuery(query): RawQuery) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return bad_params(&error, &principal);
    }
    editor(&principal, TEMPLATE, &[], None).into_response()
}

#[derive(Debug, Deserialize)]
struct PolicyForm {
    policy: String,
}

/// One problem of a refused policy, for the page.
pub(crate) struct Problem {
    line: usize,
    column: usize,
    message: String,
}

/// The problems of a refused policy, in file order.
pub(crate) fn problems(error: &muster_policy::PolicyError) -> Vec<Problem> {
    error.diagnostics.iter().map(|d| Problem { line: d.line, column: d.column, message: d.message.clone() }).collect()
}

async fn dry_run_form(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<PolicyForm>,
) -> Response {
    match dry_run::dry_run(state.cp.store.as_ref(), &form.policy, unix_now()).await {
        Ok(run) => editor(&principal, &form.policy, &[], Some(&run)).into_response(),
        Err(DryRunError::Invalid(e)) => {
            let page = editor(&principal, &form.policy, &problems(&e), None);
            (http::StatusCode::BAD_REQUEST, page).into_response()
        }
        Err(error) => refused(&principal, &ApiError::from(error), EDITOR_PATH),
    }
}

/// The editor: the text with its line numbers and problems beside it, and the dry run's result.
pub(crate) fn editor(principal: &Principal, text: &str, problems: &[Problem], run: Option<&DryRun>) -> Markup {
    let body = html! {
        div.page-head {
            h1 { "Policy editor" }
            p.lede {
                "Write a policy (" code { "docs/policies.md" } " describes the language) and dry-run it: "
                "it is evaluated against every endpoint's stored inventory exactly as the agents would evaluate it. "
                "Nothing is published from here. "
                a href=(DRAFT_PATH) { "Draft an allowlist from what the fleet runs" }
            }
        }
        div.policy-editor {
            form.policy-form method="post" action=(EDITOR_PATH) {
                (csrf_field(principal))
                label.field {
                    span { "Policy (TOML)" }
                    textarea.policy-text name="policy" rows="28" cols="90" spellcheck="false" { (text) }
                }
                button type="submit" name="action" value="dry-run" { "Check and dry-run" }
                @if principal.role >= Role::Admin {
                    div.publish {
                        label.field { span { "Why (kept in the history)" } input type="text" name="reason" maxlength="500"; }
                        button.danger type="submit" formaction=(PUBLISH_PATH) { "Publish" }
                    }
                }
            }
            @if !problems.is_empty() {
                section.card.policy-problems aria-label="Problems" {
                    h2 { "Refused: " (problems.len()) " problem(s)" }
                    ol.problems {
                        @for p in problems {
                            li.problem data-line=(p.line) data-column=(p.column) {
                                span.place { "line " (p.line) ", column " (p.column) }
                                " " span.message { (p.message) }
                                @if let Some(source) = text.lines().nth(p.line.saturating_sub(1)) {
                                    pre.source-line { code { (p.line) ": " (source) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(run) = run { (dry_run_result(run)) }
    };
    layout::page_in("Policy editor", "Policies", Some(principal), html! {}, body)
}

fn dry_run_result(run: &DryRun) -> Markup {
    html! {
        section.card.dry-run aria-label="Dry run" {
            h2 { "Dry run" }
            p.summary {
                "This version would affect "
                strong.affected-endpoints { (run.affected.endpoints) } " endpoint(s), "
                strong.affected-servers { (run.affected.servers) } " server(s), "
                strong.affected-users { (run.affected.users) } " user(s)"
                " of " (run.evaluated.endpoints) " endpoint(s) and " (run.evaluated.servers) " server(s), evaluated at " (run.evaluated_at) "."
                @if run.excepted_servers > 0 { " " (run.excepted_servers) " server(s) are lifted by exceptions." }
            }
            @for rule in &run.rules {
                div.rule-impact data-rule=(rule.rule) {
                    h3 { code { (rule.rule) } " " span.badge.neutral { (rule.action) } " " (rule.title) }
                    p {
                        (rule.affected.endpoints) " endpoint(s), " (rule.affected.servers) " server(s), " (rule.affected.users) " user(s); "
                        (rule.due_now) " now, " (rule.due_later) " after the grace period, " (rule.excepted) " excepted"
                    }
                    @if !rule.hits.is_empty() {
                        table.data.hits {
                            thead { tr { th { "Endpoint" } th { "Client" } th { "Server" } th { "User" } th { "When" } } }
                            tbody {
                                @for hit in &rule.hits {
                                    tr {
                                        td { a href={ "/endpoints/" (hit.agent_id) } { (hit.hostname) } }
                                        td { (hit.client) }
                                        td { (hit.server) }
                                        td { (hit.user) }
                                        td {
                                            @match (&hit.exception, &hit.due_at) {
                                                (Some(x), _) => { "excepted by " code { (x) } }
                                                (None, Some(at)) => { "due " (at) }
                                                (None, None) => { "now" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if rule.truncated { p.muted { "The first " (dry_run::MAX_HITS) " servers are listed; the counts cover all." } }
                    }
                }
            }
        }
    }
}

async fn draft_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return bad_params(&error, &principal);
    }
    match draft::draft(state.cp.store.as_ref(), unix_now()).await {
        Ok(draft) => draft_view(&principal, &draft).into_response(),
        Err(error) => refused(&principal, &ApiError::from(error), EDITOR_PATH),
    }
}

fn draft_view(principal: &Principal, draft: &Draft) -> Markup {
    let body = html! {
        div.page-head {
            h1 { "Draft from observation" }
            p.lede {
                "Allow what " (draft.endpoints) " endpoint(s) run today (" (draft.servers) " server(s)), block the rest. "
                "Open it in the editor to dry-run it, tighten it, then publish."
            }
        }
        form.policy-form method="post" action=(EDITOR_PATH) {
            (csrf_field(principal))
            textarea.policy-text name="policy" rows="20" cols="90" spellcheck="false" readonly { (draft.policy) }
            button type="submit" { "Dry-run this draft in the editor" }
        }
        @if draft.uncovered_servers > 0 {
            p.muted { (draft.uncovered_servers) " server(s) reported no transport and are covered by neither rule." }
        }
        section.card.table-card {
            table.data.observed {
                thead { tr { th { "Kind" } th { "Package" } th { "Service" } th { "Launch" } th { "Endpoints" } th { "Servers" } } }
                tbody {
                    @for g in &draft.groups {
                        tr {
                            td { @if g.kind == LaunchKind::Command { "command" } @else { "remote" } }
                            td { @if !g.package.is_empty() { (g.ecosystem) " " (g.package) } }
                            td { (g.service) }
                            td { code { (g.launch) } }
                            td.num { (g.endpoints) }
                            td.num { (g.servers) }
                        }
                    }
                }
            }
        }
    };
    layout::page_in("Draft from observation", "Policies", Some(principal), html! {}, body)
}
