//! The findings list with its filters, and acknowledge / waive / clear decisions (which recount
//! the endpoint's summary).
//!
//! Portable SQL under the rules of `read/sql.rs`; a macro instantiated per backend inside
//! `read_models` (whose imports and helpers it shares through `use super::*`).

macro_rules! impl_findings {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod findings {
            use super::*;

            fn finding_from_row(row: &Row, now: i64) -> Result<FindingView, StoreError> {
                let state: Option<String> = row.try_get("state")?;
                let decision = match state {
                    None => None,
                    Some(state) => {
                        let kind = DecisionKind::parse(&state)
                            .ok_or_else(|| StoreError::Corrupt(format!("finding state {state}")))?;
                        let expires_at: Option<i64> = row.try_get("expires_at")?;
                        Some(FindingDecision {
                            kind,
                            reason: row.try_get("reason")?,
                            expires_at,
                            decided_by: row.try_get("decided_by")?,
                            decided_at: row.try_get("decided_at")?,
                            active: expires_at.is_none_or(|at| at > now),
                        })
                    }
                };
                let finding_id: String = row.try_get("finding_id")?;
                Ok(FindingView {
                    id: row.try_get("id")?,
                    key: FindingKey {
                        agent_id: row.try_get("agent_id")?,
                        server_id: row.try_get("server_id")?,
                        finding_id: finding_id.clone(),
                        subject: row.try_get("subject")?,
                    },
                    hostname: row.try_get("hostname")?,
                    severity: to_i32(row.try_get("severity")?),
                    owasp: row.try_get("owasp")?,
                    message: row.try_get("message")?,
                    service: row.try_get("service")?,
                    client: row.try_get("eff_client")?,
                    user: row.try_get("eff_user")?,
                    advisory: row.try_get("advisory")?,
                    server_name: row.try_get("server_name")?,
                    config_path: row.try_get("config_path")?,
                    title: crate::finding_catalog::title(&finding_id).to_string(),
                    remediation: crate::finding_catalog::remediation(&finding_id).to_string(),
                    decision,
                })
            }

            fn push_findings_query(qb: &mut Builder, query: &FindingQuery, limit: u32) -> Result<(), StoreError> {
                qb.push(
                    "SELECT f.id, f.agent_id, COALESCE(e.hostname, '') AS hostname, f.server_id, f.finding_id, \
                     f.subject, f.severity, f.owasp, f.message, f.service, f.eff_client, f.eff_user, f.advisory, st.state, \
                     st.reason, st.expires_at, st.decided_by, st.decided_at, COALESCE(s.name, '') AS server_name, \
                     COALESCE(s.config_path, '') AS config_path FROM findings f \
                     LEFT JOIN endpoint_summary e ON e.agent_id = f.agent_id \
                     LEFT JOIN servers s ON s.agent_id = f.agent_id AND s.server_id = f.server_id ",
                );
                qb.push(
                    "LEFT JOIN finding_states st ON st.agent_id = f.agent_id AND st.server_id = f.server_id \
                     AND st.finding_id = f.finding_id AND st.subject = f.subject WHERE f.severity >= ",
                );
                qb.push_bind(i64::from(query.min_severity.unwrap_or(0)));
                // Filters are case-insensitive. Catalog words are stored in one case (OWASP and
                // rule ids upper, service and client ids lower), so those compare the folded
                // value with `=` and keep their indexes; user names keep their case and compare
                // folded on both sides.
                let upper = |v: &Option<String>| v.as_ref().map(|v| v.to_uppercase());
                let lower = |v: &Option<String>| v.as_ref().map(|v| v.to_lowercase());
                for (column, value) in [
                    ("f.owasp", upper(&query.owasp)),
                    ("f.service", lower(&query.service)),
                    ("f.eff_client", lower(&query.client)),
                    ("LOWER(f.eff_user)", lower(&query.user)),
                    ("f.agent_id", query.agent_id.clone()),
                    ("f.finding_id", upper(&query.finding_id)),
                    ("f.server_id", query.server_id.clone()),
                    ("f.subject", query.subject.clone()),
                ] {
                    if let Some(value) = value {
                        qb.push(format_args!(" AND {column} = ")).push_bind(value);
                    }
                }
                if let Some(host) = &query.host {
                    // The hosts first (100,000 summaries scanned), then their findings by the
                    // agent index: a rare host in 20-30 ms on the 100,000-endpoint seed, where
                    // checking each finding's host in severity order took 0.8-1.1 s.
                    qb.push(" AND f.agent_id IN (SELECT agent_id FROM endpoint_summary WHERE LOWER(hostname) LIKE ")
                        .push_bind(contains_pattern(host))
                        .push(" ESCAPE '\\')");
                }
                if let Some(text) = &query.text {
                    let pattern = contains_pattern(text);
                    qb.push(" AND (LOWER(f.message) LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
                    qb.push(" OR LOWER(f.finding_id) LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
                    qb.push(" OR LOWER(COALESCE(e.hostname, '')) LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
                    qb.push(" OR LOWER(COALESCE(s.name, '')) LIKE ").push_bind(pattern).push(" ESCAPE '\\')");
                }
                // State filters are (NOT) EXISTS on the decision's primary key, not conditions on
                // the LEFT JOIN: PostgreSQL misestimates `st.x IS NULL OR ...` as one row and
                // hash-joins every finding, where an anti-join walks the severity index.
                let decision = |qb: &mut Builder, negate: bool, state: Option<&'static str>| {
                    qb.push(if negate { " AND NOT EXISTS" } else { " AND EXISTS" });
                    qb.push(
                        " (SELECT 1 FROM finding_states d WHERE d.agent_id = f.agent_id \
                         AND d.server_id = f.server_id AND d.finding_id = f.finding_id AND d.subject = f.subject",
                    );
                    if let Some(state) = state {
                        qb.push(" AND d.state = ").push_bind(state);
                    }
                    qb.push(" AND (d.expires_at IS NULL OR d.expires_at > ").push_bind(query.now).push("))");
                };
                match query.state {
                    None => {}
                    Some(FindingStateFilter::Open) => decision(qb, true, None),
                    Some(FindingStateFilter::Counting) => decision(qb, true, Some("waived")),
                    Some(FindingStateFilter::Acknowledged) => decision(qb, false, Some("acknowledged")),
                    Some(FindingStateFilter::Waived) => decision(qb, false, Some("waived")),
                }
                if let Some(cursor) = &query.cursor {
                    let cursor = Cursor::decode(cursor)?;
                    qb.push(" AND (f.severity, f.id) < (")
                        .push_bind(cursor.int_key()?)
                        .push(", ")
                        .push_bind(cursor.int_id()?)
                        .push(")");
                }
                qb.push(" ORDER BY f.severity DESC, f.id DESC LIMIT ").push_bind(i64::from(limit) + 1);
                Ok(())
            }

            pub(crate) async fn findings(
                store: &super::super::$store,
                query: &FindingQuery,
            ) -> Result<Page<FindingView>, StoreError> {
                let limit = page_limit(query.limit);
                let mut qb = Builder::new("");
                push_findings_query(&mut qb, query, limit)?;
                let rows = qb.build().fetch_all(store.reader()).await?;
                let items =
                    rows.iter().map(|row| finding_from_row(row, query.now)).collect::<Result<Vec<_>, _>>()?;
                Ok(into_page(items, limit, |f| Cursor { key: f.severity.to_string(), id: f.id.to_string() }))
            }

            pub(crate) async fn decide_finding(
                store: &super::super::$store,
                key: &FindingKey,
                kind: DecisionKind,
                reason: &str,
                expires_at: Option<i64>,
                who: &str,
                now: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = store.writer().begin().await?;
                let exists = sqlx::query(
                    "SELECT 1 AS one FROM findings WHERE agent_id = $1 AND server_id = $2 AND finding_id = $3 \
                     AND subject = $4 LIMIT 1",
                )
                .bind(&key.agent_id)
                .bind(&key.server_id)
                .bind(&key.finding_id)
                .bind(&key.subject)
                .fetch_optional(&mut *tx)
                .await?;
                if exists.is_none() {
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO finding_states (agent_id, server_id, finding_id, subject, state, reason, \
                     expires_at, decided_by, decided_at) VALUES ($1, $2, $3, $9, $4, $5, $6, $7, $8) \
                     ON CONFLICT (agent_id, server_id, finding_id, subject) DO UPDATE SET state = excluded.state, \
                     reason = excluded.reason, expires_at = excluded.expires_at, \
                     decided_by = excluded.decided_by, decided_at = excluded.decided_at",
                )
                .bind(&key.agent_id)
                .bind(&key.server_id)
                .bind(&key.finding_id)
                .bind(kind.as_str())
                .bind(reason)
                .bind(expires_at)
                .bind(who)
                .bind(now)
                .bind(&key.subject)
                .execute(&mut *tx)
                .await?;
                refresh_endpoint(&mut tx, &key.agent_id, now).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn clear_finding_decision(
                store: &super::super::$store,
                key: &FindingKey,
                now: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = store.writer().begin().await?;
                let done = sqlx::query(
                    "DELETE FROM finding_states WHERE agent_id = $1 AND server_id = $2 AND finding_id = $3 \
                     AND subject = $4",
                )
                .bind(&key.agent_id)
                .bind(&key.server_id)
                .bind(&key.finding_id)
                .bind(&key.subject)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() > 0 {
                    refresh_endpoint(&mut tx, &key.agent_id, now).await?;
                }
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use impl_findings;
