//! The servers page (`/servers`): MCP servers grouped by registry package or remote host, with
//! their versions, how many are pinned, and known advisories; a filter form and keyset pages.
//! The name and the server count link to those servers one by one (`/servers/list`), the
//! endpoint count and each version to the endpoints running them (`/endpoints`).

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::components::{
    bad_params, ecosystem_name, empty, filter_buttons, link, list_params, pager, select, store_error, text_input,
    word_options,
};
use super::layout;
use super::server_list;
use crate::http::AppState;
use muster_proto::v1::Ecosystem;

use crate::http::params::{KindParam, ServerParams, Word};
use crate::http::principal::Principal;
use crate::store::read::GroupKind;

const PATH: &str = "/servers";

pub(crate) async fn servers(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    let (params, back): (ServerParams, _) = match list_params(query.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let store_query = match params.query() {
        Ok(q) => q,
        Err(error) => return bad_params(&error, &principal),
    };
    let page = match state.cp.store.server_groups(&store_query).await {
        Ok(page) => page,
        Err(error) => return store_error(error, &principal),
    };
    let filters = params.filters();
    let kinds: Vec<(&str, &str)> = vec![("package", "Package"), ("remote", "Remote endpoint")];
    let ecosystems = word_options::<Ecosystem>(ecosystem_name);
    let body = html! {
        div.page-head {
            h1 { "Servers" }
            p.lede { "MCP servers grouped by the package they run or the remote endpoint they call." }
        }
        form.filters method="get" action=(PATH) {
            (text_input("q", "Name", params.q.as_deref(), "package or host"))
            (select("kind", "Kind", params.kind.map(KindParam::as_str), &kinds))
            (select("ecosystem", "Ecosystem", params.ecosystem.map(Word::as_str), &ecosystems))
            label.field.check {
                input type="checkbox" name="advisories" value="true" checked[params.advisories == Some(true)];
                span { "With advisories only" }
            }
            (filter_buttons(PATH))
        }
        section.card.table-card {
            @if page.items.is_empty() {
                (empty("No server group matches."))
            } @else {
                table.data {
                    thead {
                        tr {
                            th { "Package or endpoint" }
                            th.num { "Servers" }
                            th.num { "Endpoints" }
                            th { "Versions" }
                            th { "Pinned" }
                            th { "Advisories" }
                        }
                    }
                    tbody {
                        @for group in &page.items {
                            @let remote = group.kind == GroupKind::Remote;
                            @let servers = if remote {
                                server_list::filtered(&[("remote", group.name.clone())])
                            } else {
                                server_list::package_link(group.ecosystem, &group.name, None)
                            };
                            @let endpoints = endpoints_of(group.kind, group.ecosystem, &group.name, None);
                            tr data-group=(group.name) {
                                td {
                                    a href=(servers) { strong.name { (group.name) } }
                                    " "
                                    @match group.kind {
                                        GroupKind::Package => span.badge.neutral { (ecosystem_name(group.ecosystem)) },
                                        GroupKind::Remote => span.badge.info { "remote" },
                                    }
                                }
                                td.num { a.servers-link href=(servers) { (group.servers) } }
                                td.num { a.endpoints-link href=(endpoints) { (group.endpoints) } }
                                td {
                                    @if group.versions.is_empty() { span.muted { "—" } }
                                    @else {
                                        span.chips {
                                            @for version in &group.versions {
                                                a.chip.version-link
                                                    href=(endpoints_of(group.kind, group.ecosystem, &group.name, Some(version)))
                                                    title="Endpoints running this version" { (version) }
                                            }
                                        }
                                    }
                                }
                                td.badges {
                                    // Pinning applies to registry packages only (npm, PyPI, OCI).
                                    @if group.kind == GroupKind::Remote || !(1..=3).contains(&group.ecosystem) {
                                        span.muted { "n/a" }
                                    } @else {
                                        @if group.pinned_servers > 0 { span.badge.ok { (group.pinned_servers) " pinned" } }
                                        @if group.unpinned_servers > 0 { span.badge.warn { (group.unpinned_servers) " unpinned" } }
                                    }
                                }
                                td.badges {
                                    @for advisory in &group.advisories { span.badge.danger { (advisory) } }
                                    @if group.advisories.is_empty() { span.muted { "none known" } }
                                }
                            }
                        }
                    }
                }
            }
            (pager(PATH, &filters, params.cursor.as_deref(), &back, page.next_cursor.as_deref()))
        }
    };
    layout::page("Servers", Some(&principal), body).into_response()
}

/// The endpoints running a group's servers (of one version, for a package).
fn endpoints_of(kind: GroupKind, ecosystem: i32, name: &str, version: Option<&str>) -> String {
    if kind == GroupKind::Remote {
        return link("/endpoints", &[("remote", name.to_string())]);
    }
    let mut pairs = vec![("package", name.to_string())];
    if let Some(word) = Ecosystem::try_from(ecosystem).ok().filter(|e| *e != Ecosystem::Unspecified) {
        pairs.push(("ecosystem", muster_proto::WireWord::word(word).to_string()));
    }
    if let Some(version) = version {
        pairs.push(("version", version.to_string()));
    }
    link("/endpoints", &pairs)
}
