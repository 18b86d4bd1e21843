//! The server list (`/servers/list`): one row per MCP server on one endpoint, the list behind
//! every server count (a service's servers, a package's or a version's, a remote host's, a
//! client's or a user's). Each row links to its endpoint, to the server on the endpoint's page,
//! and each name in it to the same list filtered by that name. Filters are exact and live in the
//! query string, so the browser's back button returns to the same filtered list.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use muster_proto::v1::Ecosystem;

use super::components::{
    auth_badge, bad_params, ecosystem_name, empty, endpoint_link, filter_buttons, link, list_params, pager, select,
    store_error, text_input, word_options,
};
use super::layout;
use crate::http::AppState;
use crate::http::params::{ServerListParams, Word};
use crate::http::principal::Principal;
use crate::store::read::ServerRow;

pub const PATH: &str = "/servers/list";

/// The link to one server on its endpoint's page.
pub fn server_on_endpoint(agent_id: &str, server_id: &str) -> String {
    format!("/endpoints/{agent_id}#server-{server_id}")
}

/// A link to this list filtered by `pairs`.
pub fn filtered(pairs: &[(&str, String)]) -> String {
    link(PATH, pairs)
}

/// The link to the servers running a package (and version).
pub fn package_link(ecosystem: i32, name: &str, version: Option<&str>) -> String {
    let mut pairs = vec![("package", name.to_string())];
    if let Some(word) = Ecosystem::try_from(ecosystem).ok().filter(|e| *e != Ecosystem::Unspecified) {
        pairs.push(("ecosystem", muster_proto::WireWord::word(word).to_string()));
    }
    if let Some(version) = version {
        pairs.push(("version", version.to_string()));
    }
    filtered(&pairs)
}

pub(crate) async fn server_list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    let (params, back): (ServerListParams, _) = match list_params(query.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let store_query = match params.query() {
        Ok(q) => q,
        Err(error) => return bad_params(&error, &principal),
    };
    let page = match state.cp.store.server_list(&store_query).await {
        Ok(page) => page,
        Err(error) => return store_error(error, &principal),
    };
    let ecosystems = word_options::<Ecosystem>(ecosystem_name);
    let body = html! {
        div.page-head {
            p.crumbs { a href="/servers" { "Servers" } " / " }
            h1 { "Servers on endpoints" }
            p.lede { "Each MCP server on each endpoint: where it is configured, what it runs and reaches." }
        }
        form.filters method="get" action=(PATH) {
            (text_input("service", "Service", params.service.as_deref(), "e.g. github"))
            (text_input("package", "Package", params.package.as_deref(), "exact package name"))
            (select("ecosystem", "Ecosystem", params.ecosystem.map(Word::as_str), &ecosystems))
            (text_input("version", "Version", params.version.as_deref(), "exact version"))
            (text_input("remote", "Remote host", params.remote.as_deref(), "e.g. mcp.linear.app"))
            (text_input("client", "Client", params.client.as_deref(), "e.g. cursor"))
            (text_input("user", "User", params.user.as_deref(), "exact user name"))
            @if let Some(agent) = &params.agent { input type="hidden" name="agent" value=(agent); }
            (filter_buttons(PATH))
        }
        section.card.table-card {
            @if page.items.is_empty() {
                (empty("No server matches these filters."))
            } @else {
                table.data.server-list {
                    thead {
                        tr {
                            th { "Server" } th { "Endpoint" } th { "Client" } th { "User" }
                            th { "Package or endpoint" } th { "Service" } th { "Auth" }
                        }
                    }
                    tbody {
                        @for row in &page.items { (server_row(row)) }
                    }
                }
            }
            (pager(PATH, &params.filters(), params.cursor.as_deref(), &back, page.next_cursor.as_deref()))
        }
    };
    layout::page_in("Servers on endpoints", "Servers", Some(&principal), html! {}, body).into_response()
}

fn server_row(s: &ServerRow) -> Markup {
    html! {
        tr data-host=(s.hostname) {
            td {
                a.server-link href=(server_on_endpoint(&s.agent_id, &s.server_id)) { strong.name { (s.name) } }
                br;
                code.path { (s.config_path) }
            }
            td { (endpoint_link(&s.agent_id, &s.hostname)) }
            td { a href=(filtered(&[("client", s.client.clone())])) { (s.client) } }
            td { a href=(filtered(&[("user", s.user.clone())])) { (s.user) } }
            td.pkg { (package_cell(s.package_ecosystem, &s.package_name, &s.package_version, &s.endpoint_host)) }
            td {
                @if s.service.is_empty() { span.muted { "—" } }
                @else { a href=(filtered(&[("service", s.service.clone())])) { (s.service) } }
            }
            td { (auth_badge(&s.auth)) }
        }
    }
}

/// A server's package (name and version, each a link to the servers running it) or remote host.
pub fn package_cell(ecosystem: i32, name: &str, version: &str, remote: &str) -> Markup {
    html! {
        @if !name.is_empty() {
            span.badge.neutral { (ecosystem_name(ecosystem)) } " "
            a.package-link href=(package_link(ecosystem, name, None)) { code { (name) } }
            @if !version.is_empty() {
                " " a.version-link href=(package_link(ecosystem, name, Some(version))) { code { "@" (version) } }
            }
        } @else if !remote.is_empty() {
            span.badge.info { "remote" } " "
            a.remote-link href=(filtered(&[("remote", remote.to_string())])) { code { (remote) } }
        } @else {
            span.muted { "—" }
        }
    }
}
