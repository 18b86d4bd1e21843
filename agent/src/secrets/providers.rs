//! Provider rules: credential formats that identify their issuer by shape alone (a prefix, a
//! fixed marker, a checksum), written from the shared credential reference (`secrets.md` §1–§2).
//! Each rule matches a *whole* token; finding tokens inside larger text is the detector's job.
//!
//! Formats without a distinctive shape (AWS secret keys, Datadog keys, legacy Atlassian and
//! Cloudflare tokens, ...) need a name nearby and live in [`super::context`]. Each rule is
//! compiled once per [`ShapeSet`], on first use.

use std::sync::{LazyLock, OnceLock};

use aho_corasick::automaton::OverlappingState;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, StartKind};
use regex::Regex;

use super::decode;
use super::detection::Confidence;
use super::lazy::LazyRegex;

/// One shape rule.
#[derive(Clone, Copy)]
pub struct Rule {
    pub kind: &'static str,
    pub provider: &'static str,
    /// Regex for the whole token, without anchors.
    pub pattern: &'static str,
    /// An extra offline check (checksum, decodable payload) the token must pass.
    pub check: Option<fn(&str) -> bool>,
    pub confidence: Confidence,
}

use Confidence::{High, Medium};

const fn rule(kind: &'static str, provider: &'static str, pattern: &'static str, confidence: Confidence) -> Rule {
    Rule { kind, provider, pattern, check: None, confidence }
}

const fn checked(kind: &'static str, provider: &'static str, pattern: &'static str, check: fn(&str) -> bool) -> Rule {
    Rule { kind, provider, pattern, check: Some(check), confidence: High }
}

/// Sentry org tokens carry base64 JSON between `sntrys_` and the last `_`.
fn sentry_org_payload(token: &str) -> bool {
    let Some(body) = token.strip_prefix("sntrys_") else { return false };
    let Some((payload, _sig)) = body.rsplit_once('_') else { return false };
    decode::json_object(payload).is_some_and(|p| p.contains_key("iat"))
}

/// Azure DevOps PATs (new format) carry `AZDO` at character positions 76–79.
fn azdo_signature(token: &str) -> bool {
    token.get(76..80) == Some("AZDO")
}

/// Every shape rule, in match order: longer and more specific prefixes before shorter ones
/// (`sk-ant-` before `sk-`, `xoxe.` before `xoxe-`).
pub const RULES: &[Rule] = &[
    // GitHub (secrets.md #1–#6): checksummed tokens; a bad checksum is not GitHub's.
    checked("github-classic-pat", "github", r"ghp_[A-Za-z0-9]{36}", decode::has_base62_crc32),
    checked("github-oauth-token", "github", r"gho_[A-Za-z0-9]{36}", decode::has_base62_crc32),
    checked("github-user-to-server-token", "github", r"ghu_[A-Za-z0-9]{36}", decode::has_base62_crc32),
    checked("github-installation-token", "github", r"ghs_[A-Za-z0-9]{36}", decode::has_base62_crc32),
    checked("github-refresh-token", "github", r"ghr_[A-Za-z0-9]{36}", decode::has_base62_crc32),
    rule("github-fine-grained-pat", "github", r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}", High),
    // GitLab (#7 and the other prefixes it lists).
    rule("gitlab-pat", "gitlab", r"glpat-(?:[A-Za-z0-9_\-]{20}|[A-Za-z0-9_\-]{27,300}\.[0-9a-z]{9})", High),
    rule("gitlab-deploy-token", "gitlab", r"gldt-[A-Za-z0-9_\-]{20,}", High),
    rule("gitlab-runner-token", "gitlab", r"(?:glrt-|GR1348941)[A-Za-z0-9_\-]{20,}", High),
    rule("gitlab-trigger-token", "gitlab", r"glptt-[0-9a-f]{40}", High),
    rule("gitlab-ci-job-token", "gitlab", r"glcbt-[A-Za-z0-9_\-]{20,}", High),
    rule("gitlab-feed-token", "gitlab", r"glft-[A-Za-z0-9_\-]{20,}", High),
    rule("gitlab-scim-token", "gitlab", r"glsoat-[A-Za-z0-9_\-]{20,}", High),
    rule("gitlab-oauth-secret", "gitlab", r"gloas-[A-Za-z0-9_\-]{20,}", High),
    rule("gitlab-agent-token", "gitlab", r"glagent-[A-Za-z0-9_\-]{20,}", High),
    rule("gitlab-incoming-mail-token", "gitlab", r"glimt-[A-Za-z0-9_\-]{20,}", High),
    rule("gitlab-feature-flag-token", "gitlab", r"glffct-[A-Za-z0-9_\-]{20,}", High),
    // Slack (#8–#13).
    rule("slack-config-token", "slack", r"xoxe\.xox[bp]-[0-9]-[A-Za-z0-9]{40,}|xoxe-[0-9]-[A-Za-z0-9]{140,160}", High),
    rule(
        "slack-bot-token",
        "slack",
        r"xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{20,40}|xoxb-[0-9]{8,14}-[A-Za-z0-9]{18,26}",
        High,
    ),
    rule("slack-user-token", "slack", r"xoxp-[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{28,34}", High),
    rule("slack-app-token", "slack", r"xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,13}-[a-z0-9]{32,80}", High),
    rule("slack-session-token", "slack", r"xoxc-[0-9]{8,13}-[A-Za-z0-9\-]{20,}|xoxd-[A-Za-z0-9%+/=\-]{30,}", High),
    rule(
        "slack-webhook-url",
        "slack",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9]+/[A-Za-z0-9]+/[A-Za-z0-9/]{12,}",
        High,
    ),
    // AWS (#14, #15, #17).
    rule("aws-access-key-id", "aws", r"(?:AKIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}", High),
    rule("aws-temporary-access-key-id", "aws", r"ASIA[A-Z2-7]{16}", High),
    rule(
        "aws-bedrock-api-key",
        "aws",
        r"ABSK[A-Za-z0-9+/]{109,269}={0,2}|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=_\-]*",
        High,
    ),
    // OpenAI (#18): the `T3BlbkFJ` marker is base64 of "OpenAI".
    rule(
        "openai-api-key",
        "openai",
        r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{58,74}T3BlbkFJ[A-Za-z0-9_\-]{58,74}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}",
        High,
    ),
    // Anthropic (#19): fixed `AA` suffix.
    rule("anthropic-api-key", "anthropic", r"sk-ant-api03-[A-Za-z0-9_\-]{93}AA", High),
    rule("anthropic-admin-key", "anthropic", r"sk-ant-admin01-[A-Za-z0-9_\-]{93}AA", High),
    // Google (#20).
    rule("google-api-key", "google", r"AIza[A-Za-z0-9_\-]{35}", High),
    // Stripe (#22); `pk_` publishable keys are not secret and have no rule.
    rule("stripe-secret-key", "stripe", r"sk_(?:live|test)_[A-Za-z0-9]{10,99}", High),
    rule("stripe-restricted-key", "stripe", r"rk_(?:live|test)_[A-Za-z0-9]{10,99}", High),
    rule("stripe-webhook-secret", "stripe", r"whsec_[A-Za-z0-9+/=]{32,}", High),
    // Atlassian (#23).
    rule("atlassian-api-token", "atlassian", r"ATATT3[A-Za-z0-9_=\-]{186}", High),
    // Notion (#24).
    rule("notion-token", "notion", r"ntn_[0-9]{11}[A-Za-z0-9]{35}", High),
    rule("notion-token", "notion", r"secret_[A-Za-z0-9]{43}", Medium),
    // Linear (#25).
    rule("linear-api-key", "linear", r"lin_api_[A-Za-z0-9]{40}", High),
    rule("linear-oauth-token", "linear", r"lin_oauth_[A-Za-z0-9]{40,64}", High),
    // Sentry (#26).
    rule("sentry-user-token", "sentry", r"sntryu_[0-9a-f]{64}", High),
    checked("sentry-org-token", "sentry", r"sntrys_eyJ[A-Za-z0-9+/=_\-]{40,}_[A-Za-z0-9+/]{43}", sentry_org_payload),
    // Cloudflare (#28).
    rule("cloudflare-api-token", "cloudflare", r"cf(?:ut|at)_[A-Za-z0-9_\-]{40,60}", High),
    rule("cloudflare-global-api-key", "cloudflare", r"cfk_[A-Za-z0-9_\-]{40,60}", High),
    rule("cloudflare-origin-ca-key", "cloudflare", r"v1\.0-[0-9a-f]{24}-[0-9a-f]{146}", High),
    // Hugging Face (#29).
    rule("huggingface-token", "huggingface", r"hf_[A-Za-z]{34}", High),
    rule("huggingface-org-token", "huggingface", r"api_org_[A-Za-z]{34}", High),
    // npm (#30): same checksum design as GitHub.
    checked("npm-token", "npm", r"npm_[A-Za-z0-9]{36}", decode::has_base62_crc32),
    // PyPI (#31): macaroon whose header names pypi.org or test.pypi.org.
    rule("pypi-token", "pypi", r"pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,}", High),
    // Supabase (#32); `sb_publishable_` is not secret.
    rule("supabase-pat", "supabase", r"sbp_[a-z0-9]{40,48}", High),
    rule("supabase-secret-key", "supabase", r"sb_secret_[A-Za-z0-9_\-]{20,}", High),
    // Twilio (#33): the API key SID; account SIDs (`AC…`) are identifiers, not secrets.
    rule("twilio-api-key", "twilio", r"SK[0-9a-f]{32}", Medium),
    // SendGrid (#34).
    rule("sendgrid-api-key", "sendgrid", r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}", High),
    // Azure (#35, #37); storage keys and SAS tokens are handled with their context.
    rule("azure-ad-client-secret", "azure", r"[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}", Medium),
    checked("azure-devops-pat", "azure", r"[A-Za-z0-9]{84}", azdo_signature),
    // §2: other prefixed tokens.
    rule("grafana-service-account-token", "grafana", r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}", High),
    rule("grafana-cloud-token", "grafana", r"glc_[A-Za-z0-9+/]{32,400}={0,2}", High),
    rule("grafana-api-key", "grafana", r"eyJrIjoi[A-Za-z0-9+/]{40,400}={0,2}", High),
    rule("vault-service-token", "hashicorp", r"hvs\.[A-Za-z0-9_\-]{90,120}", High),
    rule("vault-batch-token", "hashicorp", r"hvb\.[A-Za-z0-9_\-]{138,300}", High),
    rule("terraform-api-token", "hashicorp", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70}", High),
    rule("doppler-token", "doppler", r"dp\.pt\.[A-Za-z0-9]{43}", High),
    rule("databricks-token", "databricks", r"dapi[a-f0-9]{32}(?:-[0-9])?", High),
    rule("digitalocean-token", "digitalocean", r"do[opr]_v1_[a-f0-9]{64}", High),
    rule("postman-api-key", "postman", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", High),
    rule("shopify-token", "shopify", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", High),
    rule("heroku-api-key", "heroku", r"HRKU-AA[A-Za-z0-9_\-]{58}", High),
    rule("perplexity-api-key", "perplexity", r"pplx-[A-Za-z0-9]{48}", High),
    rule("onepassword-service-account-token", "1password", r"ops_eyJ[A-Za-z0-9+/=_\-]{250,}", High),
    rule("pulumi-token", "pulumi", r"pul-[a-f0-9]{40}", High),
    rule("planetscale-token", "planetscale", r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_\-=.]{32,64}", High),
    rule("airtable-pat", "airtable", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", High),
    rule("newrelic-key", "newrelic", r"NR(?:AK|II|JS)-[A-Za-z0-9_\-]{19,40}", High),
    rule("dynatrace-token", "dynatrace", r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}", High),
    rule("flyio-token", "flyio", r"fo1_[A-Za-z0-9_\-]{43}|fm(?:1[ar]|2)_[A-Za-z0-9+/_\-]{100,}={0,3}", High),
    rule("sourcegraph-token", "sourcegraph", r"sgp_(?:[A-Za-z0-9]{16}_|local_)?[a-f0-9]{40}", High),
    rule("jfrog-api-key", "jfrog", r"AKCp[A-Za-z0-9]{69}", High),
    rule("jfrog-reference-token", "jfrog", r"cmVmd[A-Za-z0-9]{59}", High),
    rule("square-token", "square", r"EAAA[A-Za-z0-9_\-+=]{60}|sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,60}", High),
    rule("clickhouse-cloud-secret", "clickhouse", r"4b1d[A-Za-z0-9]{38}", High),
    rule("mailgun-api-key", "mailgun", r"key-[a-f0-9]{32}", Medium),
    rule("mailchimp-api-key", "mailchimp", r"[a-f0-9]{32}-us[0-9]{1,2}", Medium),
    rule("age-secret-key", "age", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", High),
];

/// Public identifiers that look like keys but are meant to be published (Stripe and Supabase
/// publishable keys, Twilio account SIDs). Never reported, even under a secret-like name.
const PUBLIC_SHAPES: &str =
    r"^(?:pk_(?:live|test)_[A-Za-z0-9]{10,99}|sb_publishable_[A-Za-z0-9_\-]{20,}|AC[0-9a-f]{32})$";

static PUBLIC: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(PUBLIC_SHAPES).ok());

/// Whether `token` is a publishable identifier rather than a secret.
pub fn is_public_identifier(token: &str) -> bool {
    PUBLIC.as_ref().is_some_and(|re| re.is_match(token))
}

/// A rule with its pattern, anchored, compiled on first use behind its literal prefix. A
/// pattern that failed to compile would never match (the `every_rule_compiles` test makes sure
/// no built-in one does; a data bundle's are compiled before the bundle is accepted).
pub struct Compiled {
    pub rule: Rule,
    pub whole: LazyRegex,
}

/// A set of shape rules in match order, with the index that finds the few a value could match
/// and, for the gate ([`super::scrub`]), each rule's unanchored regex compiled on first need.
/// The detector uses the set in force (`super::rules::current`): the built-in [`RULES`], then
/// the shapes of `credentials.toml`, the built-in file's and a data bundle's.
pub struct ShapeSet {
    compiled: Vec<Compiled>,
    prefixes: PrefixIndex,
    anywhere: Vec<OnceLock<Option<Regex>>>,
}

impl ShapeSet {
    pub fn new(rules: Vec<Rule>) -> ShapeSet {
        let compiled: Vec<Compiled> =
            rules.into_iter().map(|rule| Compiled { rule, whole: LazyRegex::whole(rule.pattern) }).collect();
        let prefixes = PrefixIndex::new(&compiled);
        let anywhere = compiled.iter().map(|_| OnceLock::new()).collect();
        ShapeSet { compiled, prefixes, anywhere }
    }

    /// Every rule with its anchored regex, in match order.
    pub fn compiled(&self) -> &[Compiled] {
        &self.compiled
    }

    /// Every rule, in match order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.compiled.iter().map(|c| &c.rule)
    }

    /// The first rule the whole token satisfies, including its offline check.
    pub fn match_token(&self, token: &str) -> Option<Rule> {
        self.prefixes
            .whole_candidates(&self.compiled, token)
            .into_iter()
            .map(|i| &self.compiled[i])
            .find(|c| c.whole.is_match(token) && c.rule.check.is_none_or(|check| check(token)))
            .map(|c| c.rule)
    }

    /// The first rule whose *shape* the whole token has, ignoring its offline check.
    pub fn match_shape(&self, token: &str) -> Option<Rule> {
        self.prefixes
            .whole_candidates(&self.compiled, token)
            .into_iter()
            .map(|i| &self.compiled[i])
            .find(|c| c.whole.is_match(token))
            .map(|c| c.rule)
    }

    /// Indexes of the rules that could match somewhere in `text` ([`PrefixIndex::anywhere_candidates`]).
    pub fn anywhere_candidates(&self, text: &str) -> Vec<usize> {
        self.prefixes.anywhere_candidates(&self.compiled, text)
    }

    /// Rule `i`'s pattern as an unanchored regex, compiled on first need (the gate's search for
    /// shapes inside text).
    pub fn anywhere_regex(&self, i: usize) -> Option<&Regex> {
        self.anywhere.get(i)?.get_or_init(|| Regex::new(self.compiled.get(i)?.rule.pattern).ok()).as_ref()
    }
}

/// One automaton over every rule's literal prefixes: which rules could match a whole token
/// (the prefixes that start it, one anchored pass) or anywhere in a text (one unanchored pass),
/// instead of asking each of the rules in turn. `owner[pattern]` is the rule of each prefix. A
/// rule's prefixes are its simple literal prefix where it has one (no parsing), else those its
/// parsed pattern gives (`(?:AKIA|ASIA)…`). Rules with neither (`without`) are checked by their
/// length and required literal instead.
struct PrefixIndex {
    automaton: Option<AhoCorasick>,
    owner: Vec<usize>,
    without: Vec<usize>,
}

impl PrefixIndex {
    fn new(compiled: &[Compiled]) -> PrefixIndex {
        let mut patterns: Vec<&str> = Vec::new();
        let mut owner = Vec::new();
        let mut without = Vec::new();
        for (i, c) in compiled.iter().enumerate() {
            let simple = c.whole.prefix();
            if !simple.is_empty() {
                patterns.push(simple);
                owner.push(i);
                continue;
            }
            let parsed = &c.whole.facts().prefixes;
            if parsed.is_empty() {
                without.push(i);
            }
            for p in parsed {
                patterns.push(p);
                owner.push(i);
            }
        }
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .start_kind(StartKind::Both)
            .build(&patterns)
            .ok();
        PrefixIndex { automaton, owner, without }
    }

    /// Indexes (into `compiled`, in match order) of the rules a whole `token` could match:
    /// those one of whose prefixes starts it, and those without a prefix whose length bounds
    /// and required literal it meets. Every rule when the automaton could not be built.
    fn whole_candidates(&self, compiled: &[Compiled], token: &str) -> Vec<usize> {
        let Some(ac) = &self.automaton else { return (0..compiled.len()).collect() };
        let mut out: Vec<usize> =
            self.without.iter().copied().filter(|&i| compiled[i].whole.facts().could_match_whole(token)).collect();
        let input = Input::new(token).anchored(Anchored::Yes);
        let mut state = OverlappingState::start();
        loop {
            // Anchored overlapping search is supported by the `Both` start kind above; an error
            // would mean no further prefix can be told, so every rule is a candidate.
            if ac.try_find_overlapping(input.clone(), &mut state).is_err() {
                return (0..compiled.len()).collect();
            }
            let Some(m) = state.get_match() else { break };
            out.push(self.owner[m.pattern().as_usize()]);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Indexes (into `compiled`, sorted) of the rules that could match somewhere in `text`:
    /// a match starts at one of its rule's prefixes and needs the rule's minimum length from
    /// there; a rule without a prefix needs its minimum length and required literal.
    fn anywhere_candidates(&self, compiled: &[Compiled], text: &str) -> Vec<usize> {
        let min_len = |i: usize| compiled[i].whole.facts().min_len;
        let mut out: Vec<usize> = self
            .without
            .iter()
            .copied()
            .filter(|&i| {
                text.len() >= min_len(i)
                    && compiled[i].whole.facts().required.as_deref().is_none_or(|r| text.contains(r))
            })
            .collect();
        match &self.automaton {
            Some(ac) => out.extend(ac.find_overlapping_iter(text).filter_map(|m| {
                let i = self.owner[m.pattern().as_usize()];
                (text.len() - m.start() >= min_len(i)).then_some(i)
            })),
            None => out.extend((0..compiled.len()).filter(|&i| text.len() >= min_len(i))),
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod cases;
#[cfg(test)]
mod tests;
