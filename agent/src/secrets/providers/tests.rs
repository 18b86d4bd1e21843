//! Positive and near-miss (negative) tests for every provider rule, with samples from
//! [`super::cases`].

use super::cases::CASES;
use super::*;

#[test]
fn every_rule_compiles() {
    assert_eq!(COMPILED.len(), RULES.len());
    for c in COMPILED.iter() {
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
