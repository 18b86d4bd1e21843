//! The credentials page (`/credentials`): literal secrets grouped by provider, kind and location
//! type, and reused credential fingerprints (one secret on several machines, or used by several
//! servers of one machine), shown in full and searchable by their start, paged by keyset. Only counts and keyed fingerprints are shown: the store holds no value.
//! Every provider, kind, count and fingerprint links to the places behind it
//! (`/credentials/locations`).

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::components::{
    bad_params, empty, filter_buttons, list_params, pager, plural, select, store_error, text_input,
};
use super::credential_locations as locations;
use super::layout;
use crate::http::AppState;
use crate::http::params::SharedParams;
use crate::http::principal::Principal;

const PATH: &str = "/credentials";

pub(crate) async fn credentials(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Response {
    let (params, back): (SharedParams, _) = match list_params(query.as_deref(), &principal) {
        Ok(parsed) => parsed,
        Err(page) => return page,
    };
    let store_query = match params.query() {
        Ok(q) => q,
        Err(error) => return bad_params(&error, &principal),
    };
    let (groups, totals, shared) = match tokio::try_join!(
        state.cp.store.secret_groups(),
        state.cp.store.secret_totals(),
        state.cp.store.shared_fingerprints(&store_query)
    ) {
        Ok(all) => all,
        Err(error) => return store_error(error, &principal),
    };
    let body = html! {
        div.page-head {
            h1 { "Credentials" }
            p.lede {
                "Literal secrets written into MCP configurations. Values never leave the laptop: "
                "the control plane sees a keyed fingerprint, so it can tell where one secret is reused."
            }
        }
        section.card.table-card {
            h2 { "Literal secrets by provider and location" }
            (secret_totals(totals))
            @if groups.is_empty() {
                (empty("No literal secret found on the fleet."))
            } @else {
                table.data {
                    thead { tr { th { "Provider" } th { "Kind" } th { "Location" } th.num title="Places a plain-text key is written" { "Uses" } th.num { "Endpoints" } } }
                    tbody {
                        @for g in &groups {
                            @let literal = ("source", "literal".to_string());
                            @let provider = ("provider", g.provider.clone());
                            @let kind = ("kind", g.kind.clone());
                            @let places = locations::filtered(&[
                                literal.clone(), provider.clone(), kind.clone(), ("location", g.location_type.clone()),
                            ]);
                            tr {
                                td { a href=(locations::filtered(&[literal.clone(), provider.clone()])) { strong { (g.provider) } } }
                                td { a href=(locations::filtered(&[literal, provider, kind])) { (g.kind) } }
                                td { a href=(places) { span.badge.neutral { (g.location_type) } } }
                                td.num { a.locations-link href=(places) { span.badge.danger { (g.secrets) } } }
                                td.num { a href=(places) { (g.endpoints) } }
                            }
                        }
                    }
                }
            }
        }
        section.card.table-card {
            h2 { "Reused secrets" }
            form.filters method="get" action=(PATH) {
                (text_input("provider", "Provider", params.provider.as_deref(), "e.g. github"))
                (text_input("q", "Fingerprint", params.q.as_deref(), "start of a fingerprint"))
                (select("reuse", "Reuse", params.reuse.map(|r| r.as_str()), &[
                    ("across_hosts", "On several hosts"),
                    ("within_host", "Within one host"),
                    ("any", "Anywhere"),
                ]))
                label.field {
                    span { "Seen on at least" }
                    input type="number" name="min_hosts" min="1" value=(params.min_hosts.map(|n| n.to_string()).unwrap_or_default());
                }
                (filter_buttons(PATH))
            }
            @if shared.items.is_empty() {
                (empty("No fingerprint matches."))
            } @else {
                table.data {
                    thead { tr { th { "Fingerprint" } th { "Provider" } th { "Kind" } th.num { "Hosts" } th.num { "Servers" } } }
                    tbody {
                        @for f in &shared.items {
                            @let places = locations::fingerprint_link(&f.fingerprint);
                            tr data-fingerprint=(f.fingerprint) {
                                td { a.fingerprint-link href=(places) { code.fingerprint { (f.fingerprint) } } }
                                td { (f.provider) }
                                td { (f.kind) }
                                td.num { a href=(places) { span.badge.warn { (f.hosts) } } }
                                td.num { a href=(places) { (f.servers) } }
                            }
                        }
                    }
                }
            }
            (pager(PATH, &params.filters(), params.cursor.as_deref(), &back, shared.next_cursor.as_deref()))
        }
    };
    layout::page("Credentials", Some(&principal), body).into_response()
}

/// The fleet's literal secrets counted both ways, each labelled, as the Overview's card says
/// them: distinct secrets (distinct fingerprints) and uses (places one is written).
pub(crate) fn secret_totals(totals: crate::store::read::SecretTotals) -> maud::Markup {
    html! {
        p.secret-totals {
            span.badge.danger { strong.distinct-secrets { (totals.distinct) } " " (plural(totals.distinct, "distinct secret", "distinct secrets")) }
            " in "
            span.badge.neutral { strong.secret-uses { (totals.uses) } " " (plural(totals.uses, "use", "uses")) }
            " (one secret written in two places is two uses)"
        }
    }
}
