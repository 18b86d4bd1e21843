//! Small pieces shared by the operations pages (findings, activity, agents, webhooks, audit,
//! settings): the CSRF field, state badges, the 303 back to a local path, and the page shown when
//! a form is refused. Time formatting is `crate::timefmt`'s, pagination `components::pager`.
//!
//! Nothing here checks roles (the route table does) or touches the store.

use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::{Markup, html};

use super::components::flash;
use super::layout;
use crate::error::ApiError;
use crate::http::principal::{CSRF_FIELD, Principal};
use crate::http::redirect::is_local_path;
pub use crate::timefmt::{end_of_day, utc_or_never};

/// `span.badge.<tone>.<kind>-<value>` showing `value`: the tone colours it (`ok`, `warn`,
/// `danger`, `info`, `neutral`), the kind class names the state for tests and the browser.
pub fn state_badge(tone: &str, kind: &str, value: &str) -> Markup {
    html! { span class={ "badge " (tone) " " (kind) "-" (value.replace(' ', "-")) } { (value) } }
}

/// The hidden CSRF field of a state-changing form (empty for API-token callers, who need none).
pub fn csrf_field(principal: &Principal) -> Markup {
    html! {
        @if let Some(token) = principal.csrf_token() {
            input type="hidden" name=(CSRF_FIELD) value=(token);
        }
    }
}

/// `next` if it is a local path (`/…`, not `//host` or `/\host`), else `fallback`.
pub fn local_or(next: Option<&str>, fallback: &str) -> String {
    match next {
        Some(path) if is_local_path(path) => path.to_string(),
        _ => fallback.to_string(),
    }
}

/// 303 See Other to `location` (a local path).
pub fn see_other(location: &str) -> Response {
    let mut response = Redirect::to(location).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
}

/// A form's success: 303 to `location`, carrying `detail` for the audit log.
pub fn done<D: Clone + Send + Sync + 'static>(location: &str, detail: D) -> Response {
    audited(see_other(location), detail)
}

/// `response` carrying `detail` for the audit log (`crate::http::audit` reads it).
pub fn audited<D: Clone + Send + Sync + 'static>(mut response: Response, detail: D) -> Response {
    response.extensions_mut().insert(detail);
    response
}

/// The page a refused form answers with: the error's status and its (safe) message, and a link
/// back to `back`.
pub fn refused(principal: &Principal, error: &ApiError, back: &str) -> Response {
    let body = html! {
        div.page-head { h1 { "Not done" } }
        (flash("error", &error.message))
        p { a.button.secondary href=(back) { "Back" } }
    };
    (error.code.http(), layout::page("Not done", Some(principal), body)).into_response()
}

/// A page that shows a just-created secret once, with a way back.
pub fn shown_once(
    principal: &Principal,
    title: &str,
    label: &str,
    secret: &str,
    facts: Markup,
    back: &str,
) -> Response {
    let body = html! {
        div.page-head { h1 { (title) } }
        section.card.once {
            p.warning { "Copy the " (label) " now: it is shown only once and cannot be retrieved later." }
            p {
                code.secret #once-secret data-once="" { (secret) } " "
                button.secondary type="button" data-copy="once-secret" { "Copy" }
            }
            (facts)
            p { a.button href=(back) { "Done" } }
        }
    };
    let page = layout::page_with_head(title, Some(principal), layout::copy_script(), body);
    let mut response = (StatusCode::CREATED, page).into_response();
    // A page holding a secret must not be kept by the browser or a proxy.
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_local() {
        assert_eq!(local_or(Some("/findings?state=open"), "/findings"), "/findings?state=open");
        for bad in ["//evil.example", "/\\evil", "https://evil", "evil", ""] {
            assert_eq!(local_or(Some(bad), "/findings"), "/findings", "{bad}");
        }
    }
}
