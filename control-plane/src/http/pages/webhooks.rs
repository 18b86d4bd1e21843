//! The webhooks pages (admin): endpoints that receive signed `findings.new` events, a form to
//! add one (the signing secret is shown once, on the result page), delete, and each endpoint's
//! delivery log (status, attempt, response code, time). Writes go through the use-cases in
//! [`crate::webhook::admin`], shared with the JSON API; the list views are the API's
//! ([`crate::http::fleet_api`]).

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::html;
use serde::Deserialize;

use super::components::utc_text;
use super::layout;
use super::ops::{audited, csrf_field, done, refused, shown_once, state_badge, utc_or_never};
use crate::error::{ApiError, ErrorCode};
use crate::http::fleet_api::{created_webhook, deliveries, webhooks};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::store::Role;

pub const PATH: &str = "/webhooks";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, PATH, Access::Role(Role::Admin), webhooks_page),
        Route::new(Method::POST, PATH, Access::Role(Role::Admin), create),
        Route::new(Method::GET, "/webhooks/{id}", Access::Role(Role::Admin), delivery_log),
        Route::new(Method::POST, "/webhooks/{id}/delete", Access::Role(Role::Admin), delete),
    ]
}

async fn webhooks_page(State(state): State<AppState>, Extension(principal): Extension<Principal>) -> Response {
    let list = match webhooks(&state).await {
        Ok(list) => list,
        Err(error) => return refused(&principal, &error, "/"),
    };
    let body = html! {
        div.page-head {
            h1 { "Webhooks" }
            p.lede {
                "Each endpoint receives a signed " code { "findings.new" } " event when an endpoint reports new high or critical findings. "
                "Verify the " code { "Muster-Signature" } " header (HMAC-SHA256 of " code { "timestamp.body" } ") with the endpoint's secret."
            }
        }
        section.card {
            h2 { "Add an endpoint" }
            form.create method="post" action=(PATH) {
                (csrf_field(&principal))
                label.field { span { "URL" } input type="url" name="url" required placeholder="https://siem.example.com/hooks/muster"; }
                label.field { span { "Send" }
                    select name="min_severity" {
                        option value="high" selected { "High and critical findings" }
                        option value="critical" { "Critical findings only" }
                    }
                }
                button type="submit" { "Add webhook" }
            }
        }
        @if list.is_empty() {
            p.empty { "No webhooks yet." }
        } @else {
            section.card.table-card {
                table.data.webhooks {
                    thead { tr { th { "URL" } th { "Findings" } th { "Created" } th { "State" } th { "Deliveries" } th {} } }
                    tbody {
                        @for hook in &list {
                            tr data-webhook=(hook.id) {
                                td.url { (hook.url) }
                                td { (hook.min_severity) " and above" }
                                td { (utc_text(hook.created_at)) }
                                td { @if hook.enabled { (state_badge("ok", "webhook", "enabled")) } @else { (state_badge("neutral", "webhook", "disabled")) } }
                                td { a href={ "/webhooks/" (hook.id) } { "Delivery log" } }
                                td.actions {
                                    form method="post" action={ "/webhooks/" (hook.id) "/delete" } {
                                        (csrf_field(&principal))
                                        button.danger type="submit" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page("Webhooks", Some(&principal), body).into_response()
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    url: String,
    #[serde(default)]
    min_severity: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<CreateForm>,
) -> Response {
    match crate::webhook::admin::create(state.cp.store.as_ref(), &form.url, form.min_severity.as_deref()).await {
        Ok((webhook, detail)) => {
            let created = created_webhook(webhook);
            let facts = html! {
                dl.facts {
                    dt { "URL" } dd { (created.url) }
                    dt { "Findings" } dd { (created.min_severity) " and above" }
                }
                p { a href={ "/webhooks/" (created.id) } { "Delivery log" } }
            };
            audited(shown_once(&principal, "Webhook added", "signing secret", &created.secret, facts, PATH), detail)
        }
        Err(error) => refused(&principal, &error.into(), PATH),
    }
}

async fn delete(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    match crate::webhook::admin::delete(state.cp.store.as_ref(), &id).await {
        Ok(detail) => done(PATH, detail),
        Err(error) => refused(&principal, &error.into(), PATH),
    }
}

async fn delivery_log(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let (hook, attempts) = match deliveries(&state, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return refused(&principal, &ApiError::new(ErrorCode::NotFound, "no webhook with this id"), PATH),
        Err(error) => return refused(&principal, &error, PATH),
    };
    let body = html! {
        div.page-head {
            h1 { "Webhook deliveries" }
            p.lede { "Every attempt to deliver to " span.url { (hook.url) } ", newest first. " a href=(PATH) { "All webhooks" } }
        }
        @if attempts.is_empty() {
            p.empty { "Nothing delivered yet: events are sent when an endpoint reports new high or critical findings." }
        } @else {
            section.card.table-card {
                table.data.deliveries {
                    thead { tr { th { "When" } th { "Event" } th { "Attempt" } th { "Status" } th { "Response" } th { "Latency" } th { "Error" } th { "Next retry" } } }
                    tbody {
                        @for attempt in &attempts {
                            tr data-delivery=(attempt.event_id) {
                                td { (utc_text(attempt.attempted_at)) }
                                td { code { (attempt.event_id) } }
                                td { (attempt.attempt) }
                                td { (state_badge(match attempt.status { "delivered" => "ok", "retrying" => "warn", _ => "danger" }, "delivery", attempt.status)) }
                                td.response-code { @if let Some(code) = attempt.response_code { (code) } @else { "—" } }
                                td { (attempt.latency_ms) " ms" }
                                td { (attempt.error) }
                                td { @if attempt.next_retry_at.is_some() { (utc_or_never(attempt.next_retry_at)) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page_in("Webhook deliveries", "Webhooks", Some(&principal), html! {}, body).into_response()
}
