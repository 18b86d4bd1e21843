//! The policy part of a report (`muster.v1.PolicyReport`): whether the control plane stores it as
//! sent ([`check`]) and the rows it becomes ([`plan`]), both pure.
//!
//! A report carrying a policy part replaces everything stored about the agent's compliance: one
//! `policy_compliance` row and its `policy_compliance_actions`. A report without one (an agent
//! older than policies) leaves them as they are; that choice is the store's, which only executes
//! a [`ComplianceWrite`] when there is one. Nothing here touches the database.
//!
//! Identifiers (server ids, rule ids, action names) must be short and non-empty or the report is
//! refused (an agent never produces others, so a refusal names a broken or hostile sender); the
//! free texts (a failed action's reason, a refused bundle's reason) are the agent's own words and
//! are cut to [`MAX_DETAIL_CHARS`] characters rather than refused, so a long error message never
//! costs the inventory it came with. How many servers and actions a report may carry is capped
//! with the other lists (`limits.rs`).

use std::collections::BTreeMap;

use muster_proto::v1::{PolicyActionState, PolicyReport};

/// The longest server id, rule id or action name accepted.
pub const MAX_ID_CHARS: usize = 200;
/// Free texts (an action's detail, the refusal) are cut to this many characters.
pub const MAX_DETAIL_CHARS: usize = 500;

/// Why a policy report cannot be stored as sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyReportError {
    #[error("version {0} is above the largest the control plane stores")]
    VersionTooLarge(u64),
    #[error("server {index}: {what} is empty or longer than {MAX_ID_CHARS} characters")]
    BadIdentifier { index: usize, what: &'static str },
}

/// Refuses a policy report whose versions the store cannot hold exactly or whose identifiers are
/// empty or overlong.
pub fn check(report: &PolicyReport) -> Result<(), PolicyReportError> {
    for version in [report.applied_version, report.acked_version, report.data_version, report.data_refused_version] {
        if i64::try_from(version).is_err() {
            return Err(PolicyReportError::VersionTooLarge(version));
        }
    }
    let fits = |text: &str| !text.is_empty() && text.chars().count() <= MAX_ID_CHARS;
    for (index, server) in report.servers.iter().enumerate() {
        if !fits(&server.server_id) {
            return Err(PolicyReportError::BadIdentifier { index, what: "server id" });
        }
        for action in &server.actions {
            if !fits(&action.rule_id) {
                return Err(PolicyReportError::BadIdentifier { index, what: "rule id" });
            }
            if !fits(&action.action) {
                return Err(PolicyReportError::BadIdentifier { index, what: "action" });
            }
        }
    }
    Ok(())
}

/// One stored action: a rule a server breaks and what became of its action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    pub server_id: String,
    pub rule_id: String,
    pub action: String,
    /// `muster.v1.PolicyActionState` as its number (a number this build does not know is kept).
    pub state: i32,
    pub detail: String,
    /// None: due now.
    pub due_at: Option<i64>,
}

/// Everything a policy report writes for its agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceWrite {
    pub applied_version: i64,
    pub acked_version: i64,
    pub evaluated_at: i64,
    /// Actions not lifted by an exception.
    pub violations: i64,
    pub refusal: String,
    /// The data bundle in use, the last one refused and why (0, 0, "" from older agents).
    pub data_version: i64,
    pub data_refused_version: i64,
    pub data_refusal: String,
    pub counts: StateCounts,
    /// Sorted by (server id, rule id), one per pair (a repeated pair keeps its last entry).
    pub actions: Vec<ActionRow>,
}

/// How many actions are in each state (a state this build does not know counts nowhere).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub pending: i64,
    pub applied: i64,
    pub failed: i64,
    pub excepted: i64,
    pub not_in_force: i64,
}

impl StateCounts {
    fn add(&mut self, state: i32) {
        let slot = match PolicyActionState::try_from(state) {
            Ok(PolicyActionState::Pending) => &mut self.pending,
            Ok(PolicyActionState::Applied) => &mut self.applied,
            Ok(PolicyActionState::Failed) => &mut self.failed,
            Ok(PolicyActionState::Excepted) => &mut self.excepted,
            Ok(PolicyActionState::NotInForce) => &mut self.not_in_force,
            Ok(PolicyActionState::Unspecified) | Err(_) => return,
        };
        *slot += 1;
    }
}

/// `text` cut to [`MAX_DETAIL_CHARS`] characters, marked with `…` when cut.
pub fn capped(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// The rows of a report that passed [`check`] (versions above `i64::MAX` read as `i64::MAX`).
pub fn plan(report: &PolicyReport) -> ComplianceWrite {
    let mut actions = BTreeMap::new();
    for server in &report.servers {
        for action in &server.actions {
            let row = ActionRow {
                server_id: server.server_id.clone(),
                rule_id: action.rule_id.clone(),
                action: action.action.clone(),
                state: action.state,
                detail: capped(&action.detail),
                due_at: (action.due_at_unix != 0).then_some(action.due_at_unix),
            };
            actions.insert((row.server_id.clone(), row.rule_id.clone()), row);
        }
    }
    let actions: Vec<ActionRow> = actions.into_values().collect();
    let excepted = PolicyActionState::Excepted as i32;
    let violations = actions.iter().filter(|a| a.state != excepted).count();
    let mut counts = StateCounts::default();
    for action in &actions {
        counts.add(action.state);
    }
    ComplianceWrite {
        applied_version: i64::try_from(report.applied_version).unwrap_or(i64::MAX),
        acked_version: i64::try_from(report.acked_version).unwrap_or(i64::MAX),
        evaluated_at: report.evaluated_at_unix,
        violations: i64::try_from(violations).unwrap_or(i64::MAX),
        refusal: capped(&report.refusal),
        data_version: i64::try_from(report.data_version).unwrap_or(i64::MAX),
        data_refused_version: i64::try_from(report.data_refused_version).unwrap_or(i64::MAX),
        data_refusal: capped(&report.data_refusal),
        counts,
        actions,
    }
}

#[cfg(test)]
mod tests {
    use muster_proto::v1::{PolicyActionResult, PolicyServerState};

    use super::*;

    fn action(rule: &str, state: PolicyActionState, detail: &str) -> PolicyActionResult {
        PolicyActionResult {
            rule_id: rule.into(),
            action: "block".into(),
            state: state as i32,
            detail: detail.into(),
            due_at_unix: 0,
        }
    }

    fn report(servers: Vec<PolicyServerState>) -> PolicyReport {
        PolicyReport {
            applied_version: 3,
            acked_version: 4,
            evaluated_at_unix: 1_800_000_000,
            servers,
            refusal: String::new(),
            ..PolicyReport::default()
        }
    }

    #[test]
    fn excepted_actions_are_no_violations_and_rows_are_sorted_and_unique() {
        let report = report(vec![
            PolicyServerState {
                server_id: "s2".into(),
                actions: vec![
                    action("r1", PolicyActionState::Failed, "no writer"),
                    PolicyActionResult {
                        due_at_unix: 1_900_000_000,
                        ..action("r0", PolicyActionState::NotInForce, "")
                    },
                ],
            },
            PolicyServerState {
                server_id: "s1".into(),
                actions: vec![
                    action("r1", PolicyActionState::Pending, "first"),
                    action("r1", PolicyActionState::Excepted, "x-1"),
                ],
            },
        ]);
        let write = plan(&report);
        let keys: Vec<(&str, &str)> =
            write.actions.iter().map(|a| (a.server_id.as_str(), a.rule_id.as_str())).collect();
        assert_eq!(keys, [("s1", "r1"), ("s2", "r0"), ("s2", "r1")]);
        assert_eq!(write.actions[0].detail, "x-1", "a repeated pair keeps its last entry");
        assert_eq!(write.violations, 2, "the excepted action is not a violation");
        assert_eq!(write.counts, StateCounts { pending: 0, applied: 0, failed: 1, excepted: 1, not_in_force: 1 });
        assert_eq!(write.actions[1].due_at, Some(1_900_000_000));
        assert_eq!(write.actions[2].due_at, None);
        assert_eq!((write.applied_version, write.acked_version), (3, 4));
    }

    #[test]
    fn agent_texts_are_cut_and_identifiers_are_refused() {
        let long = "é".repeat(MAX_DETAIL_CHARS + 10);
        let mut sent = report(vec![PolicyServerState {
            server_id: "s1".into(),
            actions: vec![action("r1", PolicyActionState::Failed, &long)],
        }]);
        sent.refusal = long.clone();
        assert_eq!(check(&sent), Ok(()));
        let write = plan(&sent);
        assert_eq!(write.actions[0].detail.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(write.actions[0].detail.ends_with('…'));
        assert_eq!(write.refusal.chars().count(), MAX_DETAIL_CHARS + 1);
        assert_eq!(capped("short"), "short");

        sent.servers[0].actions[0].rule_id = "r".repeat(MAX_ID_CHARS + 1);
        assert_eq!(check(&sent), Err(PolicyReportError::BadIdentifier { index: 0, what: "rule id" }));
        sent.servers[0].server_id = String::new();
        assert_eq!(check(&sent), Err(PolicyReportError::BadIdentifier { index: 0, what: "server id" }));
        let too_new = PolicyReport { applied_version: u64::MAX, ..PolicyReport::default() };
        assert_eq!(check(&too_new), Err(PolicyReportError::VersionTooLarge(u64::MAX)));
    }
}
