//! Who may use the dashboard and the API: accounts, their passwords, browser sessions and API
//! tokens. The use-cases here (create a user, issue or revoke an API token, start, resume and end
//! a session) are shared by the HTTP listener and `muster-server`; they return an
//! [`crate::audit::AuditEvent`] instead of writing audit rows, and never see HTTP.
//!
//! Not here: cookies, the login form and single sign-on (`crate::http::auth`), role checks
//! (`crate::http::roles`).

pub mod accounts;
pub mod api_tokens;
pub mod password;
pub mod sessions;
