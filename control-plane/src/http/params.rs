//! Query strings of every list: the `/api/v1` list calls and the dashboard pages that show the
//! same lists. One serde struct per list, shared by the page and the API handler so both accept
//! the same filters, and their conversion to the store's queries. Lists without filters take
//! [`NoParams`].
//!
//! The convention (ARCHITECTURE.md, "One API dialect"): every struct denies unknown fields and is
//! read with [`parse`], so an unknown parameter, a value outside its set, a bad limit or a cursor
//! this server did not issue is a [`ParamError`] naming the parameter (HTTP 400), never silently
//! ignored. Empty values count as absent, because a GET form submits its empty fields. Paged lists
//! take `cursor` (the previous page's `next_cursor`) and `limit` (1 to 500). Wire-enum values are
//! words from the proto table ([`Word`]: `macos`, `high`), never numbers.
//!
//! This module does not know about pages or JSON: it only turns text into queries and back into
//! link parameters.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::{IntoParams, ToSchema};

use muster_proto::v1;

use crate::error::{ApiError, ErrorCode};
use crate::ingest::ChangeKind;
use crate::store::exception_requests::{RequestQuery, RequestState};
use crate::store::read::{
    ActivityQuery, AgentQuery, CredentialQuery, Cursor, EndpointQuery, EndpointSort, FindingQuery, FindingStateFilter,
    FingerprintQuery, FingerprintReuse, GroupKind, MAX_PAGE, ServerGroupQuery, ServerQuery,
};
pub use crate::words::Word;

/// A query string the handler cannot use; the message names the parameter and is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

impl From<ParamError> for ApiError {
    fn from(error: ParamError) -> Self {
        ApiError::new(ErrorCode::InvalidArgument, error.0)
    }
}

/// Parses `query` (without the `?`) into `T`, dropping empty values first.
pub fn parse<T: DeserializeOwned>(query: Option<&str>) -> Result<T, ParamError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| ParamError("query string: not valid URL encoding".into()))?;
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(_, value)| !value.is_empty()).collect();
    let text = serde_urlencoded::to_string(&kept).map_err(|_| ParamError("query string: not encodable".into()))?;
    serde_urlencoded::from_str(&text).map_err(|error| ParamError(describe(&error.to_string())))
}

/// serde's messages, shortened to what a person needs ("unknown field `x`, expected one of ...").
fn describe(message: &str) -> String {
    let message = message.replace("unknown field", "unknown parameter");
    if !message.starts_with("unknown parameter") {
        return format!("query string: {message}");
    }
    // Drop serde's ", expected one of ..." / ", there are no fields" tail.
    match message.find("`, ") {
        Some(at) => message[..=at].to_string(),
        None => message,
    }
}

/// The pages-only parameter holding the cursors of the pages before the current one (`-` for
/// the first page), comma-separated, so a page can link back (`rel=prev`): keyset cursors only
/// go forward.
pub const BACK_PARAM: &str = "back";
/// The most pages a `back` trail remembers; older ones fall off (back then ends on page one).
pub const MAX_BACK: usize = 50;

/// Splits the `back` trail off a page's query string: the rest (for the list's own struct) and
/// the trail, oldest first (`None` is the first page).
pub fn split_back(query: Option<&str>) -> Result<(Option<String>, Vec<Option<String>>), ParamError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| ParamError("query string: not valid URL encoding".into()))?;
    let mut back = Vec::new();
    let mut rest = Vec::new();
    for (name, value) in pairs {
        if name != BACK_PARAM {
            rest.push((name, value));
            continue;
        }
        for entry in value.split(',').filter(|e| !e.is_empty()) {
            let entry = if entry == "-" { None } else { cursor(&Some(entry.to_string()))? };
            back.push(entry);
        }
    }
    if back.len() > MAX_BACK {
        back.drain(..back.len() - MAX_BACK);
    }
    let rest = serde_urlencoded::to_string(&rest).map_err(|_| ParamError("query string: not encodable".into()))?;
    Ok((Some(rest), back))
}

/// A trail as the `back` parameter's value.
pub fn join_back(back: &[Option<String>]) -> String {
    let start = back.len().saturating_sub(MAX_BACK);
    back[start..].iter().map(|c| c.as_deref().unwrap_or("-")).collect::<Vec<_>>().join(",")
}

/// The start of the online window at `now` (an endpoint seen since then is online).
pub fn online_since(now: i64) -> i64 {
    now - i64::try_from(crate::rollup::ONLINE_WINDOW.as_secs()).unwrap_or(i64::MAX)
}

fn limit(limit: Option<u32>) -> Result<u32, ParamError> {
    match limit {
        None => Ok(0),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ParamError(format!("limit: expected 1 to {MAX_PAGE}"))),
    }
}

fn cursor(cursor: &Option<String>) -> Result<Option<String>, ParamError> {
    match cursor {
        None => Ok(None),
        Some(text) => match Cursor::decode(text) {
            Ok(_) => Ok(Some(text.clone())),
            Err(_) => Err(ParamError("cursor: not a cursor this server issued".into())),
        },
    }
}

fn trimmed(text: &Option<String>) -> Option<String> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(|t| t.chars().take(200).collect())
}

/// A tag filter: a tag no agent can report (`muster_proto::tags`) is a 400, not an empty list.
fn tag(text: &Option<String>) -> Result<Option<String>, ParamError> {
    let Some(tag) = trimmed(text) else { return Ok(None) };
    match muster_proto::tags::check(std::slice::from_ref(&tag)).first() {
        None => Ok(Some(tag)),
        Some(problem) => Err(ParamError(format!("tag: {problem}"))),
    }
}

/// Link parameters: the non-empty ones, in a stable order.
fn push(pairs: &mut Vec<(&'static str, String)>, name: &'static str, value: Option<impl ToString>) {
    if let Some(value) = value {
        let value = value.to_string();
        if !value.is_empty() {
            pairs.push((name, value));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Words of the control plane's own vocabularies (wire enums come from the proto table, `Word`)

macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $word:literal => $value:expr),* $(,)? } -> $target:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
        pub enum $name {
            $(#[serde(rename = $word)] $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),* }
            }

            pub fn value(self) -> $target {
                match self { $($name::$variant => $value),* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// Whether the endpoint reported within the online window (15 minutes).
    StatusParam { Online = "online" => true, Offline = "offline" => false } -> bool
);

word_enum!(
    /// Endpoint order: hostname A to Z, most recently seen first, or most severe findings first.
    SortParam {
        Hostname = "hostname" => EndpointSort::Hostname,
        LastSeen = "last_seen" => EndpointSort::LastSeen,
        Findings = "findings" => EndpointSort::Findings,
    } -> EndpointSort
);

word_enum!(
    /// Server group kind: registry package or remote host.
    KindParam { Package = "package" => GroupKind::Package, Remote = "remote" => GroupKind::Remote } -> GroupKind
);

word_enum!(
    /// A finding's decision state: no active decision, acknowledged, or waived.
    FindingStateParam {
        Open = "open" => FindingStateFilter::Open,
        Acknowledged = "acknowledged" => FindingStateFilter::Acknowledged,
        Waived = "waived" => FindingStateFilter::Waived,
    } -> FindingStateFilter
);

word_enum!(
    /// A change event's kind: a server appeared, changed or disappeared; a finding appeared or
    /// was resolved.
    ChangeKindParam {
        Appeared = "appeared" => ChangeKind::Appeared,
        Changed = "changed" => ChangeKind::Changed,
        Disappeared = "disappeared" => ChangeKind::Disappeared,
        FindingAppeared = "finding_appeared" => ChangeKind::FindingAppeared,
        FindingResolved = "finding_resolved" => ChangeKind::FindingResolved,
    } -> ChangeKind
);

word_enum!(
    /// A time range of the activity feed (UTC): since midnight, the last 7 days, or `from`/`to`.
    RangeParam { Today = "today" => "today", Week = "7d" => "7d", Custom = "custom" => "custom" } -> &'static str
);

word_enum!(
    /// Which reuse of one secret to list: on several hosts, by several servers of one host, or
    /// either.
    ReuseParam {
        AcrossHosts = "across_hosts" => FingerprintReuse::AcrossHosts,
        WithinHost = "within_host" => FingerprintReuse::WithinHost,
        Any = "any" => FingerprintReuse::Any,
    } -> FingerprintReuse
);

word_enum!(
    /// An exception request's state: waiting for a decision, approved or denied.
    RequestStateParam {
        Pending = "pending" => RequestState::Pending,
        Approved = "approved" => RequestState::Approved,
        Denied = "denied" => RequestState::Denied,
    } -> RequestState
);

word_enum!(
    /// An agent's enrollment status.
    AgentStatusParam { Active = "active" => "active", Revoked = "revoked" => "revoked" } -> &'static str
);

// ---------------------------------------------------------------------------------------------
// Lists

/// Filters, order and page of the endpoint list (`/endpoints`, `/api/v1/endpoints`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EndpointParams {
    /// Substring of the hostname or of a user name, case-insensitive.
    pub q: Option<String>,
    /// Exact user name, case-insensitive.
    pub user: Option<String>,
    /// MCP client id, e.g. `cursor`.
    pub client: Option<String>,
    /// Exact endpoint tag, e.g. `team:payments` (set in the agent's config file).
    pub tag: Option<String>,
    /// Enterprise service, exactly (e.g. `github`): endpoints with a server reaching it.
    pub service: Option<String>,
    /// Registry package name, exactly (e.g. `@modelcontextprotocol/server-github`): endpoints
    /// with a server running it (of `ecosystem`, at `version`, when given).
    pub package: Option<String>,
    /// The package's ecosystem (with `package`).
    #[param(value_type = Option<crate::words::Ecosystem>)]
    pub ecosystem: Option<Word<v1::Ecosystem>>,
    /// Package version, exactly (with `package`).
    pub version: Option<String>,
    /// Remote host, exactly (e.g. `mcp.linear.app`): endpoints with a server calling it.
    pub remote: Option<String>,
    /// Endpoints with a remote server of this authentication posture, as its agent reported it.
    #[param(value_type = Option<crate::words::AuthPosture>)]
    pub auth_posture: Option<Word<v1::AuthPosture>>,
    #[param(value_type = Option<crate::words::Os>)]
    pub os: Option<Word<v1::Os>>,
    pub status: Option<StatusParam>,
    /// Only endpoints with an open finding at least this severe.
    #[param(value_type = Option<crate::words::Severity>)]
    pub severity: Option<Word<v1::Severity>>,
    pub sort: Option<SortParam>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl EndpointParams {
    /// The store query; `online_since` is the start of the online window.
    pub fn query(&self, online_since: i64) -> Result<EndpointQuery, ParamError> {
        Ok(EndpointQuery {
            search: trimmed(&self.q),
            user: trimmed(&self.user),
            os: self.os.map(Word::number),
            online: self.status.map(StatusParam::value),
            online_since,
            min_severity: self.severity.map(Word::number),
            client: trimmed(&self.client),
            tag: tag(&self.tag)?,
            service: trimmed(&self.service),
            package: trimmed(&self.package),
            ecosystem: package_filter(&self.package, self.ecosystem, &self.version)?,
            version: trimmed(&self.version),
            remote: trimmed(&self.remote),
            auth_posture: self.auth_posture.map(Word::number),
            sort: self.sort.map(SortParam::value).unwrap_or_default(),
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    /// The filters and order (no cursor), for links to other pages of the same list.
    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "q", trimmed(&self.q));
        push(&mut pairs, "user", trimmed(&self.user));
        push(&mut pairs, "client", trimmed(&self.client));
        push(&mut pairs, "tag", trimmed(&self.tag));
        push(&mut pairs, "service", trimmed(&self.service));
        push(&mut pairs, "package", trimmed(&self.package));
        push(&mut pairs, "ecosystem", self.ecosystem);
        push(&mut pairs, "version", trimmed(&self.version));
        push(&mut pairs, "remote", trimmed(&self.remote));
        push(&mut pairs, "auth_posture", self.auth_posture);
        push(&mut pairs, "os", self.os);
        push(&mut pairs, "status", self.status);
        push(&mut pairs, "severity", self.severity);
        push(&mut pairs, "sort", self.sort);
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// A package filter's ecosystem: `ecosystem` and `version` narrow a `package`, so either without
/// it is a 400 rather than a silently wider list.
fn package_filter(
    package: &Option<String>,
    ecosystem: Option<Word<v1::Ecosystem>>,
    version: &Option<String>,
) -> Result<Option<i32>, ParamError> {
    if trimmed(package).is_none() {
        if ecosystem.is_some() {
            return Err(ParamError("ecosystem: only with package".into()));
        }
        if trimmed(version).is_some() {
            return Err(ParamError("version: only with package".into()));
        }
    }
    Ok(ecosystem.map(Word::number))
}

/// Filters and page of the server list (`/servers/list`, `/api/v1/servers/list`): one row per
/// MCP server on one endpoint. Every filter is an exact match.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServerListParams {
    /// Enterprise service (e.g. `github`).
    pub service: Option<String>,
    /// Registry package name.
    pub package: Option<String>,
    /// The package's ecosystem (with `package`).
    #[param(value_type = Option<crate::words::Ecosystem>)]
    pub ecosystem: Option<Word<v1::Ecosystem>>,
    /// Package version (with `package`).
    pub version: Option<String>,
    /// Remote host the server calls.
    pub remote: Option<String>,
    /// MCP client id (e.g. `cursor`).
    pub client: Option<String>,
    /// OS user, as the agent reported it.
    pub user: Option<String>,
    /// An agent id: one endpoint's servers.
    pub agent: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl ServerListParams {
    pub fn query(&self) -> Result<ServerQuery, ParamError> {
        Ok(ServerQuery {
            service: trimmed(&self.service),
            ecosystem: package_filter(&self.package, self.ecosystem, &self.version)?,
            package: trimmed(&self.package),
            version: trimmed(&self.version),
            remote: trimmed(&self.remote),
            client: trimmed(&self.client),
            user: trimmed(&self.user),
            agent_id: trimmed(&self.agent),
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "service", trimmed(&self.service));
        push(&mut pairs, "package", trimmed(&self.package));
        push(&mut pairs, "ecosystem", self.ecosystem);
        push(&mut pairs, "version", trimmed(&self.version));
        push(&mut pairs, "remote", trimmed(&self.remote));
        push(&mut pairs, "client", trimmed(&self.client));
        push(&mut pairs, "user", trimmed(&self.user));
        push(&mut pairs, "agent", trimmed(&self.agent));
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

word_enum!(
    /// Where in a server's entry a credential sits.
    LocationTypeParam {
        Env = "env" => "env",
        Header = "header" => "header",
        Arg = "arg" => "arg",
        Url = "url" => "url",
        Other = "other" => "other",
    } -> &'static str
);

/// Filters and page of the credential locations (`/credentials/locations`,
/// `/api/v1/credentials/locations`): one row per credential of one server, every place a
/// secret is used, across hosts and within one. Every filter is an exact match.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CredentialLocationParams {
    /// A whole keyed fingerprint (hex, case-insensitive).
    pub fingerprint: Option<String>,
    /// Provider (e.g. `github`).
    pub provider: Option<String>,
    /// Kind (e.g. `github-pat`; with `provider`).
    pub kind: Option<String>,
    /// `literal` or `reference`.
    #[param(value_type = Option<crate::words::CredentialSource>)]
    pub source: Option<Word<v1::CredentialSource>>,
    /// `env`, `header`, `arg`, `url` or `other`.
    pub location: Option<LocationTypeParam>,
    /// An agent id: one endpoint's credentials.
    pub agent: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl CredentialLocationParams {
    pub fn query(&self) -> Result<CredentialQuery, ParamError> {
        let fingerprint = match trimmed(&self.fingerprint) {
            None => None,
            Some(text) if !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit()) => {
                Some(text.to_ascii_lowercase())
            }
            Some(_) => return Err(ParamError("fingerprint: expected a whole fingerprint (hex digits)".into())),
        };
        if trimmed(&self.kind).is_some() && trimmed(&self.provider).is_none() {
            // A kind is a provider's (`github-pat`); its index starts with the provider.
            return Err(ParamError("kind: only with provider".into()));
        }
        Ok(CredentialQuery {
            fingerprint,
            provider: trimmed(&self.provider),
            kind: trimmed(&self.kind),
            source: self.source.map(Word::number),
            location_type: self.location.map(|l| l.value().to_string()),
            agent_id: trimmed(&self.agent),
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "fingerprint", trimmed(&self.fingerprint).map(|f| f.to_ascii_lowercase()));
        push(&mut pairs, "provider", trimmed(&self.provider));
        push(&mut pairs, "kind", trimmed(&self.kind));
        push(&mut pairs, "source", self.source);
        push(&mut pairs, "location", self.location);
        push(&mut pairs, "agent", trimmed(&self.agent));
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// Filters and page of the server groups (`/servers`, `/api/v1/servers`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServerParams {
    pub kind: Option<KindParam>,
    #[param(value_type = Option<crate::words::Ecosystem>)]
    pub ecosystem: Option<Word<v1::Ecosystem>>,
    /// Substring of the package name or remote host, case-insensitive.
    pub q: Option<String>,
    /// `true`: only groups with at least one known advisory.
    pub advisories: Option<bool>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl ServerParams {
    pub fn query(&self) -> Result<ServerGroupQuery, ParamError> {
        Ok(ServerGroupQuery {
            kind: self.kind.map(KindParam::value),
            ecosystem: self.ecosystem.map(Word::number),
            name_contains: trimmed(&self.q),
            with_advisories: self.advisories.unwrap_or(false),
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "kind", self.kind);
        push(&mut pairs, "ecosystem", self.ecosystem);
        push(&mut pairs, "q", trimmed(&self.q));
        push(&mut pairs, "advisories", self.advisories.filter(|a| *a));
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// Filters and page of the reused fingerprints (`/credentials`, `/api/v1/credentials/shared`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SharedParams {
    /// Provider, e.g. `github`.
    pub provider: Option<String>,
    /// `across_hosts` (default: one secret on several hosts), `within_host` (used by several
    /// servers of one host) or `any`.
    pub reuse: Option<ReuseParam>,
    /// Seen on at least this many hosts (1 or more; default 2 for `across_hosts`, else 1).
    pub min_hosts: Option<i64>,
    /// The start of a fingerprint (hex, at least 4 characters, case-insensitive).
    pub q: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl SharedParams {
    pub fn query(&self) -> Result<FingerprintQuery, ParamError> {
        let reuse = self.reuse.map(ReuseParam::value).unwrap_or_default();
        let min_hosts = match self.min_hosts {
            None if reuse == FingerprintReuse::AcrossHosts => 2,
            None => 1,
            Some(n) if (1..=1_000_000).contains(&n) => n,
            Some(_) => return Err(ParamError("min_hosts: expected 1 or more".into())),
        };
        let prefix = match trimmed(&self.q) {
            None => None,
            Some(text) if text.len() >= 4 && text.chars().all(|c| c.is_ascii_hexdigit()) => {
                Some(text.to_ascii_lowercase())
            }
            Some(_) => return Err(ParamError("q: expected the start of a fingerprint (4 or more hex digits)".into())),
        };
        Ok(FingerprintQuery {
            min_hosts,
            reuse,
            prefix,
            provider: trimmed(&self.provider),
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "provider", trimmed(&self.provider));
        push(&mut pairs, "reuse", self.reuse);
        push(&mut pairs, "min_hosts", self.min_hosts);
        push(&mut pairs, "q", trimmed(&self.q));
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// Filters and page of the findings list (`/findings`, `/api/v1/findings`), most severe first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindingParams {
    /// Least severity.
    #[param(value_type = Option<crate::words::Severity>)]
    pub severity: Option<Word<v1::Severity>>,
    /// OWASP MCP Top 10 id (e.g. `MCP01`). Every text filter ignores case.
    pub owasp: Option<String>,
    /// Service id, exactly (e.g. `github`).
    pub service: Option<String>,
    /// Client id, exactly (e.g. `cursor`).
    pub client: Option<String>,
    /// OS account, exactly.
    pub user: Option<String>,
    /// An agent id: one endpoint's findings.
    pub agent: Option<String>,
    /// Hostname substring.
    pub host: Option<String>,
    /// Rule: a findings catalog id, exactly (e.g. `MUSTER-SECRET-ENV`).
    pub rule: Option<String>,
    /// Substring of the message, rule id, hostname or server name.
    pub q: Option<String>,
    /// `open` (no active decision), `acknowledged` or `waived`.
    pub state: Option<FindingStateParam>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl FindingParams {
    /// The store query; `now` is the clock decisions are judged against.
    pub fn query(&self, now: i64) -> Result<FindingQuery, ParamError> {
        Ok(FindingQuery {
            min_severity: self.severity.map(Word::number),
            owasp: trimmed(&self.owasp),
            service: trimmed(&self.service),
            client: trimmed(&self.client),
            user: trimmed(&self.user),
            agent_id: trimmed(&self.agent),
            finding_id: trimmed(&self.rule),
            host: trimmed(&self.host),
            text: trimmed(&self.q),
            server_id: None,
            subject: None,
            state: self.state.map(FindingStateParam::value),
            now,
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "severity", self.severity);
        push(&mut pairs, "owasp", trimmed(&self.owasp));
        push(&mut pairs, "service", trimmed(&self.service));
        push(&mut pairs, "client", trimmed(&self.client));
        push(&mut pairs, "user", trimmed(&self.user));
        push(&mut pairs, "agent", trimmed(&self.agent));
        push(&mut pairs, "host", trimmed(&self.host));
        push(&mut pairs, "rule", trimmed(&self.rule));
        push(&mut pairs, "q", trimmed(&self.q));
        push(&mut pairs, "state", self.state);
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// Filters and page of the change events (`/activity`, `/api/v1/activity`), newest first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    pub kind: Option<ChangeKindParam>,
    /// A hostname (exact, case-insensitive) or an agent id.
    pub host: Option<String>,
    pub client: Option<String>,
    /// `today` (since midnight UTC), `7d` (the last 7 days) or `custom` (`from` and `to`); absent:
    /// all time, unless `from` or `to` is given.
    pub range: Option<RangeParam>,
    /// First day of a custom range, `YYYY-MM-DD` (UTC), inclusive.
    pub from: Option<String>,
    /// Last day of a custom range, `YYYY-MM-DD` (UTC), inclusive.
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl ActivityParams {
    /// The store query without its agent, and the host filter the caller resolves to one. `now`
    /// places `today` and `7d`; `from` and `to` are whole UTC days, `to` included.
    pub fn query(&self, now: i64) -> Result<(ActivityQuery, Option<String>), ParamError> {
        let (since, until) = self.time_range(now)?;
        let query = ActivityQuery {
            kind: self.kind.map(ChangeKindParam::value),
            client: trimmed(&self.client),
            agent_id: None,
            since,
            until,
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        };
        Ok((query, trimmed(&self.host)))
    }

    /// The inclusive start and exclusive end of the range, in unix seconds.
    pub fn time_range(&self, now: i64) -> Result<(Option<i64>, Option<i64>), ParamError> {
        let day = |name: &str, value: &Option<String>| -> Result<Option<i64>, ParamError> {
            match trimmed(value) {
                None => Ok(None),
                Some(text) => crate::timefmt::start_of_day(&text)
                    .map(Some)
                    .ok_or_else(|| ParamError(format!("`{name}` must be a date YYYY-MM-DD, got `{text}`"))),
            }
        };
        let (from, to) = (day("from", &self.from)?, day("to", &self.to)?);
        match self.range {
            Some(RangeParam::Today) | Some(RangeParam::Week) if from.is_some() || to.is_some() => {
                Err(ParamError("`from` and `to` go with `range=custom` (or no range)".into()))
            }
            Some(RangeParam::Today) => Ok((Some(crate::timefmt::day_start(now)), None)),
            Some(RangeParam::Week) => Ok((Some(now - 7 * 86_400), None)),
            Some(RangeParam::Custom) | None => {
                if let (Some(from), Some(to)) = (from, to)
                    && from > to
                {
                    return Err(ParamError("`from` is after `to`".into()));
                }
                Ok((from, to.map(|to| to + 86_400)))
            }
        }
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "kind", self.kind);
        push(&mut pairs, "host", trimmed(&self.host));
        push(&mut pairs, "client", trimmed(&self.client));
        push(&mut pairs, "range", self.range);
        push(&mut pairs, "from", trimmed(&self.from));
        push(&mut pairs, "to", trimmed(&self.to));
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// Filters and page of the enrolled agents (`/agents`, `/api/v1/agents`), by hostname.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgentParams {
    pub status: Option<AgentStatusParam>,
    /// Exact agent version.
    pub version: Option<String>,
    /// Hostname substring, case-insensitive.
    pub search: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl AgentParams {
    /// The store query; `online_since` is the start of the online window.
    pub fn query(&self, online_since: i64) -> Result<AgentQuery, ParamError> {
        Ok(AgentQuery {
            status: self.status.map(|s| s.value().to_string()),
            version: trimmed(&self.version),
            search: trimmed(&self.search),
            online_since,
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "search", trimmed(&self.search));
        push(&mut pairs, "status", self.status);
        push(&mut pairs, "version", trimmed(&self.version));
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// Filters and page of the analysts' exception queue (`/exceptions`): waiting requests first,
/// then decided ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionQueueParams {
    /// `pending`, `approved` or `denied`.
    pub status: Option<RequestStateParam>,
    /// Hostname substring of the covered endpoint.
    pub host: Option<String>,
    /// Substring of the reason, note, user, server, client, rules or who asked or decided.
    pub q: Option<String>,
    /// An agent id: one endpoint's requests.
    pub agent: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl ExceptionQueueParams {
    pub fn query(&self) -> Result<RequestQuery, ParamError> {
        Ok(RequestQuery {
            state: self.status.map(RequestStateParam::value),
            agent_id: trimmed(&self.agent),
            host: trimmed(&self.host),
            text: trimmed(&self.q),
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "status", self.status);
        push(&mut pairs, "host", trimmed(&self.host));
        push(&mut pairs, "q", trimmed(&self.q));
        push(&mut pairs, "agent", trimmed(&self.agent));
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// Page of the policy history (`/api/v1/policies`), newest version first.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PolicyHistoryParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl PolicyHistoryParams {
    /// `(before, limit)`: versions below `before` (the last version of the previous page).
    pub fn query(&self) -> Result<(Option<u64>, u32), ParamError> {
        let before = match cursor(&self.cursor)? {
            None => None,
            Some(text) => {
                let position = Cursor::decode(&text).map_err(|_| invalid_cursor())?;
                Some(position.key.parse::<u64>().map_err(|_| invalid_cursor())?)
            }
        };
        Ok((before, crate::store::read::page_limit(limit(self.limit)?)))
    }
}

fn invalid_cursor() -> ParamError {
    ParamError("cursor: not a cursor this server issued".into())
}

word_enum!(
    /// Whether an endpoint's decisions come from the current published version.
    VersionStateParam { Current = "current" => true, Behind = "behind" => false } -> bool
);

/// Filters and page of the compliance endpoint list (`/compliance/endpoints`,
/// `/api/v1/compliance/endpoints`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ComplianceParams {
    /// Only endpoints with an action in this state (with `rule`: that rule's action).
    #[param(value_type = Option<crate::words::ActionState>)]
    pub state: Option<Word<v1::PolicyActionState>>,
    /// Only endpoints where this rule is broken (exact rule id).
    pub rule: Option<String>,
    /// Only endpoints on (`current`) or not on (`behind`) the current published version.
    pub version: Option<VersionStateParam>,
    /// Only endpoints with at least one violation (an action no exception lifts).
    pub violating: Option<bool>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl ComplianceParams {
    pub fn filter(&self) -> Result<crate::compliance::EndpointFilter, ParamError> {
        Ok(crate::compliance::EndpointFilter {
            state: self.state.map(Word::number),
            rule: trimmed(&self.rule),
            on_current: self.version.map(VersionStateParam::value),
            violating: self.violating.unwrap_or(false),
            cursor: cursor(&self.cursor)?,
            limit: limit(self.limit)?,
        })
    }

    pub fn filters(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        push(&mut pairs, "state", self.state);
        push(&mut pairs, "rule", trimmed(&self.rule));
        push(&mut pairs, "version", self.version);
        push(&mut pairs, "violating", self.violating.filter(|v| *v));
        push(&mut pairs, "limit", self.limit);
        pairs
    }
}

/// Page of the per-rule compliance counts (`/api/v1/compliance/rules`), by rule id.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompliancePageParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

impl CompliancePageParams {
    pub fn query(&self) -> Result<(Option<String>, u32), ParamError> {
        Ok((cursor(&self.cursor)?, limit(self.limit)?))
    }
}

/// How much of the compliance trend (`/api/v1/compliance/trend`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendParams {
    /// Days back from now, 1 to 90 (default 7); one point per hour.
    pub days: Option<u32>,
}

impl TrendParams {
    pub fn days(&self) -> Result<u32, ParamError> {
        match self.days {
            None => Ok(7),
            Some(n) if (1..=crate::compliance::MAX_TREND_DAYS).contains(&n) => Ok(n),
            Some(_) => Err(ParamError(format!("days: expected 1 to {}", crate::compliance::MAX_TREND_DAYS))),
        }
    }
}

/// The most audit records one call returns.
pub const MAX_AUDIT_PAGE: u32 = 1000;

/// Page of the audit log (`/audit`, `/api/v1/admin/audit`), newest first. Its position is the
/// record id, so it pages with `before` (the last id shown) rather than an opaque cursor.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only records with a smaller id (the last id of the previous page).
    pub before: Option<i64>,
    /// At most this many records (1 to 1000, default 100).
    pub limit: Option<u32>,
}

impl AuditParams {
    /// `(before, limit)` for the store.
    pub fn query(&self) -> Result<(Option<i64>, u32), ParamError> {
        match self.limit {
            None => Ok((self.before, 100)),
            Some(n) if (1..=MAX_AUDIT_PAGE).contains(&n) => Ok((self.before, n)),
            Some(_) => Err(ParamError(format!("limit: expected 1 to {MAX_AUDIT_PAGE}"))),
        }
    }
}

/// For lists that take no parameter: anything given is refused, so a typo is not silently
/// ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn empty_values_are_absent_and_words_map_to_queries() {
        let params: EndpointParams =
            parse(Some("q=+lap+&user=&os=macos&status=offline&severity=high&sort=last_seen&limit=10")).unwrap();
        let query = params.query(99).unwrap();
        assert_eq!(query.search.as_deref(), Some("lap"));
        assert_eq!((query.user, query.os, query.online, query.min_severity), (None, Some(2), Some(false), Some(4)));
        assert_eq!((query.sort, query.limit, query.online_since), (EndpointSort::LastSeen, 10, 99));
        assert_eq!(
            params.filters(),
            vec![
                ("q", "lap".to_string()),
                ("os", "macos".into()),
                ("status", "offline".into()),
                ("severity", "high".into()),
                ("sort", "last_seen".into()),
                ("limit", "10".into())
            ]
        );
        let none: EndpointParams = parse(None).unwrap();
        assert_eq!(none.query(0).unwrap().limit, 0);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let error = |query: &str| parse::<EndpointParams>(Some(query)).and_then(|p| p.query(0)).unwrap_err().0;
        assert_eq!(error("colour=red"), "unknown parameter `colour`");
        assert!(error("os=beos").contains("beos"), "{}", error("os=beos"));
        assert_eq!(error("limit=0"), "limit: expected 1 to 500");
        assert_eq!(error("limit=100000"), "limit: expected 1 to 500");
        assert!(error("limit=-3").starts_with("query string:"));
        assert_eq!(error("cursor=zz"), "cursor: not a cursor this server issued");
        let shared = parse::<SharedParams>(Some("min_hosts=0")).unwrap().query().unwrap_err().0;
        assert_eq!(shared, "min_hosts: expected 1 or more");
        // Issue 15: reuse within one host is a question, not a 400.
        let within = parse::<SharedParams>(Some("reuse=within_host&min_hosts=1")).unwrap().query().unwrap();
        assert_eq!((within.reuse, within.min_hosts), (FingerprintReuse::WithinHost, 1));
        assert!(parse::<SharedParams>(Some("q=zz12")).unwrap().query().is_err());
        assert!(parse::<SharedParams>(Some("reuse=sometimes")).is_err());
        assert!(parse::<ServerParams>(Some("advisories=maybe")).is_err());
        assert!(parse::<NoParams>(Some("x=1")).is_err());
        assert_eq!(parse::<FindingParams>(Some("severty=high")).unwrap_err().0, "unknown parameter `severty`");
        assert!(parse::<FindingParams>(Some("severity=4")).unwrap_err().0.contains("not a Severity word"));
        assert!(parse::<FindingParams>(Some("state=closed")).is_err());
        assert!(parse::<ActivityParams>(Some("kind=moved")).is_err());
        assert!(parse::<ActivityParams>(Some("range=yesterday")).is_err());
        assert!(parse::<AgentParams>(Some("status=gone")).is_err());
        assert_eq!(parse::<AuditParams>(Some("limit=0")).unwrap().query().unwrap_err().0, "limit: expected 1 to 1000");
        assert_eq!(
            parse::<AgentParams>(Some("limit=501")).unwrap().query(0).unwrap_err().0,
            "limit: expected 1 to 500"
        );
        assert!(parse::<NoParams>(Some("x=")).is_ok());
        assert_eq!(parse::<NoParams>(Some("x=1")).unwrap_err().0, "unknown parameter `x`");
    }

    #[test]
    fn finding_filters_map_to_the_store_query_and_back_to_links() {
        let params: FindingParams = parse(Some("severity=high&state=waived&owasp=+MCP01+&agent=&limit=5")).unwrap();
        let query = params.query(10).unwrap();
        assert_eq!((query.min_severity, query.state, query.now), (Some(4), Some(FindingStateFilter::Waived), 10));
        assert_eq!((query.owasp.as_deref(), query.agent_id, query.limit), (Some("MCP01"), None, 5));
        assert_eq!(
            params.filters(),
            vec![
                ("severity", "high".to_string()),
                ("owasp", "MCP01".into()),
                ("state", "waived".into()),
                ("limit", "5".into())
            ]
        );
    }

    #[test]
    fn the_back_trail_is_split_off_and_checked() {
        let c1 = Cursor { key: "a".into(), id: "1".into() }.encode();
        let query = format!("os=linux&back=-,{c1}&cursor={c1}");
        let (rest, back) = split_back(Some(&query)).unwrap();
        assert_eq!(rest.as_deref(), Some(format!("os=linux&cursor={c1}").as_str()));
        assert_eq!(back, vec![None, Some(c1.clone())]);
        assert_eq!(join_back(&back), format!("-,{c1}"));
        assert_eq!(split_back(Some("back=zz")).unwrap_err().0, "cursor: not a cursor this server issued");
        let long = vec![None; MAX_BACK + 5];
        assert_eq!(join_back(&long).split(',').count(), MAX_BACK);
    }

    #[test]
    fn a_valid_cursor_passes_through() {
        let cursor = Cursor { key: "laptop".into(), id: "id".into() }.encode();
        let params: ServerParams = parse(Some(&format!("cursor={cursor}&advisories=true&kind=remote"))).unwrap();
        let query = params.query().unwrap();
        assert_eq!((query.cursor, query.with_advisories, query.kind), (Some(cursor), true, Some(GroupKind::Remote)));
        assert_eq!(params.filters(), vec![("kind", "remote".to_string()), ("advisories", "true".into())]);
    }
}
