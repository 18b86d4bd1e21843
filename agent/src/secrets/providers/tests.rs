//! Positive and near-miss (negative) tests for every provider rule, with samples from
//! [`super::cases`].

use super::cases::CASES;
use super::*;
use crate::secrets::rules::match_token;

#[test]
fn every_rule_compiles() {
    let rules = super::super::rules::CredentialRules::builtin();
    let compiled = rules.shapes().compiled();
    assert!(compiled.len() > RULES.len(), "the shapes of credentials.toml joined the built-in rules");
    for c in compiled {
        assert!(c.whole.compiles(), "{} does not compile", c.rule.kind);
    }
}

#[test]
fn every_rule_kind_has_samples() {
    for rule in RULES {
        assert!(CASES.iter().any(|(kind, _, _)| *kind == rule.kind), "no sample for {}", rule.kind);
    }
}

#[test]
fn positives_match_their_own_rule() {
    for (kind, positive, _) in CASES {
        let got = match_token(positive).map(|r| r.kind);
        assert_eq!(got, Some(*kind), "positive sample for {kind}");
    }
}

#[test]
fn near_misses_do_not_match_the_rule() {
    for (kind, _, misses) in CASES {
        for miss in *misses {
            let got = match_token(miss).map(|r| r.kind);
            assert_ne!(got, Some(*kind), "near miss for {kind}: {miss}");
        }
    }
}

#[test]
fn github_checksum_failures_are_not_github() {
    let (_, good, misses) = CASES.iter().find(|(k, _, _)| *k == "github-classic-pat").unwrap();
    assert!(decode::has_base62_crc32(good));
    let bad = misses.last().unwrap();
    assert!(bad.starts_with("ghp_") && bad.len() == 40);
    assert_eq!(match_token(bad).map(|r| r.provider), None);
}

#[test]
fn publishable_identifiers() {
    assert!(is_public_identifier("pk_live_Zq8mV3xT0bLk9WcN2pRf7HsJ"));
    assert!(is_public_identifier("sb_publishable_Zq8mV3xT0bLk9WcN2pRf7HsJ"));
    assert!(is_public_identifier("AC0f4c9a7e2b1d8c3e5f6a7b8c9d0e1f2a"));
    assert!(!is_public_identifier("sk_live_Zq8mV3xT0bLk9WcN2pRf7HsJ"));
    assert!(!is_public_identifier("AC0f4c9a7e2b1d8c3e5f6a7b8c9d0e1f2"));
}

#[test]
fn every_kind_is_lower_kebab_and_confidence_is_not_low() {
    for rule in RULES {
        assert!(rule.kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{}", rule.kind);
        assert!(rule.confidence > Confidence::Low, "{}", rule.kind);
    }
}

/// One fake sample per shape of `credentials.toml`, and a near miss.
const DATA_CASES: &[(&str, &str, &str)] = &[
    ("tavily-api-key", "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", "tvly-Qm3Xr8"),
    ("firecrawl-api-key", "fc-0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e", "fc-0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2g"),
    ("context7-api-key", "ctx7sk-3f9c2a1e-7b4d-4e8f-9a0c-1d2e3f4a5b6c", "ctx7sk-not-a-uuid"),
    ("apify-api-token", "apify_api_Zq8mV3xT0bLk9WcN2pRf7HsJd4YgAe0QwErT", "apify_api_short"),
    ("docker-hub-pat", "dckr_pat_Xy7Qm2Lp9Vb4Nc8Kt3Hs6Jd1Fg", "dckr_pat_short"),
    ("figma-pat", "figd_Qm3Xr8TzLw2Vb6Nc9Kp4Hs7Jd1Fg5Ya0Wq2Er", "figd_short"),
    ("pinecone-api-key", "pcsk_3Ui9d2_Rg8Bzyog3P6EytzRbocmt7ttGt5SwrDWtW6z9EmTNRg67byxaGeDhFw7jQPE5e", "pcsk_short"),
    ("buildkite-api-token", "bkua_0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a", "bkua_0f3a9c2e"),
    (
        "astra-db-token",
        "AstraCS:QmXrTzLwVbNcKpHsJdFgYaWq:0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e",
        "AstraCS:short",
    ),
    ("neon-api-key", "napi_0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e", "napi_0f3a9c2e"),
    ("resend-api-key", "re_Qm3Xr8Tz_Lw2Vb6Nc9Kp4Hs7Jd1Fg5Ya0", "re_short"),
    ("browserbase-api-key", "bb_live_Qm3Xr8TzLw2Vb6Nc9Kp4Hs7Jd", "bb_live_x"),
    (
        "hubspot-private-app-token",
        "pat-na1-91fc3cbc-3740-4d08-9d10-e31c947d8db1",
        "pat-xx1-91fc3cbc-3740-4d08-9d10-e31c947d8db1",
    ),
    ("circleci-pat", "CCIPAT_Qm3Xr8TzLw2Vb6Nc9Kp4Hs_0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a", "CCIPAT_short"),
    ("sonarqube-token", "squ_0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a", "sqx_0f3a9c2e7b1d4f6a8c0e2b4d6f8a0c2e4b6d8f0a"),
];

#[test]
fn every_data_shape_has_a_sample_that_matches_it_and_a_near_miss_that_does_not() {
    let rules = super::super::rules::CredentialRules::builtin();
    let data_kinds: Vec<&str> = rules.shapes().rules().skip(RULES.len()).map(|r| r.kind).collect();
    for kind in &data_kinds {
        assert!(DATA_CASES.iter().any(|(k, _, _)| k == kind), "no sample for {kind}");
    }
    for (kind, positive, near) in DATA_CASES {
        assert_eq!(match_token(positive).map(|r| r.kind), Some(*kind), "positive sample for {kind}");
        assert_ne!(match_token(near).map(|r| r.kind), Some(*kind), "near miss for {kind}");
    }
}
