//! Small pieces shared by the operations pages (findings, activity, agents, webhooks, audit,
//! settings): time formatting, the CSRF field, keyset "next page" links that keep the filters,
//! the 303 back to a local path, and the page shown when a form is refused.
//!
//! Nothing here checks roles (the route table does) or touches the store.

use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::{Markup, html};
use serde::Serialize;

use super::components::{flash, utc_text};
use super::layout;
use crate::error::ApiError;
use crate::http::principal::CSRF_FIELD;
use crate::http::principal::Principal;
use crate::http::redirect::is_local_path;

/// [`utc_text`], or `never`.
pub fn utc_or_never(at: Option<i64>) -> String {
    at.map_or_else(|| "never".to_string(), utc_text)
}

/// `span.badge.<tone>.<kind>-<value>` showing `value`: the tone colours it (`ok`, `warn`,
/// `danger`, `info`, `neutral`), the kind class names the state for tests and the browser.
pub fn state_badge(tone: &str, kind: &str, value: &str) -> Markup {
    html! { span class={ "badge " (tone) " " (kind) "-" (value.replace(' ', "-")) } { (value) } }
}

/// Unix seconds of the end of a `YYYY-MM-DD` day (UTC): a waiver "until" a date holds through it.
pub fn end_of_day(date: &str) -> Option<i64> {
    let mut parts = date.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() + 86_400)
}

/// The hidden CSRF field of a state-changing form (empty for API-token callers, who need none).
pub fn csrf_field(principal: &Principal) -> Markup {
    html! {
        @if let Some(token) = principal.csrf_token() {
            input type="hidden" name=(CSRF_FIELD) value=(token);
        }
    }
}

/// `path?query` with the non-empty fields of `query` (None and blank values are left out).
pub fn url_with<T: Serialize>(path: &str, query: &T) -> String {
    let encoded = serde_urlencoded::to_string(query).unwrap_or_default();
    let kept: Vec<&str> = encoded.split('&').filter(|pair| !pair.is_empty() && !pair.ends_with('=')).collect();
    if kept.is_empty() { path.to_string() } else { format!("{path}?{}", kept.join("&")) }
}

/// The pager under a list, as `components::pager` draws it (`rel=first` back to the first page
/// when on a later one, `rel=next` with the cursor and the same filters when there is more), for
/// lists whose filters are a serde struct.
pub fn pager(first_url: Option<&str>, next_url: Option<&str>) -> Markup {
    html! {
        @if first_url.is_some() || next_url.is_some() {
            nav.pager aria-label="Pages" {
                @if let Some(url) = first_url {
                    a.button.secondary rel="first" href=(url) { "« First page" }
                }
                @if let Some(url) = next_url {
                    a.button rel="next" href=(url) { "Next page »" }
                }
            }
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
            p { code.secret data-once="" { (secret) } }
            (facts)
            p { a.button href=(back) { "Done" } }
        }
    };
    let mut response = (StatusCode::CREATED, layout::page(title, Some(principal), body)).into_response();
    // A page holding a secret must not be kept by the browser or a proxy.
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates_are_utc() {
        assert_eq!(utc_or_never(Some(0)), "1970-01-01 00:00 UTC");
        assert_eq!(utc_or_never(None), "never");
        assert_eq!(end_of_day("1970-01-02"), Some(2 * 86_400));
        for bad in ["", "2026-13-01", "2026-02-30", "tomorrow", "2026-1"] {
            assert_eq!(end_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_keep_only_filled_filters() {
        #[derive(Serialize)]
        struct Q {
            a: Option<String>,
            b: Option<String>,
            c: Option<String>,
        }
        let q = Q { a: Some("x y".into()), b: Some(String::new()), c: None };
        assert_eq!(url_with("/p", &q), "/p?a=x+y");
        assert_eq!(url_with("/p", &Q { a: None, b: None, c: None }), "/p");
    }

    #[test]
    fn redirects_stay_local() {
        assert_eq!(local_or(Some("/findings?state=open"), "/findings"), "/findings?state=open");
        for bad in ["//evil.example", "/\\evil", "https://evil", "evil", ""] {
            assert_eq!(local_or(Some(bad), "/findings"), "/findings", "{bad}");
        }
    }
}
