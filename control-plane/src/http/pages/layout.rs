//! The page frame: head (stylesheet only, no script), a sidebar with the navigation the
//! signed-in role may use, the signed-in user with a logout form carrying the session's CSRF
//! token, the main content and a footer. Pages without a principal (sign-in) get a plain header.
//!
//! The navigation is one table ([`NAV`]); the entry whose label equals the page title is marked
//! `aria-current="page"`. Access is still decided by the route table: hiding an entry is only
//! courtesy.

use maud::{DOCTYPE, Markup, html};

use super::STYLESHEET_PATH;
use crate::http::principal::CSRF_FIELD;
use crate::http::principal::Principal;
use crate::store::Role;

/// One navigation entry: section, label, path, least role that sees it.
struct NavEntry {
    section: &'static str,
    label: &'static str,
    path: &'static str,
    role: Role,
}

const fn entry(section: &'static str, label: &'static str, path: &'static str, role: Role) -> NavEntry {
    NavEntry { section, label, path, role }
}

const NAV: &[NavEntry] = &[
    entry("Inventory", "Overview", "/", Role::Viewer),
    entry("Inventory", "Services", "/services", Role::Viewer),
    entry("Inventory", "Servers", "/servers", Role::Viewer),
    entry("Inventory", "Endpoints", "/endpoints", Role::Viewer),
    entry("Inventory", "Credentials", "/credentials", Role::Viewer),
    entry("Security", "Findings", "/findings", Role::Viewer),
    entry("Security", "Activity", "/activity", Role::Viewer),
    entry("Security", "Policies", "/policies", Role::Viewer),
    entry("Security", "Compliance", "/compliance", Role::Viewer),
    entry("Security", "Exceptions", "/exceptions", Role::Viewer),
    entry("Fleet", "Agents", "/agents", Role::Viewer),
    entry("Administration", "Webhooks", "/webhooks", Role::Admin),
    entry("Administration", "Audit log", "/audit", Role::Admin),
    entry("Administration", "Settings", "/settings", Role::Admin),
];

/// A full HTML page titled `title` around `content`.
pub fn page(title: &str, principal: Option<&Principal>, content: Markup) -> Markup {
    page_with_head(title, principal, html! {}, content)
}

/// The `<head>` element loading the copy buttons' script (`button[data-copy]`), the only script a
/// page may load; pass it to [`page_with_head`].
pub fn copy_script() -> Markup {
    html! { script src=(super::COPY_SCRIPT_PATH) defer {} }
}

/// [`page`] with extra `<head>` elements (never inline script or style: the CSP refuses them;
/// the only script is [`copy_script`]).
pub fn page_with_head(title: &str, principal: Option<&Principal>, head: Markup, content: Markup) -> Markup {
    page_in(title, title, principal, head, content)
}

/// [`page_with_head`] marking the navigation entry labelled `section` as current (for detail
/// pages, whose title is the item's name).
pub fn page_in(title: &str, section: &str, principal: Option<&Principal>, head: Markup, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Muster" }
                link rel="stylesheet" href=(STYLESHEET_PATH);
                (head)
            }
            @if let Some(principal) = principal {
                body.app {
                    aside.sidebar {
                        a.brand href="/" { span.logo aria-hidden="true" { "M" } "Muster" }
                        (navigation(section, principal.role))
                        div.account {
                            div.who {
                                span.user { (principal.name) }
                                span.role { (principal.role) }
                            }
                            @if let Some(csrf) = principal.csrf_token() {
                                form.logout method="post" action="/logout" {
                                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                                    button type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                    div.shell {
                        main { (content) }
                        (footer())
                    }
                }
            } @else {
                body.plain {
                    header.topbar {
                        a.brand href="/" { span.logo aria-hidden="true" { "M" } "Muster" }
                    }
                    main { (content) }
                    (footer())
                }
            }
        }
    }
}

fn navigation(current: &str, role: Role) -> Markup {
    let visible: Vec<&NavEntry> = NAV.iter().filter(|e| role >= e.role).collect();
    let mut sections: Vec<&str> = Vec::new();
    for e in &visible {
        if !sections.contains(&e.section) {
            sections.push(e.section);
        }
    }
    html! {
        nav.mainnav aria-label="Main" {
            @for section in sections {
                p.navsection { (section) }
                ul {
                    @for e in visible.iter().filter(|e| e.section == section) {
                        li {
                            a href=(e.path) aria-current=[(e.label == current).then_some("page")] { (e.label) }
                        }
                    }
                }
            }
        }
    }
}

fn footer() -> Markup {
    html! {
        footer.footer {
            span { "Muster control plane " (env!("CARGO_PKG_VERSION")) }
            a href="/api/v1/openapi.json" { "API (OpenAPI 3.1)" }
            span.muted { "Secret values never leave the laptop: only fingerprints and masked values are stored." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::principal::AuthMethod;

    fn principal(role: Role) -> Principal {
        Principal { name: "<ann>".into(), role, method: AuthMethod::ApiToken { id: "t".into() } }
    }

    #[test]
    fn navigation_follows_the_role_and_marks_the_current_page() {
        let viewer = page("Servers", Some(&principal(Role::Viewer)), html! {}).into_string();
        for path in
            ["/services", "/servers", "/endpoints", "/credentials", "/findings", "/activity", "/agents", "/exceptions"]
        {
            assert!(viewer.contains(&format!("href=\"{path}\"")), "{path}");
        }
        assert!(!viewer.contains("href=\"/settings\"") && !viewer.contains("href=\"/audit\""));
        assert!(viewer.contains(r#"<a href="/servers" aria-current="page">Servers</a>"#), "{viewer}");
        assert!(viewer.contains("&lt;ann&gt;") && !viewer.contains("<ann>"));
        let admin = page("Overview", Some(&principal(Role::Admin)), html! {}).into_string();
        for path in ["/webhooks", "/audit", "/settings"] {
            assert!(admin.contains(&format!("href=\"{path}\"")), "{path}");
        }
        assert!(!admin.contains("style=") && !admin.contains("<script"));
    }
}
