//! [`impl_store!`]: the [`super::Store`] impl that hands each method to its feature module
//! (`tokens_sql`, `agents_sql`, `ingest_sql`, `inventory_sql`); their shared helpers are in
//! `portable.rs`.
//!
//! Every statement of the store is portable between SQLite and PostgreSQL: numbered `$N`
//! parameters, `ON CONFLICT ... DO UPDATE`, `RETURNING`, integers as 64-bit, times as unix
//! seconds. Dialect differences (column types, identity columns) live only in the per-dialect
//! migrations. Each feature module is a small macro instantiated per backend (see
//! `docs/adr/0005-store-per-feature-sql-modules.md`). Nothing here opens connections or runs
//! migrations.

/// Implements [`super::Store`] for `$store` (a struct with `writer()` and `reader()` accessors
/// returning `&sqlx::Pool<$db>`: every statement that writes goes to `writer`, plain reads to
/// `reader`) by instantiating the per-feature SQL modules and handing each method to its module.
macro_rules! impl_store {
    ($store:ident, $db:ty, $conn:ty) => {
        super::tokens_sql::impl_tokens!($store, $db);
        super::agents_sql::impl_agents!($store, $db);
        super::ingest_sql::impl_ingest!($store, $db, $conn);
        super::inventory_sql::impl_inventory!($store, $db);

        #[async_trait::async_trait]
        impl crate::store::Store for $store {
            async fn create_token(&self, token: &crate::store::NewToken) -> Result<(), crate::store::StoreError> {
                tokens_sql::create_token(self, token).await
            }
            async fn list_tokens(&self) -> Result<Vec<crate::store::TokenRecord>, crate::store::StoreError> {
                tokens_sql::list_tokens(self).await
            }
            async fn revoke_token(&self, id: &str, now: i64) -> Result<bool, crate::store::StoreError> {
                tokens_sql::revoke_token(self, id, now).await
            }
            async fn enroll_agent(
                &self,
                token_hash: &str,
                now: i64,
                agent: &crate::store::NewAgent,
            ) -> Result<(), crate::store::StoreError> {
                agents_sql::enroll_agent(self, token_hash, now, agent).await
            }
            async fn agent(&self, id: &str) -> Result<Option<crate::store::AgentRecord>, crate::store::StoreError> {
                agents_sql::agent(self, id).await
            }
            async fn list_agents(&self) -> Result<Vec<crate::store::AgentRecord>, crate::store::StoreError> {
                agents_sql::list_agents(self).await
            }
            async fn revoke_agent(&self, id: &str, now: i64) -> Result<bool, crate::store::StoreError> {
                agents_sql::revoke_agent(self, id, now).await
            }
            async fn renew_agent_cert(
                &self,
                id: &str,
                cert_serial: &str,
                cert_not_after: i64,
            ) -> Result<(), crate::store::StoreError> {
                agents_sql::renew_agent_cert(self, id, cert_serial, cert_not_after).await
            }
            async fn confirm_agent_cert(&self, id: &str, cert_serial: &str) -> Result<bool, crate::store::StoreError> {
                agents_sql::confirm_agent_cert(self, id, cert_serial).await
            }
            async fn heartbeat(
                &self,
                id: &str,
                agent_version: &str,
                now: i64,
            ) -> Result<u64, crate::store::StoreError> {
                agents_sql::heartbeat(self, id, agent_version, now).await
            }
            async fn ingest(
                &self,
                agent_id: &str,
                report: &crate::ingest::Report,
                now: i64,
            ) -> Result<crate::ingest::IngestOutcome, crate::store::StoreError> {
                ingest_sql::ingest(self, agent_id, report, now).await
            }
            async fn host_inventory(
                &self,
                agent_id: &str,
            ) -> Result<crate::store::HostInventory, crate::store::StoreError> {
                inventory_sql::host_inventory(self, agent_id).await
            }
            async fn change_events(
                &self,
                agent_id: &str,
            ) -> Result<Vec<crate::store::ChangeEventRecord>, crate::store::StoreError> {
                inventory_sql::change_events(self, agent_id).await
            }
        }
    };
}

pub(crate) use impl_store;
