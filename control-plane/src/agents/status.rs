//! The agent statuses and accepted certificates this process has seen, so authorising a report
//! reads no database (see `crate::grpc::identity` for how calls use it). Pure bookkeeping: it
//! neither reads the store nor decides a refusal.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::store::AgentStatus;

/// The certificates an agent may call with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedCertificates {
    pub current: String,
    /// Replaced by a renewal the agent has not used yet (None: no renewal pending).
    pub previous: Option<String>,
}

/// What a certificate serial is to its agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateUse {
    /// The current certificate, nothing pending.
    Current,
    /// The current certificate, used for the first time since a renewal: confirm it.
    FirstUseAfterRenewal,
    /// The replaced certificate of a renewal that is not confirmed yet.
    Previous,
    /// Superseded (or never issued to this agent): refused.
    Superseded,
}

impl AcceptedCertificates {
    /// Pure decision: how a call with `serial` stands.
    pub fn judge(&self, serial: &str) -> CertificateUse {
        if serial == self.current {
            if self.previous.is_some() { CertificateUse::FirstUseAfterRenewal } else { CertificateUse::Current }
        } else if self.previous.as_deref() == Some(serial) {
            CertificateUse::Previous
        } else {
            CertificateUse::Superseded
        }
    }
}

#[derive(Debug, Clone)]
struct CachedAgent {
    status: AgentStatus,
    /// None: not known to this process (read the database).
    certificates: Option<AcceptedCertificates>,
}

/// Statuses and accepted certificates of agents seen by this process. A revocation is final:
/// once an agent is marked revoked, a lookup that started before the revocation cannot mark it
/// active again.
#[derive(Debug, Default)]
pub struct AgentStatusCache {
    agents: RwLock<HashMap<String, CachedAgent>>,
}

impl AgentStatusCache {
    pub fn get(&self, agent_id: &str) -> Option<AgentStatus> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is still consistent.
        self.agents.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(agent_id).map(|a| a.status)
    }

    /// The certificates this process knows the agent may call with, if it knows them.
    pub fn certificates(&self, agent_id: &str) -> Option<AcceptedCertificates> {
        let agents = self.agents.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        agents.get(agent_id).and_then(|a| a.certificates.clone())
    }

    /// Records a status read from the database; never overwrites a revocation.
    pub fn remember(&self, agent_id: &str, status: AgentStatus) {
        self.update(agent_id, status, None);
    }

    /// Records a status and the accepted certificates read from the database.
    pub fn remember_agent(&self, agent_id: &str, status: AgentStatus, certificates: AcceptedCertificates) {
        self.update(agent_id, status, Some(certificates));
    }

    fn update(&self, agent_id: &str, status: AgentStatus, certificates: Option<AcceptedCertificates>) {
        let mut agents = self.agents.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        match agents.get_mut(agent_id) {
            Some(known) => {
                if status == AgentStatus::Revoked {
                    known.status = AgentStatus::Revoked;
                }
                if certificates.is_some() {
                    known.certificates = certificates;
                }
            }
            None => {
                agents.insert(agent_id.to_string(), CachedAgent { status, certificates });
            }
        }
    }

    /// Forgets the agent's accepted certificates (after a renewal): the next call reads them.
    pub fn forget_certificates(&self, agent_id: &str) {
        let mut agents = self.agents.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(known) = agents.get_mut(agent_id) {
            known.certificates = None;
        }
    }

    pub fn mark_revoked(&self, agent_id: &str) {
        self.remember(agent_id, AgentStatus::Revoked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_is_never_overwritten_by_an_older_lookup() {
        let cache = AgentStatusCache::default();
        assert_eq!(cache.get("a"), None);
        cache.remember("a", AgentStatus::Active);
        assert_eq!(cache.get("a"), Some(AgentStatus::Active));
        cache.mark_revoked("a");
        // A lookup that read the database before the revocation arrives late.
        cache.remember("a", AgentStatus::Active);
        assert_eq!(cache.get("a"), Some(AgentStatus::Revoked));
        cache.mark_revoked("b");
        cache.remember("b", AgentStatus::Active);
        assert_eq!(cache.get("b"), Some(AgentStatus::Revoked));
    }

    #[test]
    fn only_the_current_certificate_and_an_unconfirmed_predecessor_are_accepted() {
        let settled = AcceptedCertificates { current: "02".into(), previous: None };
        assert_eq!(settled.judge("02"), CertificateUse::Current);
        assert_eq!(settled.judge("01"), CertificateUse::Superseded);
        let pending = AcceptedCertificates { current: "02".into(), previous: Some("01".into()) };
        assert_eq!(pending.judge("01"), CertificateUse::Previous);
        assert_eq!(pending.judge("02"), CertificateUse::FirstUseAfterRenewal);
        assert_eq!(pending.judge("03"), CertificateUse::Superseded);
    }

    #[test]
    fn renewals_forget_cached_certificates_but_not_revocations() {
        let cache = AgentStatusCache::default();
        cache.remember_agent("a", AgentStatus::Active, AcceptedCertificates { current: "01".into(), previous: None });
        assert_eq!(cache.certificates("a").map(|c| c.current), Some("01".to_string()));
        cache.forget_certificates("a");
        assert_eq!(cache.certificates("a"), None);
        cache.mark_revoked("a");
        cache.remember_agent("a", AgentStatus::Active, AcceptedCertificates { current: "02".into(), previous: None });
        assert_eq!(cache.get("a"), Some(AgentStatus::Revoked));
    }
}
