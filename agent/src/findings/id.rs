//! Every finding id a rule can raise, as a type: a rule names a [`FindingId`], never a string,
//! and the catalog refuses to load unless it defines each one (`FindingsError::MissingId`), so
//! a finding can never be dropped for want of its definition. The texts, severities and OWASP
//! ids stay in `agent/data/findings.toml`.

/// Declares [`FindingId`] and its table in one place, so a variant cannot lack its id string
/// or its place in [`FindingId::ALL`].
macro_rules! finding_ids {
    ($($(#[$doc:meta])* $variant:ident = $id:literal,)*) => {
        /// A finding id a rule can raise.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum FindingId {
            $($(#[$doc])* $variant,)*
        }

        impl FindingId {
            /// Every id, in declaration order (`ALL[id.index()] == id`).
            pub const ALL: &[FindingId] = &[$(FindingId::$variant,)*];

            /// The stable id (`MUSTER-SECRET-ENV`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(FindingId::$variant => $id,)*
                }
            }
        }
    };
}

finding_ids! {
    /// A literal secret in a server's environment block (or another config field).
    SecretEnv = "MUSTER-SECRET-ENV",
    /// A literal secret in an HTTP header.
    SecretHeader = "MUSTER-SECRET-HEADER",
    /// A literal secret in a URL.
    SecretUrl = "MUSTER-SECRET-URL",
    /// A literal secret on the command line.
    SecretArg = "MUSTER-SECRET-ARG",
    /// A credential inside a package spec.
    SecretPackageSpec = "MUSTER-SECRET-PACKAGE-SPEC",
    /// A literal secret in a project file git would commit.
    SecretCommittable = "MUSTER-SECRET-COMMITTABLE",
    /// A literal secret in a file other users can read.
    SecretFileReadable = "MUSTER-SECRET-FILE-READABLE",
    /// One secret used by several servers.
    SecretReused = "MUSTER-SECRET-REUSED",
    /// A registry package without a pinned version.
    PkgUnpinned = "MUSTER-PKG-UNPINNED",
    /// A package version with a known vulnerability.
    PkgVulnerable = "MUSTER-PKG-VULNERABLE",
    /// A package known to be malicious.
    PkgMalicious = "MUSTER-PKG-MALICIOUS",
    /// A package version the MCP Registry marks deprecated or deleted.
    PkgDeprecatedVersion = "MUSTER-PKG-DEPRECATED-VERSION",
    /// A remote server over unencrypted HTTP or WebSocket.
    RemotePlaintext = "MUSTER-REMOTE-PLAINTEXT",
    /// The deprecated SSE transport.
    RemoteSseDeprecated = "MUSTER-REMOTE-SSE-DEPRECATED",
    /// A remote server authenticated by a static credential.
    RemoteStaticAuth = "MUSTER-REMOTE-STATIC-AUTH",
    /// A remote server that answered an MCP `initialize` without any credential (probed).
    RemoteNoAuth = "MUSTER-REMOTE-NO-AUTH",
    /// OAuth whose authorization server offers no PKCE with S256 (probed).
    RemoteOauthNoPkce = "MUSTER-REMOTE-OAUTH-NO-PKCE",
    /// OAuth whose authorization server registers clients only dynamically (probed).
    RemoteOauthDcrOnly = "MUSTER-REMOTE-OAUTH-DCR-ONLY",
    /// A server process listening beyond loopback.
    ListenNonloopback = "MUSTER-LISTEN-NONLOOPBACK",
    /// Tools run without asking.
    AutoApprove = "MUSTER-AUTO-APPROVE",
    /// A privileged or host-reaching container.
    DockerPrivileged = "MUSTER-DOCKER-PRIVILEGED",
    /// A filesystem server granted a whole home or root.
    FsBroad = "MUSTER-FS-BROAD",
    /// A server process no configuration starts.
    ShadowServer = "MUSTER-SHADOW-SERVER",
    /// A config file its client will not load.
    ConfigIgnored = "MUSTER-CONFIG-IGNORED",
    /// Servers of one client that together bring all three legs of the lethal trifecta.
    LethalTrifecta = "MUSTER-LETHAL-TRIFECTA",
}

impl FindingId {
    /// Position in [`FindingId::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_declaration_order_with_unique_ids() {
        for (i, id) in FindingId::ALL.iter().enumerate() {
            assert_eq!(id.index(), i, "{id}");
        }
        let unique: std::collections::BTreeSet<&str> = FindingId::ALL.iter().map(|id| id.as_str()).collect();
        assert_eq!(unique.len(), FindingId::ALL.len());
    }
}
