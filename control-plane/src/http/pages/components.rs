//! Pieces every inventory page shares: badges, relative times, chips, filter selects,
//! keyset pagination links, empty-table messages, flash messages and the error page.
//!
//! Everything returns maud [`Markup`] built with escaping; nothing here emits `style=` or script
//! (colours come from classes in `muster.css`). This module holds no queries.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use maud::{Markup, html};
use muster_proto::WireWord;
use muster_proto::v1::{AuthPosture, Ecosystem, Os, Severity, Transport};
use muster_proto::words::UNSPECIFIED;

use super::layout;
use crate::http::params::{BACK_PARAM, join_back};
use crate::http::principal::Principal;
pub use crate::timefmt::{ago_text, short_date, utc_text};

// ---------------------------------------------------------------------------------------------
// Names of the wire model's numbers: words from the proto table, display labels chosen here

/// The severity's word from the proto table; `none` for no finding (0) or an unknown number.
pub fn severity_name(severity: i32) -> &'static str {
    match Severity::from_number(severity) {
        None | Some(Severity::Unspecified) => "none",
        Some(known) => known.word(),
    }
}

pub fn os_name(os: i32) -> &'static str {
    match Os::from_number(os) {
        Some(Os::Linux) => "Linux",
        Some(Os::Macos) => "macOS",
        Some(Os::Windows) => "Windows",
        None | Some(Os::Unspecified) => "unknown",
    }
}

/// The operating system as one label: the agent's version text when it already names the
/// system ("Linux (Debian 12)", "macOS 14.5"), else the system's name before it ("macOS 14.5"
/// from "14.5"), never the name twice.
pub fn os_label(os: i32, version: &str) -> String {
    let name = os_name(os);
    let version = version.trim();
    if version.is_empty() {
        name.to_string()
    } else if version.to_ascii_lowercase().starts_with(&name.to_ascii_lowercase()) {
        version.to_string()
    } else {
        format!("{name} {version}")
    }
}

/// A long identifier (fingerprint, agent id, certificate serial) shortened to its first 12
/// characters for display; pages put the whole value in the element's `title`, the API has it too.
pub fn abbreviated(id: &str) -> String {
    let head: String = id.chars().take(12).collect();
    if head.len() < id.len() { format!("{head}…") } else { head }
}

pub fn ecosystem_name(ecosystem: i32) -> &'static str {
    match Ecosystem::from_number(ecosystem) {
        Some(Ecosystem::Npm) => "npm",
        Some(Ecosystem::Pypi) => "PyPI",
        Some(Ecosystem::Oci) => "OCI",
        Some(Ecosystem::Local) => "local",
        Some(Ecosystem::Binary) => "binary",
        None | Some(Ecosystem::Unspecified) => "",
    }
}

pub fn transport_name(transport: i32) -> &'static str {
    match Transport::from_number(transport) {
        Some(Transport::Stdio) => "stdio",
        Some(Transport::Sse) => "SSE",
        Some(Transport::Http) => "HTTP",
        Some(Transport::Ws) => "WebSocket",
        None | Some(Transport::Unspecified) => "unknown",
    }
}

/// Display label of a remote server's authentication posture (`muster.v1.AuthPosture`).
pub fn posture_name(posture: i32) -> &'static str {
    match AuthPosture::from_number(posture) {
        Some(AuthPosture::Oauth) => "OAuth",
        Some(AuthPosture::OauthPartial) => "OAuth (partial)",
        Some(AuthPosture::StaticKey) => "Static key",
        Some(AuthPosture::None) => "None",
        Some(AuthPosture::Unknown) => "Unknown",
        None | Some(AuthPosture::Unspecified) => "",
    }
}

fn posture_tone(posture: i32) -> &'static str {
    match AuthPosture::from_number(posture) {
        Some(AuthPosture::Oauth) => "ok",
        Some(AuthPosture::OauthPartial) => "warn",
        Some(AuthPosture::StaticKey) => "info",
        Some(AuthPosture::None) => "danger",
        _ => "neutral",
    }
}

/// A server's authentication on the endpoint page: the posture its agent reported, with what an
/// `oauth_partial` server lacks or why it is unknown, and whether the server's answers verified
/// it; without a posture (local servers, older agents), the configuration's label.
pub fn server_auth(auth: &str, posture: i32, verified: bool, missing: &[String], reason: &str) -> Markup {
    let name = posture_name(posture);
    if name.is_empty() {
        return auth_badge(auth);
    }
    let detail = match AuthPosture::from_number(posture) {
        Some(AuthPosture::OauthPartial) if !missing.is_empty() => format!("missing {}", missing.join(", ")),
        Some(AuthPosture::Unknown | AuthPosture::StaticKey) => reason.to_string(),
        _ => String::new(),
    };
    html! {
        span class={ "badge " (posture_tone(posture)) } { (name) }
        @if !detail.is_empty() { " " span.muted { (detail) } }
        @if !verified { " " span.muted title="From the configuration alone: the agent did not ask the server" { "(not verified)" } }
    }
}

/// `(word, label)` options of a filter `<select>` over a wire enum (without `unspecified`).
pub fn word_options<T: WireWord>(label: impl Fn(i32) -> &'static str) -> Vec<(&'static str, &'static str)> {
    T::ALL.iter().filter(|v| v.word() != UNSPECIFIED).map(|v| (v.word(), label(v.number()))).collect()
}

// ---------------------------------------------------------------------------------------------
// Badges and chips

/// `span.badge.sev-<name>` with the severity's name.
pub fn severity_badge(severity: i32) -> Markup {
    let name = severity_name(severity);
    html! { span class={ "badge sev-" (name) } { (name) } }
}

/// `singular` for 1, else `plural`: "1 endpoint enrolled", "2 endpoints enrolled".
pub fn plural(n: i64, singular: &'static str, plural: &'static str) -> &'static str {
    if n == 1 { singular } else { plural }
}

/// A badge with a count, omitted when the count is zero. `tone` is a class (`danger`, `ok`, ...).
pub fn count_badge(tone: &str, label: &str, count: i64) -> Markup {
    html! {
        @if count > 0 {
            span class={ "badge " (tone) } { (label) " " strong { (count) } }
        }
    }
}

/// How a server authenticates, as stored (`oauth`, `reference`, `literal`, `none`), as a badge.
pub fn auth_badge(auth: &str) -> Markup {
    let (tone, label) = auth_label(auth);
    html! { span class={ "badge " (tone) } { (label) } }
}

/// `(tone, label)` of a stored auth word. `reference` is what is left once environment variables
/// and secret managers are told apart: a client prompt, a file, or an agent too old to say.
pub fn auth_label(auth: &str) -> (&'static str, &'static str) {
    match auth {
        "oauth" => ("ok", "OAuth"),
        "env_reference" => ("info", "Environment reference"),
        "secret_manager" => ("ok", "Secret manager"),
        "reference" => ("neutral", "Other reference"),
        "literal" => ("danger", "Literal key"),
        _ => ("neutral", "None"),
    }
}

/// `(tone, label)` of one credential: a literal, or a reference by where its secret is kept
/// (`muster.v1.ReferenceKind`; an agent older than that field says nothing: kind unknown).
pub fn credential_label(source: i32, reference_kind: i32) -> (&'static str, &'static str) {
    use muster_proto::v1::{CredentialSource, ReferenceKind};
    if source == CredentialSource::Literal as i32 {
        return ("danger", "Literal");
    }
    match ReferenceKind::from_number(reference_kind) {
        Some(ReferenceKind::Environment) => ("info", "Environment reference"),
        Some(ReferenceKind::SecretManager) => ("ok", "Secret manager reference"),
        Some(ReferenceKind::Prompt) => ("info", "Prompt reference"),
        Some(ReferenceKind::File) => ("info", "File reference"),
        Some(ReferenceKind::Unspecified) | None => ("neutral", "Reference (kind unknown)"),
    }
}

/// [`credential_label`] as a badge.
pub fn credential_badge(source: i32, reference_kind: i32) -> Markup {
    let (tone, label) = credential_label(source, reference_kind);
    html! { span class={ "badge " (tone) } { (label) } }
}

pub fn chips<'a>(items: impl IntoIterator<Item = &'a str>) -> Markup {
    html! {
        span.chips {
            @for item in items { span.chip { (item) } }
        }
    }
}

/// The link to an endpoint's page, as the agreed markup names it.
pub fn endpoint_link(agent_id: &str, hostname: &str) -> Markup {
    let label = if hostname.is_empty() { agent_id } else { hostname };
    html! { a.endpoint-link href={ "/endpoints/" (agent_id) } { (label) } }
}

/// `span.dot.online` / `span.dot.offline` with the word.
pub fn online_dot(online: bool) -> Markup {
    html! {
        @if online { span.status.online { "online" } } @else { span.status.offline { "offline" } }
    }
}

// ---------------------------------------------------------------------------------------------
// Time

/// A `<time>` with the relative text and the exact UTC time as its title.
pub fn time_ago(at: i64, now: i64) -> Markup {
    html! { time title=(utc_text(at)) { (ago_text(at, now)) } }
}

/// [`time_ago`] for an optional time ("never" when absent).
pub fn maybe_time_ago(at: Option<i64>, now: i64) -> Markup {
    match at {
        Some(at) => time_ago(at, now),
        None => html! { span.muted { "never" } },
    }
}

// ---------------------------------------------------------------------------------------------
// Lists: empty states, filters, pagination

/// The message an empty table shows instead of its rows.
pub fn empty(message: &str) -> Markup {
    html! { p.empty { (message) } }
}

/// `path?a=b&...` with the pairs URL-encoded (no `?` when there are none).
pub fn link(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    format!("{path}?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
}

/// Keyset pagination, carrying the list's filters: `a[rel=next]` to the next page, and on later
/// pages `a[rel=prev]` to the previous one (from the `back` trail of cursors) and `a[rel=first]`.
pub fn pager(
    path: &str,
    filters: &[(&'static str, String)],
    current: Option<&str>,
    back: &[Option<String>],
    next: Option<&str>,
) -> Markup {
    let with = |cursor: Option<&str>, trail: &[Option<String>]| {
        let mut pairs = filters.to_vec();
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor.to_string()));
        }
        if !trail.is_empty() {
            pairs.push((BACK_PARAM, join_back(trail)));
        }
        link(path, &pairs)
    };
    let previous = back.last().cloned().flatten();
    let before_previous = &back[..back.len().saturating_sub(1)];
    let mut next_trail = back.to_vec();
    next_trail.push(current.map(str::to_string));
    html! {
        @if current.is_some() || next.is_some() {
            nav.pager aria-label="Pages" {
                @if current.is_some() {
                    @if previous.is_some() {
                        a.button.secondary rel="first" href=(with(None, &[])) { "« First page" }
                    }
                    a.button.secondary rel="prev" href=(with(previous.as_deref(), before_previous)) { "‹ Previous" }
                }
                @if let Some(next) = next {
                    a.button rel="next" href=(with(Some(next), &next_trail)) { "Next page ›" }
                }
            }
        }
    }
}

/// A `<select>` with an "any" option and the current value selected.
pub fn select(name: &str, label: &str, current: Option<&str>, options: &[(&str, &str)]) -> Markup {
    html! {
        label.field {
            span { (label) }
            select name=(name) {
                option value="" { "Any" }
                @for (value, text) in options {
                    option value=(value) selected[current == Some(*value)] { (text) }
                }
            }
        }
    }
}

/// A text `<input>` with its label.
pub fn text_input(name: &str, label: &str, current: Option<&str>, placeholder: &str) -> Markup {
    html! {
        label.field {
            span { (label) }
            input type="search" name=(name) value=(current.unwrap_or("")) placeholder=(placeholder);
        }
    }
}

/// The filter form's buttons: apply, and a reset link to the unfiltered list.
pub fn filter_buttons(path: &str) -> Markup {
    html! {
        div.actions {
            button type="submit" { "Apply" }
            a.button.secondary href=(path) { "Reset" }
        }
    }
}

/// A message at the top of a page; `tone` is `ok`, `info` or `error`.
pub fn flash(tone: &str, message: &str) -> Markup {
    html! { p class={ "flash " (tone) } role="status" { (message) } }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An HTML error page (e.g. 400 for a bad query string, 404 for an unknown endpoint).
pub fn error_page(status: StatusCode, message: &str, principal: &Principal) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = html! {
        h1 { (title) }
        (flash("error", message))
        p { a href="/" { "Back to the overview" } }
    };
    (status, layout::page(title, Some(principal), body)).into_response()
}

/// A store failure as an error page (logged by the conversion, never echoed).
pub fn store_error(error: crate::store::StoreError, principal: &Principal) -> Response {
    let error = crate::error::ApiError::from(error);
    error_page(error.code.http(), &error.message, principal)
}

/// A bad query string as a 400 page naming the parameter.
pub fn bad_params(error: &crate::http::params::ParamError, principal: &Principal) -> Response {
    error_page(StatusCode::BAD_REQUEST, &error.0, principal)
}

/// A list page's query string: its `back` trail of earlier cursors and its parameters as `T`;
/// either one malformed is the 400 page naming the parameter.
#[allow(clippy::result_large_err, reason = "the error is the page the handler answers with, built once")]
pub fn list_params<T: serde::de::DeserializeOwned>(
    query: Option<&str>,
    principal: &Principal,
) -> Result<(T, Vec<Option<String>>), Response> {
    let (query, back) = crate::http::params::split_back(query).map_err(|error| bad_params(&error, principal))?;
    let params = crate::http::params::parse(query.as_deref()).map_err(|error| bad_params(&error, principal))?;
    Ok((params, back))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15: the endpoint page read "Linux Linux (Debian 12)".
    #[test]
    fn the_os_label_names_the_system_once() {
        assert_eq!(os_label(1, "Linux (Debian 12)"), "Linux (Debian 12)");
        assert_eq!(os_label(2, "14.5"), "macOS 14.5");
        assert_eq!(os_label(2, "macOS 14.5 Sonoma"), "macOS 14.5 Sonoma");
        assert_eq!(os_label(3, " "), "Windows");
    }

    #[test]
    fn times_show_relative_text_with_the_utc_title() {
        assert_eq!(time_ago(0, 180).into_string(), r#"<time title="1970-01-01 00:00 UTC">3 min ago</time>"#);
        assert_eq!(maybe_time_ago(None, 0).into_string(), r#"<span class="muted">never</span>"#);
    }

    #[test]
    fn links_encode_their_pairs_and_pagers_carry_filters() {
        assert_eq!(link("/e", &[]), "/e");
        assert_eq!(link("/e", &[("q", "a b&c".into())]), "/e?q=a+b%26c");
        let filters = [("os", "linux".to_string())];
        // Page one: only next, remembering page one as "-".
        let html = pager("/e", &filters, None, &[], Some("bb")).into_string();
        assert_eq!(html.matches("<a").count(), 1, "{html}");
        assert!(html.contains(r#"rel="next" href="/e?os=linux&amp;cursor=bb&amp;back=-""#), "{html}");
        // Page two: prev is page one (no cursor), no first link (prev is the first page).
        let html = pager("/e", &filters, Some("bb"), &[None], Some("cc")).into_string();
        assert!(html.contains(r#"rel="prev" href="/e?os=linux""#), "{html}");
        assert!(html.contains(r#"rel="next" href="/e?os=linux&amp;cursor=cc&amp;back=-%2Cbb""#), "{html}");
        assert!(!html.contains("rel=\"first\""));
        // Page three, the last: prev goes to page two with the shorter trail.
        let html = pager("/e", &filters, Some("cc"), &[None, Some("bb".into())], None).into_string();
        assert!(html.contains(r#"rel="prev" href="/e?os=linux&amp;cursor=bb&amp;back=-""#), "{html}");
        assert!(html.contains(r#"rel="first" href="/e?os=linux""#) && !html.contains("rel=\"next\""), "{html}");
        assert!(pager("/e", &[], None, &[], None).into_string().is_empty());
    }

    #[test]
    fn names_are_escaped_in_badges_and_links() {
        let html = endpoint_link("id", "<b>").into_string();
        assert_eq!(html, r#"<a class="endpoint-link" href="/endpoints/id">&lt;b&gt;</a>"#);
        assert_eq!(severity_badge(5).into_string(), r#"<span class="badge sev-critical">critical</span>"#);
    }
}
