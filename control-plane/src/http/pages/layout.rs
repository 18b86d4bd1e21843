//! The page frame: head (stylesheet only, no script), a header with navigation and the signed-in
//! user with a logout form carrying the session's CSRF token, and the main content.

use maud::{DOCTYPE, Markup, html};

use super::STYLESHEET_PATH;
use crate::http::auth::Principal;
use crate::http::auth::csrf::CSRF_FIELD;

/// A full HTML page titled `title` around `content`.
pub fn page(title: &str, principal: Option<&Principal>, content: Markup) -> Markup {
    page_with_head(title, principal, html! {}, content)
}

/// [`page`] with extra `<head>` elements (never script or style: the CSP refuses them).
pub fn page_with_head(title: &str, principal: Option<&Principal>, head: Markup, content: Markup) -> Markup {
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
            body {
                header.topbar {
                    a.brand href="/" { "Muster" }
                    @if let Some(principal) = principal {
                        nav.mainnav {
                            a href="/" { "Overview" }
                        }
                        div.account {
                            span.user { (principal.name) }
                            span.role { (principal.role) }
                            @if let Some(csrf) = principal.csrf_token() {
                                form.logout method="post" action="/logout" {
                                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                                    button type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main { (content) }
            }
        }
    }
}
