//! Enrollment tokens' SQL: create, list and revoke (using one to enroll is an agent's business,
//! `agents_sql.rs`). Only the token's hash is stored. One macro instantiated per backend.

/// Defines the token functions for `$store` inside a `tokens_sql` child module.
macro_rules! impl_tokens {
    ($store:ident, $db:ty) => {
        pub(crate) mod tokens_sql {
            use sqlx::Row as _;

            use crate::store::portable::to_u32;
            use crate::store::{NewToken, StoreError, TokenRecord};

            pub(crate) async fn create_token(store: &super::$store, token: &NewToken) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO enrollment_tokens (id, token_hash, max_uses, uses, expires_at, created_at) \
                     VALUES ($1, $2, $3, 0, $4, $5)",
                )
                .bind(&token.id)
                .bind(&token.token_hash)
                .bind(i64::from(token.max_uses))
                .bind(token.expires_at)
                .bind(token.created_at)
                .execute(store.writer())
                .await?;
                Ok(())
            }

            pub(crate) async fn list_tokens(store: &super::$store) -> Result<Vec<TokenRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, max_uses, uses, expires_at, created_at, revoked_at FROM enrollment_tokens \
                     ORDER BY created_at, id",
                )
                .fetch_all(store.reader())
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(TokenRecord {
                            id: row.try_get("id")?,
                            max_uses: to_u32(row.try_get("max_uses")?),
                            uses: to_u32(row.try_get("uses")?),
                            expires_at: row.try_get("expires_at")?,
                            created_at: row.try_get("created_at")?,
                            revoked_at: row.try_get("revoked_at")?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn revoke_token(store: &super::$store, id: &str, now: i64) -> Result<bool, StoreError> {
                let done =
                    sqlx::query("UPDATE enrollment_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                        .bind(id)
                        .bind(now)
                        .execute(store.writer())
                        .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use impl_tokens;
