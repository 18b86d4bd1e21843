//! The credential locations (`/credentials/locations`): one row per credential of one server,
//! the list behind every credential count and fingerprint: a fingerprint's every use, across
//! hosts and within one; a provider's or kind's literal secrets. Each row links to its endpoint,
//! the server on the endpoint's page, and its fingerprint, provider and kind to this list
//! filtered by them. Only names, locations and keyed fingerprints: the store holds no value.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::components::{
    bad_params, credential_badge, empty, endpoint_link, filter_buttons, link, list_params, pager, select, store_error,
    text_input,
};
use super::layout;
use super::server_list::server_on_endpoint;
use crate::http::AppState;
use crate::http::params::{CredentialLocationParams, LocationTypeParam, Word};
use crate::http::principal::Principal;

pub const PATH: &str = "/credentials/locations";

/// A link to this list filtered by `pairs`.
pub fn filtered(pairs: &[(&str, String)]) -> String {
    link(PATH, pairs)
}

/// The link to every place a fingerprint is used.
pub fn fingerprint_link(fingerprint: &str) -> String {
    filtered(&[("fingerprint", fingerprint.to_string())])
}

pub(crate) async fn credential_locations(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    let (params, back): (CredentialLocationParams, _) = match list_params(query.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let store_query = match params.query() {
        Ok(q) => q,
        Err(error) => return bad_params(&error, &principal),
    };
    let page = match state.cp.store.credential_locations(&store_query).await {
        Ok(page) => page,
        Err(error) => return store_error(error, &principal),
    };
    let sources = [("literal", "Literal (in the file)"), ("reference", "Reference")];
    let locations: Vec<(&str, &str)> = LocationTypeParam::ALL.iter().map(|l| (l.as_str(), l.as_str())).collect();
    let body = html! {
        div.page-head {
            p.crumbs { a href="/credentials" { "Credentials" } " / " }
            h1 { "Where credentials are used" }
            p.lede {
                "Each credential in each server's configuration. Values never leave the laptop; "
                "one keyed fingerprint is one secret, wherever it is used."
            }
        }
        form.filters method="get" action=(PATH) {
            (text_input("fingerprint", "Fingerprint", params.fingerprint.as_deref(), "whole fingerprint"))
            (text_input("provider", "Provider", params.provider.as_deref(), "e.g. github"))
            (text_input("kind", "Kind", params.kind.as_deref(), "e.g. token"))
            (select("source", "Source", params.source.map(Word::as_str), &sources))
            (select("location", "Location", params.location.map(LocationTypeParam::as_str), &locations))
            @if let Some(agent) = &params.agent { input type="hidden" name="agent" value=(agent); }
            (filter_buttons(PATH))
        }
        section.card.table-card {
            @if page.items.is_empty() {
                (empty("No credential matches these filters."))
            } @else {
                table.data.credential-locations {
                    thead {
                        tr {
                            th { "Endpoint" } th { "Server" } th { "User" } th { "Location" }
                            th { "Provider and kind" } th { "Fingerprint" }
                        }
                    }
                    tbody {
                        @for c in &page.items {
                            tr data-host=(c.hostname) {
                                td { (endpoint_link(&c.agent_id, &c.hostname)) }
                                td {
                                    a.server-link href=(server_on_endpoint(&c.agent_id, &c.server_id)) { strong.name { (c.server_name) } }
                                    " " span.muted { (c.client) }
                                    br;
                                    code.path { (c.config_path) }
                                }
                                td { (c.user) }
                                td { code { (c.location) } }
                                td {
                                    a href=(filtered(&[("provider", c.provider.clone())])) { strong { (c.provider) } }
                                    " · "
                                    a href=(filtered(&[("provider", c.provider.clone()), ("kind", c.kind.clone())])) { (c.kind) }
                                    " "
                                    (credential_badge(c.source, c.reference_kind))
                                }
                                td {
                                    @if c.fingerprint.is_empty() { span.muted { "—" } }
                                    @else { a.fingerprint-link href=(fingerprint_link(&c.fingerprint)) { code.fingerprint { (c.fingerprint) } } }
                                }
                            }
                        }
                    }
                }
            }
            (pager(PATH, &params.filters(), params.cursor.as_deref(), &back, page.next_cursor.as_deref()))
        }
    };
    layout::page_in("Where credentials are used", "Credentials", Some(&principal), html! {}, body).into_response()
}
