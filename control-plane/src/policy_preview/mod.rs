//! Policy previews against the stored fleet, for the people writing a policy: the **dry run**
//! ("this version would affect N endpoints, M servers, K users; here they are, by rule") and the
//! **draft from observation** (an allowlist of what the fleet runs today). Both are use-cases:
//! the CLI (`muster-server policy diff`), `/api/v1/policies/...` and the policy pages call them.
//!
//! Both read every active endpoint's stored servers as the agent sent them
//! (`store::PolicyInputs`), a page of endpoints at a time, and hand them to pure functions:
//! [`dry_run::Tally`] counts what `muster_policy::evaluate` decides (the very function the agent
//! runs, so a dry run and the agents agree), [`draft::Observed`] groups launch commands and
//! remote hosts. Neither writes anything, so neither is audited; publishing is another
//! use-case's.

pub mod draft;
pub mod dry_run;

use muster_proto::v1::InventorySnapshot;

use crate::store::{PolicyInputs, StoreError, StoredEndpoint};

/// Endpoints read per store call.
pub(crate) const PAGE: u32 = 500;

/// Calls `visit` with every active endpoint (agent id, rebuilt snapshot), in agent id order.
pub async fn for_each_endpoint(
    store: &dyn PolicyInputs,
    mut visit: impl FnMut(&str, &InventorySnapshot),
) -> Result<(), StoreError> {
    for_each_page(store, |page| {
        for endpoint in &page {
            visit(&endpoint.agent_id, &endpoint.snapshot);
        }
        std::future::ready(true)
    })
    .await
}

/// Hands every active endpoint to `visit` a page at a time, in agent id order, until `visit`
/// answers false.
pub async fn for_each_page<F: Future<Output = bool>>(
    store: &dyn PolicyInputs,
    mut visit: impl FnMut(Vec<StoredEndpoint>) -> F,
) -> Result<(), StoreError> {
    let mut after = String::new();
    loop {
        let page = store.policy_endpoints(&after, PAGE).await?;
        let next = match page.last() {
            Some(last) if page.len() == PAGE as usize => Some(last.agent_id.clone()),
            _ => None,
        };
        if !visit(page).await {
            return Ok(());
        }
        match next {
            Some(next) => after = next,
            None => return Ok(()),
        }
    }
}
