//! The services page (`/services`): per enterprise service the MCP servers reaching it, the
//! endpoints and users they run for, and how those servers authenticate (OAuth, a secret-store
//! reference, a literal static key, nothing), from the live services rollup. The service name and
//! its endpoint count link to the endpoints running a server that reaches it
//! (`/endpoints?service=`), the server and user counts to those servers one by one
//! (`/servers/list?service=`), the findings link to its findings. The remote servers'
//! authentication posture as their agents verified it is counted per service and links to
//! `/endpoints?service=&auth_posture=`.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::components::{bad_params, count_badge, empty, link, plural, store_error};
use super::layout;
use crate::http::AppState;
use crate::http::params::{self, NoParams};
use crate::http::principal::Principal;

pub(crate) async fn services(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return bad_params(&error, &principal);
    }
    let rows = match state.cp.store.services().await {
        Ok(rows) => rows,
        Err(error) => return store_error(error, &principal),
    };
    let literal: i64 = rows.iter().map(|r| r.auth.literal).sum();
    let body = html! {
        div.page-head {
            h1 { "Services" }
            p.lede { "Enterprise services reached by MCP servers on the fleet, and how those servers authenticate." }
        }
        @if literal > 0 {
            p.flash.error role="status" {
                (literal) " " (plural(literal, "server reaches", "servers reach"))
                " a service with a literal static key in its configuration. "
                a href="/credentials" { "See credentials" }
            }
        }
        section.card.table-card {
            @if rows.is_empty() {
                (empty("No enterprise service reached yet."))
            } @else {
                table.data {
                    thead {
                        tr {
                            th { "Service" }
                            th.num { "Servers" }
                            th.num { "Endpoints" }
                            th.num { "Users" }
                            th { "Authentication" }
                            th title="As the agents found by asking each remote server without credentials" { "Remote auth" }
                            th { "Findings" }
                        }
                    }
                    tbody {
                        @for row in &rows {
                            tr data-service=(row.service) {
                                @let endpoints = link("/endpoints", &[("service", row.service.clone())]);
                                @let findings = link("/findings", &[("service", row.service.clone())]);
                                @let servers = super::server_list::filtered(&[("service", row.service.clone())]);
                                td.service { a href=(endpoints) { strong { (row.service) } } }
                                td.num { a.servers-link href=(servers) title="These servers, one by one" { (row.servers) } }
                                td.num { a href=(endpoints) title="Endpoints running these servers" { (row.endpoints) } }
                                td.num { a href=(servers) title="The servers, with their users" { (row.users) } }
                                td.badges {
                                    (count_badge("ok", "OAuth", row.auth.oauth))
                                    (count_badge("info", "Environment reference", row.auth.env_reference))
                                    (count_badge("ok", "Secret manager", row.auth.secret_manager))
                                    (count_badge("neutral", "Other reference", row.auth.reference))
                                    (count_badge("danger", "Literal key", row.auth.literal))
                                    (count_badge("neutral", "None", row.auth.none))
                                }
                                td.badges {
                                    @let p = &row.remote_auth;
                                    @let posture_link = |word: &str| link("/endpoints", &[("service", row.service.clone()), ("auth_posture", word.to_string())]);
                                    @for (word, tone, label, count) in [
                                        ("oauth", "ok", "OAuth", p.oauth),
                                        ("oauth_partial", "warn", "OAuth (partial)", p.oauth_partial),
                                        ("static_key", "info", "Static key", p.static_key),
                                        ("none", "danger", "None", p.none),
                                        ("unknown", "neutral", "Unknown", p.unknown),
                                    ] {
                                        @if count > 0 { a href=(posture_link(word)) { (count_badge(tone, label, count)) } " " }
                                    }
                                }
                                td { a href=(findings) { "Findings" } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page("Services", Some(&principal), body).into_response()
}
