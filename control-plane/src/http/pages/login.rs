//! The sign-in page: username and password (with the pre-session CSRF token), and a single
//! sign-on button when OIDC is configured. Error messages never say whether an account exists.

use maud::{Markup, html};

use crate::http::principal::CSRF_FIELD;

#[derive(Debug)]
pub struct LoginView<'a> {
    pub csrf_token: &'a str,
    /// A local path, already checked by `safe_next`.
    pub next: &'a str,
    pub error: Option<&'a str>,
    pub sso: bool,
}

pub fn login_page(view: &LoginView<'_>) -> Markup {
    let content = html! {
        section.card.login {
            h1 { "Sign in" }
            @if let Some(error) = view.error {
                p.error role="alert" { (error) }
            }
            form method="post" action="/login" {
                input type="hidden" name=(CSRF_FIELD) value=(view.csrf_token);
                input type="hidden" name="next" value=(view.next);
                label for="username" { "Username" }
                input #username type="text" name="username" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            @if view.sso {
                p.sso {
                    a.button href={ "/auth/oidc/start?" (serde_urlencoded::to_string([("next", view.next)]).unwrap_or_default()) } {
                        "Sign in with single sign-on"
                    }
                }
            }
        }
    };
    super::layout::page("Sign in", None, content)
}

/// After single sign-on: moves on to `next` (a local path) by meta refresh, with a link as well.
pub fn continue_page(next: &str) -> Markup {
    let head = html! { meta http-equiv="refresh" content={ "0;url=" (next) }; };
    let content = html! {
        section.card.login {
            h1 { "Signed in" }
            p { a href=(next) { "Continue" } }
        }
    };
    super::layout::page_with_head("Signed in", None, head, content)
}
