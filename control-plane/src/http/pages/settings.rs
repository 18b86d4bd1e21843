//! The settings page (admin): local and single-sign-on users (add a local user with a role and a
//! password, hashed with argon2id), and API tokens for automation (create with a role and a
//! lifetime, shown once; revoke). Writes go through the use-cases in [`crate::access`], the same
//! as the admin API and `muster-server`.

use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::html;
use serde::Deserialize;

use super::components::utc_text;
use super::layout;
use super::ops::{audited, csrf_field, done, refused, shown_once, state_badge, utc_or_never};
use crate::access::{accounts, api_tokens};
use crate::error::{ApiError, ErrorCode};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::state::unix_now;
use crate::store::Role;

pub const PATH: &str = "/settings";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, PATH, Access::Role(Role::Admin), settings_page),
        Route::new(Method::POST, "/settings/users", Access::Role(Role::Admin), create_user),
        Route::new(Method::POST, "/settings/api-tokens", Access::Role(Role::Admin), create_token),
        Route::new(Method::POST, "/settings/api-tokens/{id}/revoke", Access::Role(Role::Admin), revoke_token),
    ]
}

fn role_options(selected: Role) -> maud::Markup {
    html! {
        @for role in Role::ALL {
            option value=(role.as_str()) selected[role == selected] { (role.as_str()) }
        }
    }
}

async fn settings_page(State(state): State<AppState>, Extension(principal): Extension<Principal>) -> Response {
    let loaded = async {
        let users = state.cp.store.list_users().await?;
        let tokens = state.cp.store.list_api_tokens().await?;
        Ok::<_, ApiError>((users, tokens))
    };
    let (users, tokens) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return refused(&principal, &error, "/"),
    };
    let now = unix_now();
    let body = html! {
        div.page-head {
            h1 { "Settings" }
            p.lede { "Dashboard accounts and API tokens for automation. Every change here is in the audit log." }
        }
        section.card.users {
            h2 { "Users" }
            table.data {
                thead { tr { th { "Username" } th { "Role" } th { "Sign-in" } th { "Created" } th { "State" } } }
                tbody {
                    @for user in &users {
                        tr data-user=(user.username) {
                            td { (user.username) }
                            td { (state_badge("info", "role", user.role.as_str())) }
                            td { (user.source.as_str()) }
                            td { (utc_text(user.created_at)) }
                            td { @if user.disabled_at.is_some() { "disabled" } @else { "active" } }
                        }
                    }
                }
            }
            h3 { "Add a local user" }
            form.create method="post" action="/settings/users" {
                (csrf_field(&principal))
                label.field { span { "Username" } input type="text" name="username" required maxlength="64" autocomplete="off"; }
                label.field { span { "Role" } select name="role" { (role_options(Role::Viewer)) } }
                label.field { span { "Password" } input type="password" name="password" required minlength="12" autocomplete="new-password"; }
                button type="submit" { "Add user" }
            }
        }
        section.card.api-tokens {
            h2 { "API tokens" }
            @if tokens.is_empty() {
                p.empty { "No API tokens yet." }
            } @else {
                table.data {
                    thead { tr { th { "Name" } th { "Id" } th { "Role" } th { "Created by" } th { "Created" } th { "Expires" } th { "Last used" } th { "State" } th {} } }
                    tbody {
                        @for token in &tokens {
                            @let state = if token.revoked_at.is_some() { "revoked" } else if token.expires_at <= now { "expired" } else { "active" };
                            tr data-api-token=(token.id) {
                                td { (token.name) }
                                td { code { (token.id) } }
                                td { (state_badge("info", "role", token.role.as_str())) }
                                td { (token.created_by) }
                                td { (utc_text(token.created_at)) }
                                td { (utc_text(token.expires_at)) }
                                td { (utc_or_never(token.last_used_at)) }
                                td { (state_badge(if state == "active" { "ok" } else if state == "revoked" { "danger" } else { "neutral" }, "token", state)) }
                                td.actions {
                                    @if state == "active" {
                                        form method="post" action={ "/settings/api-tokens/" (token.id) "/revoke" } {
                                            (csrf_field(&principal))
                                            button.danger type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "Create an API token" }
            form.create method="post" action="/settings/api-tokens" {
                (csrf_field(&principal))
                label.field { span { "Name" } input type="text" name="name" required maxlength="100" placeholder="siem-export"; }
                label.field { span { "Role" } select name="role" { (role_options(Role::Viewer)) } }
                label.field { span { "Valid for" } input type="text" name="ttl" value="30d" required; }
                button type="submit" { "Create token" }
            }
        }
    };
    layout::page("Settings", Some(&principal), body).into_response()
}

#[derive(Deserialize)]
struct UserForm {
    username: String,
    role: String,
    password: String,
}

fn parse_role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text.trim()).ok_or_else(|| ApiError::new(ErrorCode::InvalidArgument, "role: viewer, analyst or admin"))
}

async fn create_user(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<UserForm>,
) -> Response {
    let result = async {
        let role = parse_role(&form.role)?;
        let store = state.cp.store.as_ref();
        Ok(accounts::create_user(store, &principal.name, form.username.trim(), role, form.password, unix_now()).await?)
    };
    match result.await {
        Ok(detail) => done(PATH, detail),
        Err(error) => refused(&principal, &error, PATH),
    }
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    name: String,
    role: String,
    ttl: String,
}

async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<TokenForm>,
) -> Response {
    let result = async {
        let role = parse_role(&form.role)?;
        let ttl = api_tokens::parse_ttl(&form.ttl)?;
        Ok(api_tokens::issue(state.cp.store.as_ref(), &principal.name, &form.name, role, ttl, unix_now()).await?)
    };
    match result.await {
        Ok((issued, detail)) => {
            let facts = html! {
                dl.facts {
                    dt { "Id" } dd { code { (issued.id) } }
                    dt { "Role" } dd { (issued.role.as_str()) }
                    dt { "Expires" } dd { (utc_text(issued.expires_at)) }
                }
                p { "Send it as " code { "Authorization: Bearer TOKEN" } "." }
            };
            audited(shown_once(&principal, "API token created", "API token", &issued.token, facts, PATH), detail)
        }
        Err(error) => refused(&principal, &error, PATH),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    match api_tokens::revoke(state.cp.store.as_ref(), &id, unix_now()).await {
        Ok(detail) => done(PATH, detail),
        Err(error) => refused(&principal, &error.into(), PATH),
    }
}
