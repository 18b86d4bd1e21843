//! The policy version pages: the history (`/policies`, viewer), one version (`/policies/{version}`:
//! who wrote it, when and why, its text, what changed since the version before as a line diff,
//! and for admins a roll-back form), and the two admin forms, publish (from the editor) and roll
//! back. Writes go through the policies use-cases ([`crate::policies::publish`],
//! [`crate::policies::rollback`]) that `/api/v1/policies` and `muster-server policy apply` call;
//! a viewer or analyst sees no publish or roll-back control, and the route table refuses their
//! POSTs whatever the page shows.

use axum::Extension;
use axum::extract::{Form, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::{Markup, html};
use serde::Deserialize;

use super::components::{bad_params, utc_text};
use super::layout;
use super::ops::{audited, csrf_field, done, refused};
use super::policies::{EDITOR_PATH, PUBLISH_PATH, editor, problems};
use crate::error::ApiError;
use crate::http::params::{self, NoParams, PolicyHistoryParams};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::policies;
use crate::state::unix_now;
use crate::store::Role;
use crate::store::policies::PolicyVersionRecord;

pub const LIST_PATH: &str = "/policies";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, LIST_PATH, Access::Role(Role::Viewer), list_page),
        Route::new(Method::POST, PUBLISH_PATH, Access::Role(Role::Admin), publish_form),
        Route::new(Method::GET, "/policies/{version}", Access::Role(Role::Viewer), version_page),
        Route::new(Method::POST, "/policies/{version}/rollback", Access::Role(Role::Admin), rollback_form),
    ]
}

fn version_path(version: u64) -> String {
    format!("/policies/{version}")
}

async fn list_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    let params: PolicyHistoryParams = match params::parse(query.as_deref()) {
        Ok(p) => p,
        Err(error) => return bad_params(&error, &principal),
    };
    let (before, limit) = match params.query() {
        Ok(q) => q,
        Err(error) => return bad_params(&error, &principal),
    };
    let store = state.cp.store.as_ref();
    let (history, current) = match (policies::history(store, before, limit).await, policies::current(store).await) {
        (Ok(h), Ok(c)) => (h, c),
        (Err(e), _) | (_, Err(e)) => return refused(&principal, &ApiError::from(e), "/"),
    };
    let current = current.map(|c| c.version);
    let next = (history.len() == limit as usize)
        .then(|| {
            history
                .last()
                .map(|v| crate::store::read::Cursor { key: v.version.to_string(), id: String::new() }.encode())
        })
        .flatten();
    let body = html! {
        div.page-head {
            h1 { "Policies" }
            p.lede {
                "Every version of the fleet's remediation policy, newest first: who published it, when and why. "
                "Agents hold the current version; " a href=(super::compliance::PATH) { "Compliance" } " shows who applied it. "
                @if principal.role >= Role::Analyst { a href=(EDITOR_PATH) { "Write a new version" } }
            }
        }
        @if history.is_empty() {
            p.empty { "No policy published yet." }
        } @else {
            section.card.table-card {
                table.data.policy-versions {
                    thead { tr { th { "Version" } th { "Name" } th { "Published" } th { "By" } th { "Why" } th {} } }
                    tbody {
                        @for v in &history {
                            tr data-version=(v.version) {
                                td { a href=(version_path(v.version)) { "v" (v.version) } }
                                td { (v.name) }
                                td { @if let Some(at) = v.published_at { (utc_text(at)) } @else { "draft" } }
                                td { (v.author) }
                                td {
                                    (v.reason)
                                    @if let Some(from) = v.rollback_of { " " span.muted { "(roll-back to v" (from) ")" } }
                                }
                                td { @if current == Some(v.version) { span.badge.ok.policy-current { "current" } } }
                            }
                        }
                    }
                }
            }
            @if let Some(cursor) = next {
                p { a rel="next" href={ (LIST_PATH) "?cursor=" (cursor) } { "Older versions" } }
            }
        }
    };
    layout::page("Policies", Some(&principal), body).into_response()
}

async fn version_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(version): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return bad_params(&error, &principal);
    }
    let store = state.cp.store.as_ref();
    let Ok(number) = version.parse::<u64>() else {
        let error = ApiError::new(crate::error::ErrorCode::NotFound, "no such policy version");
        return refused(&principal, &error, LIST_PATH);
    };
    let record = match policies::version(store, number).await {
        Ok(r) => r,
        Err(e) => return refused(&principal, &ApiError::from(e), LIST_PATH),
    };
    // The version before it, for "what changed" (none for the first).
    let previous = match number.checked_sub(1).filter(|p| *p > 0) {
        Some(p) => policies::version(store, p).await.ok(),
        None => None,
    };
    let current = match policies::current(store).await {
        Ok(c) => c.map(|c| c.version),
        Err(e) => return refused(&principal, &ApiError::from(e), LIST_PATH),
    };
    version_view(&principal, &record, previous.as_ref(), current).into_response()
}

fn version_view(
    principal: &Principal,
    v: &PolicyVersionRecord,
    previous: Option<&PolicyVersionRecord>,
    current: Option<u64>,
) -> Markup {
    let title = format!("Policy v{}", v.version);
    let body = html! {
        div.page-head {
            h1 { (title) @if current == Some(v.version) { " " span.badge.ok.policy-current { "current" } } }
            p.lede {
                a href=(LIST_PATH) { "All versions" } " · "
                @if current == Some(v.version) {
                    a.compliance-link href=(super::compliance::PATH) { "Compliance with this version" } " · "
                    a href={ (super::compliance::ENDPOINTS_PATH) "?version=behind" } { "Endpoints not on it yet" }
                } @else {
                    a.compliance-link href=(super::compliance::PATH) { "Compliance with the current version" }
                }
            }
        }
        section.card {
            dl.facts {
                dt { "Name" } dd { (v.name) }
                dt { "Published" } dd { @if let Some(at) = v.published_at { (utc_text(at)) } @else { "draft" } }
                dt { "By" } dd.policy-author { (v.author) }
                dt { "Why" } dd.policy-reason { (v.reason) }
                @if let Some(from) = v.rollback_of { dt { "Roll-back to" } dd { a href=(version_path(from)) { "v" (from) } } }
                dt { "Digest" } dd { code { (v.digest) } }
            }
        }
        section.card {
            h2 { @if let Some(p) = previous { "What changed since " a href=(version_path(p.version)) { "v" (p.version) } } @else { "First version" } }
            @if let Some(p) = previous {
                (text_diff(&p.source_text, &v.source_text))
            }
        }
        section.card {
            h2 { "Text" }
            pre.policy-source { code { (v.source_text) } }
        }
        @if principal.role >= Role::Admin && current != Some(v.version) {
            section.card.rollback {
                h2 { "Roll back to this version" }
                p { "Publishes this text again as a new version; agents receive it at once." }
                form method="post" action={ (version_path(v.version)) "/rollback" } {
                    (csrf_field(principal))
                    label.field { span { "Why" } input type="text" name="reason" required maxlength="500"; }
                    button.danger type="submit" { "Roll back" }
                }
            }
        }
    };
    layout::page_in(&title, "Policies", Some(principal), html! {}, body)
}

/// A line diff of two texts (`-` removed, `+` added, unchanged lines around changes), as HTML.
pub fn text_diff(old: &str, new: &str) -> Markup {
    let diff = similar::TextDiff::from_lines(old, new);
    html! {
        @if old == new {
            p.muted { "The same text." }
        } @else {
            pre.policy-diff {
                @for group in diff.grouped_ops(3) {
                    @for op in group {
                        @for change in diff.iter_changes(&op) {
                            @match change.tag() {
                                similar::ChangeTag::Delete => { span.removed { "- " (change.value()) } }
                                similar::ChangeTag::Insert => { span.added { "+ " (change.value()) } }
                                similar::ChangeTag::Equal => { span { "  " (change.value()) } }
                            }
                        }
                    }
                    span.muted { "…\n" }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct PublishForm {
    policy: String,
    #[serde(default)]
    reason: String,
}

async fn publish_form(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<PublishForm>,
) -> Response {
    // A refused text goes back to the editor with every problem beside it; nothing is stored.
    if let Err(e) = muster_policy::parse(&form.policy) {
        let event = policies::publish_audit("policy.publish").refused(&policies::refusal_message(&e));
        let page = editor(&principal, &form.policy, &problems(&e), None);
        return audited((http::StatusCode::BAD_REQUEST, page).into_response(), event);
    }
    let store = state.cp.store.as_ref();
    match policies::publish(store, state.cp.as_ref(), &form.policy, &principal.name, &form.reason, unix_now()).await {
        Ok((record, event)) => done(&version_path(record.version), event),
        Err(error) => {
            let error = ApiError::from(error);
            let event = policies::publish_audit("policy.publish").refused(&error.message);
            audited(refused(&principal, &error, EDITOR_PATH), event)
        }
    }
}

#[derive(Debug, Deserialize)]
struct RollbackForm {
    #[serde(default)]
    reason: String,
}

async fn rollback_form(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(version): Path<String>,
    Form(form): Form<RollbackForm>,
) -> Response {
    let Ok(number) = version.parse::<u64>() else {
        let error = ApiError::new(crate::error::ErrorCode::NotFound, "no such policy version");
        return refused(&principal, &error, LIST_PATH);
    };
    let store = state.cp.store.as_ref();
    match policies::rollback(store, state.cp.as_ref(), number, &principal.name, &form.reason, unix_now()).await {
        Ok((record, event)) => done(&version_path(record.version), event),
        Err(error) => {
            let error = ApiError::from(error);
            let event = policies::publish_audit("policy.rollback").refused(&error.message);
            audited(refused(&principal, &error, &version_path(number)), event)
        }
    }
}
