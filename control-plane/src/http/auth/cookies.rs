//! The cookies of the dashboard: the session id (`crate::access::sessions` stores and checks
//! it), the login form's CSRF cookie and the single-sign-on flow id. Cookies are
//! `HttpOnly; SameSite=Strict; Path=/`, plus `Secure` and the `__Host-` name prefix when served
//! over TLS. It does not decide whether a session is valid.

use axum::http::HeaderMap;

pub const SESSION_COOKIE: &str = "muster_session";
/// The pre-session CSRF cookie of the login form (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "muster_login_csrf";
/// Binds a pending single-sign-on flow to the browser that started it.
pub const OIDC_FLOW_COOKIE: &str = "muster_oidc_flow";

/// The cookie's name as sent: `__Host-` prefixed under TLS.
pub fn cookie_name(base: &str, tls: bool) -> String {
    if tls { format!("__Host-{base}") } else { base.to_string() }
}

/// A `Set-Cookie` value, `SameSite=Strict`. `max_age` 0 deletes the cookie.
pub fn set_cookie(base: &str, value: &str, max_age_secs: u64, tls: bool) -> String {
    cookie(base, value, max_age_secs, tls, "Strict")
}

/// A `SameSite=Lax` cookie: only for the single-sign-on flow id, which must come back on the
/// provider's cross-site redirect and names nothing but a pending flow.
pub fn set_cookie_lax(base: &str, value: &str, max_age_secs: u64, tls: bool) -> String {
    cookie(base, value, max_age_secs, tls, "Lax")
}

fn cookie(base: &str, value: &str, max_age_secs: u64, tls: bool, same_site: &str) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age_secs}{secure}",
        cookie_name(base, tls)
    )
}

/// The value of cookie `base` (by its TLS-dependent name) in the request headers.
pub fn read_cookie(headers: &HeaderMap, base: &str, tls: bool) -> Option<String> {
    let name = cookie_name(base, tls);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
        .filter(|value| !value.is_empty() && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_strict_http_only_and_host_prefixed_under_tls() {
        let tls = set_cookie(SESSION_COOKIE, "ab", 60, true);
        assert_eq!(tls, "__Host-muster_session=ab; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
        let plain = set_cookie(SESSION_COOKIE, "ab", 60, false);
        assert!(plain.starts_with("muster_session=ab;") && !plain.contains("Secure"));
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, "a=b; __Host-muster_session=00ff".parse().unwrap());
        assert_eq!(read_cookie(&headers, SESSION_COOKIE, true).as_deref(), Some("00ff"));
        assert_eq!(read_cookie(&headers, SESSION_COOKIE, false), None);
    }
}
