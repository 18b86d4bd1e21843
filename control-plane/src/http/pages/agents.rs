//! The agents page: enrolled agents (status, version, certificate, last seen) with the version
//! distribution, and for admins the revoke button (with a confirmation checkbox) and the
//! enrollment tokens (list, create showing the token once, revoke).
//!
//! Revocation goes through the [`crate::agents::revoke`] use-case (the control plane closes the
//! agent's streams), tokens through [`crate::enroll::admin`]: the same code as the JSON API and
//! `muster-server`.

use axum::Extension;
use axum::extract::{Form, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::Method;
use maud::{Markup, html};
use serde::Deserialize;

use super::components::{endpoint_link, filter_buttons, list_params, pager, select, text_input, utc_text};
use super::layout;
use super::ops::{audited, csrf_field, done, refused, shown_once, state_badge, utc_or_never};
use crate::error::{ApiError, ErrorCode};
use crate::http::exports::{CYCLONEDX_JSON_PATH, INVENTORY_CSV_PATH};
use crate::http::fleet_api::{EnrollmentTokenView, enrollment_tokens};
use crate::http::params::{AgentParams, online_since};
use crate::http::principal::Principal;
use crate::http::roles::Access;
use crate::http::{AppState, Route};
use crate::state::unix_now;
use crate::store::Role;
use crate::store::read::AgentRow;

pub const PATH: &str = "/agents";

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Method::GET, PATH, Access::Role(Role::Viewer), agents_page),
        Route::new(Method::POST, "/agents/{id}/revoke", Access::Role(Role::Admin), revoke_agent),
        Route::new(Method::POST, "/agents/tokens", Access::Role(Role::Admin), create_token),
        Route::new(Method::POST, "/agents/tokens/{id}/revoke", Access::Role(Role::Admin), revoke_token),
    ]
}

async fn agents_page(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (filters, back): (AgentParams, _) = match list_params(raw.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let now = unix_now();
    let admin = principal.role >= Role::Admin;
    let loaded = async {
        let query = filters.query(online_since(now))?;
        let page = state.cp.store.agents_page(&query).await?;
        let versions = state.cp.store.agent_versions().await?;
        let tokens = if admin { enrollment_tokens(&state).await? } else { Vec::new() };
        Ok::<_, ApiError>((page, versions, tokens))
    };
    let (page, versions, tokens) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return refused(&principal, &error, PATH),
    };
    let total: i64 = versions.iter().map(|v| v.agents).sum();
    let address = state.cp.agent_address().unwrap_or("https://CONTROL-PLANE:PORT").to_string();
    let fingerprint = state.cp.pki.ca_fingerprint().to_string();
    let body = html! {
        div.page-head {
            h1 { "Agents" }
            p.lede {
                "Enrolled agents, their certificates and versions. "
                a.download href=(INVENTORY_CSV_PATH) download="" { "Inventory CSV" }
                " · "
                a.download href=(CYCLONEDX_JSON_PATH) download="" { "Fleet CycloneDX" }
            }
        }
        (add_laptop_panel(&address, &fingerprint, &principal, admin))
        @if !versions.is_empty() {
            section.card.versions {
                h2 { "Versions" }
                ul.bars {
                    @for version in &versions {
                        li {
                            span.label { (if version.version.is_empty() { "unknown" } else { version.version.as_str() }) }
                            meter min="0" max=(total) value=(version.agents) {}
                            span.num { (version.agents) }
                        }
                    }
                }
            }
        }
        form.filters method="get" action=(PATH) {
            (text_input("search", "Hostname", filters.search.as_deref(), "laptop"))
            (select("status", "Status", filters.status.map(|s| s.as_str()), &[("active", "Active"), ("revoked", "Revoked")]))
            (text_input("version", "Version", filters.version.as_deref(), "0.1.0"))
            (filter_buttons(PATH))
        }
        @if page.items.is_empty() {
            p.empty { "No agents match these filters." }
        } @else {
            section.card.table-card {
                table.data.agents {
                    thead {
                        tr {
                            th { "Hostname" } th { "Agent id" } th { "Status" } th { "Version" }
                            th { "Certificate" } th { "Last seen" }
                            @if admin { th { "Revoke" } }
                        }
                    }
                    tbody {
                        @for agent in &page.items { (agent_row(agent, &principal, admin, now)) }
                    }
                }
            }
        }
        (pager(PATH, &filters.filters(), filters.cursor.as_deref(), &back, page.next_cursor.as_deref()))
        @if admin { (tokens_section(&tokens, &principal, now)) }
    };
    layout::page_with_head("Agents", Some(&principal), layout::copy_script(), body).into_response()
}

/// The command that enrolls a laptop with `token` (a placeholder before one is minted).
pub(crate) fn enroll_command(address: &str, token: &str, fingerprint: &str) -> String {
    format!("sudo muster-agent enroll --server {address} --token {token} --ca-fingerprint {fingerprint}")
}

/// "Add a laptop": the exact enroll command (server address, CA fingerprint) with a copy button,
/// how to get a token and, for admins, a button minting a single-use one.
fn add_laptop_panel(address: &str, fingerprint: &str, principal: &Principal, admin: bool) -> Markup {
    html! {
        section.card.add-laptop {
            h2 { "Add a laptop" }
            ol {
                li { "Install the " code { "muster-agent" } " package on the laptop (deb, rpm, MSI or pkg)." }
                li {
                    "Get a single-use enrollment token: "
                    @if admin { "the button below creates one, or run " } @else { "ask an admin, who runs " }
                    code { "muster-server token create --uses 1 --ttl 1h" } " on the control plane."
                }
                li {
                    "On the laptop, run (TOKEN replaced by the token):"
                    div.command {
                        pre { code #enroll-command { (enroll_command(address, "TOKEN", fingerprint)) } }
                        button.secondary type="button" data-copy="enroll-command" { "Copy" }
                    }
                }
            }
            p.hint { "The agent checks the control plane's CA against the fingerprint, enrolls, and its first report shows here within seconds." }
            @if admin {
                form.create method="post" action="/agents/tokens" {
                    (csrf_field(principal))
                    input type="hidden" name="max_uses" value="1";
                    input type="hidden" name="ttl" value="1h";
                    button type="submit" { "Create a token for one laptop" }
                }
            }
        }
    }
}

fn agent_status(agent: &AgentRow) -> &'static str {
    if agent.status == "revoked" {
        "revoked"
    } else if agent.online {
        "online"
    } else {
        "offline"
    }
}

fn agent_row(agent: &AgentRow, principal: &Principal, admin: bool, now: i64) -> Markup {
    let status = agent_status(agent);
    html! {
        tr data-agent=(agent.id) {
            td {
                (endpoint_link(&agent.id, &agent.hostname))
                " "
                a.sbom href={ (CYCLONEDX_JSON_PATH) "?endpoint=" (agent.id) } download="" title="CycloneDX of this endpoint" { "SBOM" }
            }
            td { code title=(agent.id) { (super::components::abbreviated(&agent.id)) } }
            td { (state_badge(match status { "online" => "ok", "revoked" => "danger", _ => "neutral" }, "status", status)) }
            td { (agent.agent_version) }
            td.certificate {
                code title=(agent.cert_serial) { (super::components::abbreviated(&agent.cert_serial)) }
                br;
                span class=@if agent.cert_not_after < now { "expired" } @else { "until" } title=(utc_text(agent.cert_not_after)) {
                    "until " (crate::timefmt::iso_date(agent.cert_not_after))
                }
            }
            td title=(utc_or_never(agent.last_seen_at)) {
                @match agent.last_seen_at { Some(at) => (crate::timefmt::ago_text(at, now)), None => "never" }
            }
            @if admin {
                td.actions {
                    @if status != "revoked" {
                        form.revoke method="post" action={ "/agents/" (agent.id) "/revoke" } {
                            (csrf_field(principal))
                            label.confirm { input type="checkbox" name="confirm" value="yes" required; " confirm" }
                            button.danger type="submit" { "Revoke" }
                        }
                    }
                }
            }
        }
    }
}

fn tokens_section(tokens: &[EnrollmentTokenView], principal: &Principal, now: i64) -> Markup {
    html! {
        section.card.tokens {
            h2 { "Enrollment tokens" }
            form.create method="post" action="/agents/tokens" {
                (csrf_field(principal))
                label.field { span { "Uses (0 = unlimited)" } input type="number" name="max_uses" min="0" max="100000" value="1" required; }
                label.field { span { "Valid for" } input type="text" name="ttl" value="24h" required; }
                button type="submit" { "Create token" }
            }
            @if tokens.is_empty() {
                p.empty { "No enrollment tokens yet." }
            } @else {
                table.data {
                    thead { tr { th { "Id" } th { "Uses" } th { "Created" } th { "Expires" } th { "State" } th {} } }
                    tbody {
                        @for token in tokens {
                            @let state = if token.revoked_at.is_some() { "revoked" } else if token.expires_at <= now { "expired" } else if token.max_uses != 0 && token.uses >= token.max_uses { "used up" } else { "active" };
                            tr data-token=(token.id) {
                                td { code { (token.id) } }
                                td { (token.uses) " / " @if token.max_uses == 0 { "∞" } @else { (token.max_uses) } }
                                td { (utc_text(token.created_at)) }
                                td { (utc_text(token.expires_at)) }
                                td { (state_badge(if state == "active" { "ok" } else if state == "revoked" { "danger" } else { "neutral" }, "token", state)) }
                                td.actions {
                                    @if state == "active" {
                                        form method="post" action={ "/agents/tokens/" (token.id) "/revoke" } {
                                            (csrf_field(principal))
                                            button.danger type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct RevokeForm {
    confirm: Option<String>,
}

async fn revoke_agent(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    if form.confirm.as_deref() != Some("yes") {
        let error = ApiError::new(ErrorCode::InvalidArgument, "tick the confirmation box to revoke an agent");
        return refused(&principal, &error, PATH);
    }
    match crate::agents::revoke(state.cp.store.as_ref(), state.cp.as_ref(), &id, unix_now()).await {
        Ok(detail) => done(PATH, detail),
        Err(error) => refused(&principal, &error.into(), PATH),
    }
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    max_uses: String,
    ttl: String,
}

async fn create_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Form(form): Form<TokenForm>,
) -> Response {
    let Ok(max_uses) = form.max_uses.trim().parse::<u32>() else {
        let error = ApiError::new(ErrorCode::InvalidArgument, "uses: a whole number (0 for unlimited)");
        return refused(&principal, &error, PATH);
    };
    let issued = async {
        let ttl = crate::enroll::admin::parse_ttl(&form.ttl)?;
        crate::enroll::admin::issue(state.cp.store.as_ref(), max_uses, ttl, unix_now()).await
    };
    match issued.await {
        Ok((created, detail)) => {
            let facts = html! {
                dl.facts {
                    dt { "Id" } dd { code { (created.id) } }
                    dt { "Uses" } dd { @if created.max_uses == 0 { "unlimited" } @else { (created.max_uses) } }
                    dt { "Expires" } dd { (utc_text(created.expires_at)) }
                }
                p { "On the laptop, run:" }
                div.command {
                    pre { code #enroll-command { (enroll_command(state.cp.agent_address().unwrap_or("https://CONTROL-PLANE:PORT"), &created.token, state.cp.pki.ca_fingerprint())) } }
                    button.secondary type="button" data-copy="enroll-command" { "Copy" }
                }
            };
            audited(
                shown_once(&principal, "Enrollment token created", "enrollment token", &created.token, facts, PATH),
                detail,
            )
        }
        Err(error) => refused(&principal, &error.into(), PATH),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    match crate::enroll::admin::revoke(state.cp.store.as_ref(), &id, unix_now()).await {
        Ok(detail) => done(PATH, detail),
        Err(error) => refused(&principal, &error.into(), PATH),
    }
}
