//! The endpoints list (`/endpoints`: search, filters, three sorts, keyset pages) and one
//! endpoint's page (`/endpoints/{agent_id}`: host facts, users, clients, each MCP server with
//! its config file, scope, client, user, package, version, pinning, service, env and header
//! names and credentials with their fingerprints, the MCP processes running with their
//! listening sockets, findings, change history, and export links). Every name and count links
//! to the filtered list behind it; each server has an anchor (`#server-ID`) other pages link to.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use maud::{Markup, html};
use muster_proto::WireWord;
use muster_proto::v1::{AuthPosture, Os, Scope, Severity};

use super::components::{
    bad_params, chips, count_badge, credential_badge, empty, endpoint_link, error_page, filter_buttons, link,
    list_params, maybe_time_ago, online_dot, os_label, os_name, pager, plural, posture_name, select, server_auth,
    severity_badge, severity_name, store_error, text_input, time_ago, transport_name, utc_text, word_options,
};
use super::server_list::{self, package_cell};
use super::{credential_locations, layout};
use crate::http::AppState;
use crate::http::params::{self, EndpointParams, NoParams, SortParam, StatusParam, Word, online_since};
use crate::http::principal::Principal;
use crate::state::unix_now;
use crate::store::read::{EndpointDetail, EndpointRow, ProcessView, ServerView};

const PATH: &str = "/endpoints";

pub(crate) async fn endpoints(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    let now = unix_now();
    let (params, back): (EndpointParams, _) = match list_params(query.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let store_query = match params.query(online_since(now)) {
        Ok(q) => q,
        Err(error) => return bad_params(&error, &principal),
    };
    let page = match state.cp.store.endpoints(&store_query).await {
        Ok(page) => page,
        Err(error) => return store_error(error, &principal),
    };
    let body = html! {
        div.page-head {
            h1 { "Endpoints" }
            p.lede { "Enrolled machines, their MCP clients and servers, and what is open on them." }
        }
        (filter_form(&params))
        section.card.table-card {
            @if page.items.is_empty() {
                (empty("No endpoint matches these filters."))
            } @else {
                table.data {
                    thead {
                        tr {
                            th { "Hostname" }
                            th { "OS" }
                            th { "Users" }
                            th { "Clients" }
                            th.num { "Servers" }
                            th.num title="Places a plain-text key is written" { "Secret uses" }
                            th { "Open findings" }
                            th { "Last seen" }
                        }
                    }
                    tbody {
                        @for row in &page.items { (endpoint_row(row, now)) }
                    }
                }
            }
            (pager(PATH, &params.filters(), params.cursor.as_deref(), &back, page.next_cursor.as_deref()))
        }
    };
    layout::page("Endpoints", Some(&principal), body).into_response()
}

fn filter_form(params: &EndpointParams) -> Markup {
    let os = word_options::<Os>(os_name);
    let status = [("online", "Online"), ("offline", "Offline")];
    let posture = word_options::<AuthPosture>(posture_name);
    let mut severity = word_options::<Severity>(severity_name);
    severity.reverse();
    let sort = [("hostname", "Hostname"), ("last_seen", "Last seen"), ("findings", "Most severe findings")];
    html! {
        form.filters method="get" action=(PATH) {
            (text_input("q", "Search", params.q.as_deref(), "hostname or user"))
            (text_input("user", "User", params.user.as_deref(), "exact user name"))
            (text_input("client", "Client", params.client.as_deref(), "e.g. cursor"))
            (text_input("tag", "Tag", params.tag.as_deref(), "e.g. team:payments"))
            (text_input("service", "Service", params.service.as_deref(), "e.g. github"))
            (select("auth_posture", "Remote auth", params.auth_posture.map(Word::as_str), &posture))
            (select("os", "OS", params.os.map(Word::as_str), &os))
            (select("status", "Status", params.status.map(StatusParam::as_str), &status))
            (select("severity", "Findings at least", params.severity.map(Word::as_str), &severity))
            label.field {
                span { "Sort by" }
                select name="sort" {
                    @for (value, text) in sort {
                        option value=(value) selected[params.sort.map(SortParam::as_str).unwrap_or("hostname") == value] { (text) }
                    }
                }
            }
            (filter_buttons(PATH))
        }
    }
}

fn endpoint_row(row: &EndpointRow, now: i64) -> Markup {
    html! {
        tr {
            td {
                (endpoint_link(&row.agent_id, &row.hostname))
                @if !row.tags.is_empty() { " " (chips(row.tags.iter().map(String::as_str))) }
            }
            td { (os_name(row.os)) }
            td { (linked_chips("user", &row.users)) }
            td { (linked_chips("client", &row.clients)) }
            td.num { a.servers-link href=(server_list::filtered(&[("agent", row.agent_id.clone())])) { (row.servers) } }
            td.num {
                @if row.literal_secrets > 0 {
                    a href=(literal_secrets_of(&row.agent_id)) { span.badge.danger { (row.literal_secrets) } }
                } @else { "0" }
            }
            td.badges {
                (count_badge("sev-critical", "critical", row.findings_critical))
                (count_badge("sev-high", "high", row.findings_high))
                @let other = row.open_findings - row.findings_high - row.findings_critical;
                (count_badge("neutral", "medium or low", other))
                @if row.open_findings == 0 { span.muted { "none" } }
                @else { " " a href=(link("/findings", &[("agent", row.agent_id.clone())])) { "list" } }
            }
            td { (online_dot(row.online)) " " (maybe_time_ago(row.last_seen_at, now)) }
        }
    }
}

/// Users or clients as chips, each a link to the servers of that user or client on the fleet.
fn linked_chips(filter: &'static str, names: &[String]) -> Markup {
    html! {
        span.chips {
            @for name in names {
                a.chip href=(server_list::filtered(&[(filter, name.clone())])) title="Their servers on the fleet" { (name) }
            }
        }
    }
}

/// Distinct literal secrets among an endpoint's servers: distinct keyed fingerprints, as the
/// fleet's count is (one secret in two servers' entries is one secret, two uses).
fn distinct_literal_secrets(servers: &[ServerView]) -> i64 {
    let literal = muster_proto::v1::CredentialSource::Literal as i32;
    let fingerprints: std::collections::BTreeSet<&str> = servers
        .iter()
        .flat_map(|s| &s.credentials)
        .filter(|c| c.source == literal && !c.fingerprint.is_empty())
        .map(|c| c.fingerprint.as_str())
        .collect();
    i64::try_from(fingerprints.len()).unwrap_or(i64::MAX)
}

fn literal_secrets_of(agent_id: &str) -> String {
    credential_locations::filtered(&[("source", "literal".to_string()), ("agent", agent_id.to_string())])
}

pub(crate) async fn endpoint_detail(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(agent_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(error) = params::parse::<NoParams>(query.as_deref()) {
        return bad_params(&error, &principal);
    }
    let now = unix_now();
    let policy = match crate::compliance::endpoint(state.cp.store.as_ref(), &agent_id).await {
        Ok(view) => Some(view),
        Err(crate::error::ActionError::NotFound(_)) => None,
        Err(error) => return super::ops::refused(&principal, &crate::error::ApiError::from(error), PATH),
    };
    let requests = match super::exceptions::endpoint_section(state.cp.store.as_ref(), &agent_id).await {
        Ok(section) => section,
        Err(error) => return super::ops::refused(&principal, &crate::error::ApiError::from(error), PATH),
    };
    match state.cp.store.endpoint_detail(&agent_id, online_since(now), now).await {
        Ok(Some(detail)) => {
            let title = if detail.endpoint.hostname.is_empty() { agent_id.as_str() } else { &detail.endpoint.hostname };
            let body = html! {
                (render_detail(&detail, now))
                (super::compliance::endpoint_section(policy.as_ref()))
                (requests)
            };
            layout::page_in(title, "Endpoints", Some(&principal), html! {}, body).into_response()
        }
        Ok(None) => error_page(StatusCode::NOT_FOUND, "no endpoint with this id", &principal),
        Err(error) => store_error(error, &principal),
    }
}

fn render_detail(d: &EndpointDetail, now: i64) -> Markup {
    let e = &d.endpoint;
    let names: HashMap<&str, &str> = d.servers.iter().map(|s| (s.server_id.as_str(), s.name.as_str())).collect();
    let mut running: HashMap<&str, Vec<&ProcessView>> = HashMap::new();
    for process in &d.processes {
        for id in &process.server_ids {
            running.entry(id.as_str()).or_default().push(process);
        }
    }
    let export = format!("/api/v1/export/cyclonedx.json?endpoint={}", e.agent_id);
    html! {
        div.page-head {
            p.crumbs { a href=(PATH) { "Endpoints" } " / " }
            h1 { (if e.hostname.is_empty() { &e.agent_id } else { &e.hostname }) }
            p.lede {
                (online_dot(e.online)) " Last seen " (maybe_time_ago(e.last_seen_at, now))
                " · " (os_name(e.os))
                " · " (e.servers) " " (plural(e.servers, "server", "servers"))
                " · " (e.open_findings) " " (plural(e.open_findings, "open finding", "open findings"))
            }
            p.actions {
                a.button href=(export) download { "Export CycloneDX" }
                a.button.secondary href={ "/api/v1/endpoints/" (e.agent_id) } { "JSON" }
            }
        }
        div.grid-2 {
            section.card {
                h2 { "Host" }
                dl.facts {
                    dt { "Hostname" } dd { (e.hostname) }
                    dt { "Agent id" } dd { code { (e.agent_id) } }
                    dt { "Operating system" } dd { (os_label(e.os, &d.os_version)) }
                    dt { "Architecture" } dd { (d.arch) }
                    dt { "Tags" } dd {
                        @if e.tags.is_empty() { span.muted { "none" } } @else { (chips(e.tags.iter().map(String::as_str))) }
                    }
                    dt { "Agent" } dd { (d.agent_version) " " span class={ "badge " (if d.agent_status == "active" { "ok" } else { "danger" }) } { (d.agent_status) } }
                    dt { "Certificate expires" } dd { (utc_text(d.cert_not_after)) }
                    dt { "Last scan" } dd { (time_ago(d.scanned_at, now)) }
                }
            }
            section.card {
                h2 { "Users and clients" }
                dl.facts {
                    dt { "Users" } dd { (linked_chips("user", &e.users)) }
                    dt { "Clients" } dd { (linked_chips("client", &e.clients)) }
                    dt { "Literal secrets" } dd {
                        @let distinct = distinct_literal_secrets(&d.servers);
                        a href=(literal_secrets_of(&e.agent_id)) {
                            strong.distinct-secrets { (distinct) } " " (plural(distinct, "distinct secret", "distinct secrets"))
                            ", in " span.secret-uses { (e.literal_secrets) } " " (plural(e.literal_secrets, "use", "uses"))
                        }
                    }
                    dt { "Findings" } dd.badges {
                        (count_badge("sev-critical", "critical", e.findings_critical))
                        (count_badge("sev-high", "high", e.findings_high))
                        @let lower = e.open_findings - e.findings_high - e.findings_critical;
                        (count_badge("neutral", "medium or low", lower))
                        @if e.open_findings == 0 { span.muted { "none open" } }
                    }
                }
            }
        }
        section.card.table-card {
            h2 { "MCP servers" }
            @if d.servers.is_empty() {
                (empty("No MCP server configured on this endpoint."))
            } @else {
                table.data.endpoint-servers {
                    thead {
                        tr {
                            th { "Server and configuration" } th { "Runs" } th { "Service and auth" }
                            th { "Credentials" } th { "Env and header names" }
                        }
                    }
                    tbody {
                        @for s in &d.servers { (server_row(s, &running, now)) }
                    }
                }
            }
        }
        section.card.table-card {
            h2 { "Running MCP processes" }
            @if d.processes.is_empty() {
                (empty("No MCP server process was running at the last scan that reported processes."))
            } @else {
                table.data.processes {
                    thead { tr { th.num { "PID" } th { "User" } th { "Command" } th { "Servers" } th { "Listening" } } }
                    tbody {
                        @for p in &d.processes {
                            tr {
                                td.num { (p.pid) }
                                td { (p.user) }
                                td.pkg {
                                    code { (p.command) }
                                    @if !p.parent_client.is_empty() { br; span.muted { "started by " (p.parent_client) } }
                                    @if p.unmanaged { " " span.badge.warn { "no client" } }
                                }
                                td {
                                    @if p.server_ids.is_empty() { span.muted { "none configured" } }
                                    @for id in &p.server_ids {
                                        a href={ "#server-" (id) } { (names.get(id.as_str()).copied().unwrap_or(id.as_str())) } " "
                                    }
                                }
                                td {
                                    @if p.listeners.is_empty() { span.muted { "no socket" } }
                                    @for l in &p.listeners { code { (l) } br; }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card.table-card {
            h2 { "Findings" }
            @if d.findings.is_empty() {
                (empty("No findings on this endpoint."))
            } @else {
                table.data {
                    thead { tr { th { "Severity" } th { "Finding" } th { "Server" } th { "Message" } th { "State" } } }
                    tbody {
                        @for f in &d.findings {
                            tr {
                                td { (severity_badge(f.severity)) }
                                td {
                                    a href=(super::findings::detail_href(f)) { code { (f.key.finding_id) } }
                                    @if !f.owasp.is_empty() { " " span.badge.neutral { (f.owasp) } }
                                }
                                td {
                                    @match names.get(f.key.server_id.as_str()) {
                                        Some(name) => a href={ "#server-" (f.key.server_id) } { (name) },
                                        None => span.muted { "—" },
                                    }
                                }
                                td { (f.message) }
                                td {
                                    @match &f.decision {
                                        Some(decision) if decision.active => span class={ "badge state-" (decision.kind.as_str()) } { (decision.kind.as_str()) },
                                        _ => span.badge.neutral { "open" },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card.table-card {
            h2 { "Change history" }
            @if d.history.is_empty() {
                (empty("No change recorded yet."))
            } @else {
                table.data.history {
                    thead { tr { th { "When" } th { "Change" } th { "Server" } th { "Client" } th.num { "Report" } } }
                    tbody {
                        @for event in &d.history {
                            tr {
                                td { (time_ago(event.at, now)) }
                                td { span class={ "badge change-" (event.kind.as_str()) } { (super::activity::kind_label(event.kind)) } }
                                td { (event.server_name) }
                                td { (event.client) }
                                td.num { "#" (event.sequence) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn scope_name(scope: i32) -> &'static str {
    match Scope::from_number(scope) {
        Some(Scope::User) => "user",
        Some(Scope::Project) => "project",
        Some(Scope::Managed) => "managed",
        None | Some(Scope::Unspecified) => "unknown scope",
    }
}

/// One server of the endpoint: where it is configured, what it runs, what it reaches and with
/// which credentials (names and fingerprints), and the processes running it.
fn server_row(s: &ServerView, running: &HashMap<&str, Vec<&ProcessView>>, now: i64) -> Markup {
    html! {
        tr id={ "server-" (s.server_id) } data-server=(s.name) data-client=(s.client) {
            td {
                strong.name { (s.name) }
                " " a href=(server_list::filtered(&[("client", s.client.clone())])) { (s.client) }
                " · " a href=(server_list::filtered(&[("user", s.user.clone())])) { (s.user) }
                " · " span.badge.neutral { (scope_name(s.scope)) }
                br;
                code.path { (s.config_path) }
                @if !s.project.is_empty() { br; span.muted { "project " } code.path { (s.project) } }
                br;
                span.muted { "first seen " (time_ago(s.first_seen_at, now)) }
            }
            td.pkg {
                span.muted { (transport_name(s.transport)) } " "
                (package_cell(s.package_ecosystem, &s.package_name, &s.package_version, &s.endpoint_host))
                @if !s.package_name.is_empty() && (1..=3).contains(&s.package_ecosystem) {
                    " " @if s.pinned { span.badge.ok { "pinned" } } @else { span.badge.warn { "unpinned" } }
                } @else if s.package_name.is_empty() && s.endpoint_host.is_empty() && !s.command.is_empty() {
                    " " code { (s.command) }
                }
                @if let Some(processes) = running.get(s.server_id.as_str()) {
                    @for p in processes {
                        br;
                        span.badge.info { "running" } " pid " (p.pid)
                        @for l in &p.listeners { " " code { (l) } }
                    }
                }
            }
            td {
                @if s.service.is_empty() { span.muted { "—" } }
                @else { a href=(server_list::filtered(&[("service", s.service.clone())])) { (s.service) } }
                " " (server_auth(&s.auth, s.auth_posture, s.auth_verified, &s.auth_missing, &s.auth_reason))
            }
            td.credentials {
                @if s.credentials.is_empty() { span.muted { "none" } }
                @for c in &s.credentials {
                    div.credential {
                        code { (c.location) } " "
                        a href=(credential_locations::filtered(&[("provider", c.provider.clone()), ("kind", c.kind.clone())])) {
                            (c.provider) " " (c.kind)
                        }
                        " " (credential_badge(c.source, c.reference_kind))
                        @if !c.fingerprint.is_empty() {
                            br;
                            a.fingerprint-link href=(credential_locations::fingerprint_link(&c.fingerprint)) title="Every place this secret is used" {
                                code.fingerprint { (c.fingerprint) }
                            }
                        }
                    }
                }
            }
            td.names {
                @if s.env_names.is_empty() && s.header_names.is_empty() { span.muted { "none" } }
                @if !s.env_names.is_empty() { span.muted { "env " } (chips(s.env_names.iter().map(String::as_str))) }
                @if !s.header_names.is_empty() {
                    @if !s.env_names.is_empty() { br; }
                    span.muted { "headers " } (chips(s.header_names.iter().map(String::as_str)))
                }
            }
        }
    }
}
