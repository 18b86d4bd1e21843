//! What the agent may ask: the probe URL of one server, built from its wire endpoint only
//! (scheme, host, port, path; no userinfo, query or fragment), or why it may not ask.

use muster_proto::v1 as pb;
use url::Url;

use crate::secrets::mask::MASK;

/// One URL to probe, and whether to speak the deprecated SSE transport to it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProbeTarget {
    key: String,
    sse: bool,
}

/// Why a remote server is not probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The masking changed the host or path: a credential sits in it.
    CredentialInUrl,
    /// The URL holds an unresolved variable or placeholder.
    Unresolved,
    /// The endpoint does not make a URL.
    Invalid,
}

impl Skip {
    /// The reason as the inventory says it.
    pub fn reason(self) -> &'static str {
        match self {
            Skip::CredentialInUrl => "not probed: a credential is part of the URL's host or path",
            Skip::Unresolved => "not probed: the URL holds an unresolved variable",
            Skip::Invalid => "not probed: the URL is not valid",
        }
    }
}

impl ProbeTarget {
    /// The probe target of `server`: `None` when it reaches no `http(s)` URL.
    pub fn of(server: &pb::McpServer) -> Option<Result<ProbeTarget, Skip>> {
        let e = server.endpoint.as_ref()?;
        let scheme = e.scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let sse = server.transport == pb::Transport::Sse as i32;
        Some(Self::from_parts(&scheme, &e.host, e.port, &e.path, sse))
    }

    fn from_parts(scheme: &str, host: &str, port: Option<u32>, path: &str, sse: bool) -> Result<ProbeTarget, Skip> {
        if host.contains(MASK) || path.contains(MASK) {
            return Err(Skip::CredentialInUrl);
        }
        let unresolved = |s: &str| s.contains('$') || s.contains('{') || s.contains('}') || s.contains('<');
        if host.is_empty() || unresolved(host) || unresolved(path) {
            return Err(if host.is_empty() { Skip::Invalid } else { Skip::Unresolved });
        }
        let mut url = Url::parse(&format!("{scheme}://{host}")).map_err(|_| Skip::Invalid)?;
        if let Some(p) = port {
            url.set_port(Some(u16::try_from(p).map_err(|_| Skip::Invalid)?)).map_err(|_| Skip::Invalid)?;
        }
        url.set_path(if path.is_empty() { "/" } else { path });
        if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
            return Err(Skip::Invalid);
        }
        Ok(ProbeTarget { key: url.to_string(), sse })
    }

    /// The probe URL as text: the cache key and the key of [`super::annotate`]'s answers.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn url(&self) -> Result<Url, url::ParseError> {
        Url::parse(&self.key)
    }

    /// Scheme, host and port: what the per-host time bound applies to.
    pub fn origin(&self) -> String {
        self.url().map(|u| u.origin().ascii_serialization()).unwrap_or_default()
    }

    pub fn sse(&self) -> bool {
        self.sse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_keeps_scheme_host_port_and_path_only() {
        let t = ProbeTarget::from_parts("https", "mcp.example.com", Some(8443), "/v1/mcp", false);
        assert_eq!(t.map(|t| t.key), Ok("https://mcp.example.com:8443/v1/mcp".to_string()));
        let t = ProbeTarget::from_parts("http", "127.0.0.1", None, "", false);
        assert_eq!(t.map(|t| t.key), Ok("http://127.0.0.1/".to_string()));
    }

    #[test]
    fn a_masked_or_templated_url_is_not_probed() {
        let masked = format!("/mcp/{MASK}/sse");
        assert_eq!(ProbeTarget::from_parts("https", "h.example", None, &masked, true), Err(Skip::CredentialInUrl));
        assert_eq!(ProbeTarget::from_parts("https", "${HOST}", None, "/", false), Err(Skip::Unresolved));
        assert_eq!(ProbeTarget::from_parts("https", "h.example", None, "/{tenant}/mcp", false), Err(Skip::Unresolved));
        assert_eq!(ProbeTarget::from_parts("https", "", None, "/", false), Err(Skip::Invalid));
        // Userinfo smuggled into the host field cannot come back as userinfo.
        assert!(ProbeTarget::from_parts("https", "user:pw@h.example", None, "/", false).is_err());
    }
}
