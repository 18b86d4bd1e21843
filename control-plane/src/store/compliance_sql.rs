//! The SQL of [`super::ComplianceStore`] and of ingest's compliance step, shared by both backends:
//! portable statements only (row-value keyset comparisons, `CAST(SUM(..) AS BIGINT)`); the
//! column types per dialect are in migrations `0009_policies` and `0013_policy_compliance_trend`.
//! One macro instantiated per backend (`docs/adr/0005-store-per-feature-sql-modules.md`); it
//! decides nothing: the rows a report writes are `crate::ingest::policy::plan`'s, the version
//! compared with is the caller's.

/// Defines a `compliance_sql` child module for `$store`: `write` (called by `ingest_sql` inside
/// the ingest transaction) and the [`super::ComplianceStore`] impl.
macro_rules! impl_compliance_store {
    ($store:ident, $db:ty, $conn:ty) => {
        pub(crate) mod compliance_sql {
            use sqlx::Row as _;

            use crate::ingest::policy::ComplianceWrite;
            use crate::store::StoreError;
            use crate::store::compliance::{
                ComplianceAction, ComplianceEndpoint, ComplianceQuery, ComplianceStore, ComplianceTotals,
                EndpointCompliance, MAX_ENDPOINT_ACTIONS, RuleCompliance, StateTotals, TrendPoint, hour_start,
            };
            use crate::store::portable::{ROWS_PER_STATEMENT, push_in_list, to_u64};
            use crate::store::read::{Cursor, Page, into_page, page_limit};

            type Row = <$db as sqlx::Database>::Row;
            type Builder = sqlx::QueryBuilder<$db>;

            /// Replaces everything stored about the agent's compliance (ingest, in its transaction).
            pub(crate) async fn write(
                conn: &mut $conn,
                agent_id: &str,
                write: &ComplianceWrite,
                now: i64,
            ) -> Result<(), StoreError> {
                let c = &write.counts;
                sqlx::query(
                    "INSERT INTO policy_compliance (agent_id, applied_version, acked_version, evaluated_at, \
                     violations, refusal, reported_at, pending, applied, failed, excepted, not_in_force, \
                     data_version, data_refused_version, data_refusal) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                     ON CONFLICT (agent_id) DO UPDATE SET applied_version = excluded.applied_version, \
                     acked_version = excluded.acked_version, evaluated_at = excluded.evaluated_at, \
                     violations = excluded.violations, refusal = excluded.refusal, \
                     reported_at = excluded.reported_at, pending = excluded.pending, applied = excluded.applied, \
                     failed = excluded.failed, excepted = excluded.excepted, not_in_force = excluded.not_in_force, \
                     data_version = excluded.data_version, data_refused_version = excluded.data_refused_version, \
                     data_refusal = excluded.data_refusal",
                )
                .bind(agent_id)
                .bind(write.applied_version)
                .bind(write.acked_version)
                .bind(write.evaluated_at)
                .bind(write.violations)
                .bind(&write.refusal)
                .bind(now)
                .bind(c.pending)
                .bind(c.applied)
                .bind(c.failed)
                .bind(c.excepted)
                .bind(c.not_in_force)
                .bind(write.data_version)
                .bind(write.data_refused_version)
                .bind(&write.data_refusal)
                .execute(&mut *conn)
                .await?;
                sqlx::query("DELETE FROM policy_compliance_actions WHERE agent_id = $1")
                    .bind(agent_id)
                    .execute(&mut *conn)
                    .await?;
                for chunk in write.actions.chunks(ROWS_PER_STATEMENT) {
                    let mut builder = Builder::new(
                        "INSERT INTO policy_compliance_actions (agent_id, server_id, rule_id, action, state, detail, \
                         due_at) ",
                    );
                    builder.push_values(chunk, |mut row, a| {
                        row.push_bind(agent_id.to_string())
                            .push_bind(a.server_id.clone())
                            .push_bind(a.rule_id.clone())
                            .push_bind(a.action.clone())
                            .push_bind(i64::from(a.state))
                            .push_bind(a.detail.clone())
                            .push_bind(a.due_at);
                    });
                    builder.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            const ENDPOINT_COLUMNS: &str = "pc.agent_id, COALESCE(es.hostname, '') AS hostname, \
                 COALESCE(es.hostname_key, '') AS hostname_key, pc.applied_version, pc.acked_version, \
                 pc.evaluated_at, pc.reported_at, pc.violations, pc.refusal, pc.pending, pc.applied, pc.failed, \
                 pc.excepted, pc.not_in_force, pc.data_version, pc.data_refused_version, pc.data_refusal";

            fn totals_from_row(row: &Row) -> Result<StateTotals, StoreError> {
                let count = |name: &str| -> Result<u64, StoreError> {
                    Ok(to_u64(row.try_get::<Option<i64>, _>(name)?.unwrap_or(0)))
                };
                Ok(StateTotals {
                    pending: count("pending")?,
                    applied: count("applied")?,
                    failed: count("failed")?,
                    excepted: count("excepted")?,
                    not_in_force: count("not_in_force")?,
                })
            }

            fn endpoint_from_row(row: &Row, current_version: u64) -> Result<ComplianceEndpoint, StoreError> {
                let applied_version = to_u64(row.try_get("applied_version")?);
                Ok(ComplianceEndpoint {
                    agent_id: row.try_get("agent_id")?,
                    hostname: row.try_get("hostname")?,
                    applied_version,
                    acked_version: to_u64(row.try_get("acked_version")?),
                    on_current: applied_version == current_version,
                    evaluated_at: row.try_get("evaluated_at")?,
                    reported_at: row.try_get("reported_at")?,
                    violations: to_u64(row.try_get("violations")?),
                    refusal: row.try_get("refusal")?,
                    data_version: to_u64(row.try_get("data_version")?),
                    data_refused_version: to_u64(row.try_get("data_refused_version")?),
                    data_refusal: row.try_get("data_refusal")?,
                    actions: totals_from_row(row)?,
                })
            }

            fn version(version: u64) -> i64 {
                i64::try_from(version).unwrap_or(i64::MAX)
            }

            /// The `policy_compliance` column counting actions in `state`, if it is one.
            fn state_column(state: i32) -> Option<&'static str> {
                use muster_proto::v1::PolicyActionState as S;
                match S::try_from(state).ok()? {
                    S::Pending => Some("pending"),
                    S::Applied => Some("applied"),
                    S::Failed => Some("failed"),
                    S::Excepted => Some("excepted"),
                    S::NotInForce => Some("not_in_force"),
                    S::Unspecified => None,
                }
            }

            const TOTALS_SQL: &str = "SELECT COUNT(*) AS endpoints, \
                 CAST(COALESCE(SUM(CASE WHEN applied_version = $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS on_current, \
                 CAST(COALESCE(SUM(CASE WHEN acked_version >= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS acked_current, \
                 CAST(COALESCE(SUM(CASE WHEN applied_version = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS without_policy, \
                 CAST(COALESCE(SUM(CASE WHEN violations > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS violating, \
                 CAST(COALESCE(SUM(CASE WHEN refusal <> '' THEN 1 ELSE 0 END), 0) AS BIGINT) AS refusing, \
                 CAST(SUM(pending) AS BIGINT) AS pending, CAST(SUM(applied) AS BIGINT) AS applied, \
                 CAST(SUM(failed) AS BIGINT) AS failed, CAST(SUM(excepted) AS BIGINT) AS excepted, \
                 CAST(SUM(not_in_force) AS BIGINT) AS not_in_force FROM policy_compliance";

            async fn totals(
                store: &super::$store,
                current_version: u64,
            ) -> Result<ComplianceTotals, StoreError> {
                let row = sqlx::query(TOTALS_SQL).bind(version(current_version)).fetch_one(store.reader()).await?;
                let count = |name: &str| -> Result<u64, StoreError> { Ok(to_u64(row.try_get(name)?)) };
                Ok(ComplianceTotals {
                    endpoints: count("endpoints")?,
                    on_current: count("on_current")?,
                    acked_current: count("acked_current")?,
                    without_policy: count("without_policy")?,
                    violating: count("violating")?,
                    refusing: count("refusing")?,
                    actions: totals_from_row(&row)?,
                })
            }

            fn point_from_row(row: &Row) -> Result<TrendPoint, StoreError> {
                Ok(TrendPoint {
                    hour: row.try_get("hour")?,
                    policy_version: to_u64(row.try_get("policy_version")?),
                    endpoints: to_u64(row.try_get("endpoints")?),
                    on_current: to_u64(row.try_get("on_current")?),
                    violating: to_u64(row.try_get("violating")?),
                    actions: totals_from_row(row)?,
                })
            }

            #[async_trait::async_trait]
            impl ComplianceStore for super::$store {
                async fn compliance_totals(&self, current_version: u64) -> Result<ComplianceTotals, StoreError> {
                    totals(self, current_version).await
                }

                async fn compliance_endpoints(
                    &self,
                    query: &ComplianceQuery,
                ) -> Result<Page<ComplianceEndpoint>, StoreError> {
                    let limit = page_limit(query.limit);
                    let mut qb = Builder::new(format!(
                        "SELECT {ENDPOINT_COLUMNS} FROM policy_compliance pc \
                         JOIN endpoint_summary es ON es.agent_id = pc.agent_id WHERE 1 = 1"
                    ));
                    match query.on_current {
                        Some(true) => {
                            qb.push(" AND pc.applied_version = ").push_bind(version(query.current_version));
                        }
                        Some(false) => {
                            qb.push(" AND pc.applied_version <> ").push_bind(version(query.current_version));
                        }
                        None => {}
                    }
                    if query.violating {
                        qb.push(" AND pc.violations > 0");
                    }
                    match (&query.rule, query.state) {
                        (Some(rule), state) => {
                            qb.push(
                                " AND EXISTS (SELECT 1 FROM policy_compliance_actions a \
                                 WHERE a.agent_id = pc.agent_id AND a.rule_id = ",
                            )
                            .push_bind(rule.clone());
                            if let Some(state) = state {
                                qb.push(" AND a.state = ").push_bind(i64::from(state));
                            }
                            qb.push(")");
                        }
                        (None, Some(state)) => match state_column(state) {
                            Some(column) => {
                                qb.push(format!(" AND pc.{column} > 0"));
                            }
                            None => {
                                qb.push(" AND 1 = 0");
                            }
                        },
                        (None, None) => {}
                    }
                    if let Some(text) = &query.cursor {
                        let cursor = Cursor::decode(text)?;
                        qb.push(" AND (es.hostname_key, pc.agent_id) > (")
                            .push_bind(cursor.key)
                            .push(", ")
                            .push_bind(cursor.id)
                            .push(")");
                    }
                    qb.push(" ORDER BY es.hostname_key, pc.agent_id LIMIT ").push_bind(i64::from(limit) + 1);
                    let rows = qb.build().fetch_all(self.reader()).await?;
                    let mut items = Vec::with_capacity(rows.len());
                    let mut keys = Vec::with_capacity(rows.len());
                    for row in &rows {
                        items.push(endpoint_from_row(row, query.current_version)?);
                        keys.push(row.try_get::<String, _>("hostname_key")?);
                    }
                    let keyed: Vec<(String, ComplianceEndpoint)> = keys.into_iter().zip(items).collect();
                    let page = into_page(keyed, limit, |(key, e)| Cursor { key: key.clone(), id: e.agent_id.clone() });
                    Ok(Page { items: page.items.into_iter().map(|(_, e)| e).collect(), next_cursor: page.next_cursor })
                }

                async fn endpoint_compliance(
                    &self,
                    agent_id: &str,
                    current_version: u64,
                ) -> Result<Option<EndpointCompliance>, StoreError> {
                    let mut qb = Builder::new(format!(
                        "SELECT {ENDPOINT_COLUMNS} FROM policy_compliance pc \
                         LEFT JOIN endpoint_summary es ON es.agent_id = pc.agent_id WHERE pc.agent_id = "
                    ));
                    qb.push_bind(agent_id.to_string());
                    let row = qb.build().fetch_optional(self.reader()).await?;
                    let Some(row) = row else { return Ok(None) };
                    let endpoint = endpoint_from_row(&row, current_version)?;
                    let rows = sqlx::query(
                        "SELECT a.server_id, COALESCE(s.name, '') AS server_name, COALESCE(s.client, '') AS client, \
                         a.rule_id, a.action, a.state, a.detail, a.due_at FROM policy_compliance_actions a \
                         LEFT JOIN servers s ON s.agent_id = a.agent_id AND s.server_id = a.server_id \
                         WHERE a.agent_id = $1 ORDER BY a.server_id, a.rule_id LIMIT $2",
                    )
                    .bind(agent_id)
                    .bind(i64::from(MAX_ENDPOINT_ACTIONS) + 1)
                    .fetch_all(self.reader())
                    .await?;
                    let mut actions = Vec::with_capacity(rows.len());
                    for row in &rows {
                        actions.push(ComplianceAction {
                            server_id: row.try_get("server_id")?,
                            server_name: row.try_get("server_name")?,
                            client: row.try_get("client")?,
                            rule_id: row.try_get("rule_id")?,
                            action: row.try_get("action")?,
                            action_state: i32::try_from(row.try_get::<i64, _>("state")?).unwrap_or(0),
                            detail: row.try_get("detail")?,
                            due_at: row.try_get("due_at")?,
                        });
                    }
                    let truncated = actions.len() > MAX_ENDPOINT_ACTIONS as usize;
                    actions.truncate(MAX_ENDPOINT_ACTIONS as usize);
                    Ok(Some(EndpointCompliance { endpoint, actions, truncated }))
                }

                async fn compliance_rules(
                    &self,
                    cursor: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<RuleCompliance>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT DISTINCT rule_id FROM policy_compliance_actions WHERE rule_id > $1 \
                         ORDER BY rule_id LIMIT $2",
                    )
                    .bind(cursor.unwrap_or(""))
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                    let mut rules: Vec<RuleCompliance> = Vec::with_capacity(rows.len());
                    for row in &rows {
                        rules.push(RuleCompliance {
                            rule_id: row.try_get("rule_id")?,
                            action: String::new(),
                            endpoints: 0,
                            servers: StateTotals::default(),
                            endpoints_by_state: StateTotals::default(),
                        });
                    }
                    if rules.is_empty() {
                        return Ok(rules);
                    }
                    let ids = || rules.iter().map(|r| r.rule_id.clone()).collect::<Vec<_>>();
                    let mut qb = Builder::new(
                        "SELECT rule_id, action, state, COUNT(*) AS servers, COUNT(DISTINCT agent_id) AS endpoints \
                         FROM policy_compliance_actions WHERE rule_id",
                    );
                    push_in_list(&mut qb, ids());
                    qb.push(" GROUP BY rule_id, action, state");
                    let grouped = qb.build().fetch_all(self.reader()).await?;
                    let mut qb = Builder::new(
                        "SELECT rule_id, COUNT(DISTINCT agent_id) AS endpoints FROM policy_compliance_actions \
                         WHERE rule_id",
                    );
                    push_in_list(&mut qb, ids());
                    qb.push(" GROUP BY rule_id");
                    let per_rule = qb.build().fetch_all(self.reader()).await?;
                    let index = |rules: &[RuleCompliance], id: &str| rules.iter().position(|r| r.rule_id == id);
                    for row in &grouped {
                        let id: String = row.try_get("rule_id")?;
                        let Some(at) = index(&rules, &id) else { continue };
                        let rule = &mut rules[at];
                        let action: String = row.try_get("action")?;
                        if !rule.action.split(", ").any(|a| a == action) {
                            if !rule.action.is_empty() {
                                rule.action.push_str(", ");
                            }
                            rule.action.push_str(&action);
                        }
                        let servers = to_u64(row.try_get("servers")?);
                        let endpoints = to_u64(row.try_get("endpoints")?);
                        let state = i32::try_from(row.try_get::<i64, _>("state")?).unwrap_or(0);
                        let (s, e) = match state_column(state) {
                            Some("pending") => (&mut rule.servers.pending, &mut rule.endpoints_by_state.pending),
                            Some("applied") => (&mut rule.servers.applied, &mut rule.endpoints_by_state.applied),
                            Some("failed") => (&mut rule.servers.failed, &mut rule.endpoints_by_state.failed),
                            Some("excepted") => (&mut rule.servers.excepted, &mut rule.endpoints_by_state.excepted),
                            Some("not_in_force") => {
                                (&mut rule.servers.not_in_force, &mut rule.endpoints_by_state.not_in_force)
                            }
                            _ => continue,
                        };
                        *s += servers;
                        // One endpoint can hold the rule in one state under two action names
                        // only across versions; counting it twice there is the lesser evil.
                        *e += endpoints;
                    }
                    for row in &per_rule {
                        let id: String = row.try_get("rule_id")?;
                        if let Some(at) = index(&rules, &id) {
                            rules[at].endpoints = to_u64(row.try_get("endpoints")?);
                        }
                    }
                    Ok(rules)
                }

                async fn record_compliance_trend(
                    &self,
                    current_version: u64,
                    now: i64,
                ) -> Result<TrendPoint, StoreError> {
                    let t = totals(self, current_version).await?;
                    let point = TrendPoint {
                        hour: hour_start(now),
                        policy_version: current_version,
                        endpoints: t.endpoints,
                        on_current: t.on_current,
                        violating: t.violating,
                        actions: t.actions,
                    };
                    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                    sqlx::query(
                        "INSERT INTO policy_compliance_trend (hour, policy_version, endpoints, on_current, violating, \
                         pending, applied, failed, excepted, not_in_force, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (hour) DO UPDATE SET policy_version = excluded.policy_version, \
                         endpoints = excluded.endpoints, on_current = excluded.on_current, \
                         violating = excluded.violating, pending = excluded.pending, applied = excluded.applied, \
                         failed = excluded.failed, excepted = excluded.excepted, \
                         not_in_force = excluded.not_in_force, updated_at = excluded.updated_at",
                    )
                    .bind(point.hour)
                    .bind(n(point.policy_version))
                    .bind(n(point.endpoints))
                    .bind(n(point.on_current))
                    .bind(n(point.violating))
                    .bind(n(point.actions.pending))
                    .bind(n(point.actions.applied))
                    .bind(n(point.actions.failed))
                    .bind(n(point.actions.excepted))
                    .bind(n(point.actions.not_in_force))
                    .bind(now)
                    .execute(self.writer())
                    .await?;
                    Ok(point)
                }

                async fn compliance_trend(&self, since: i64) -> Result<Vec<TrendPoint>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT hour, policy_version, endpoints, on_current, violating, pending, applied, failed, \
                         excepted, not_in_force FROM policy_compliance_trend WHERE hour >= $1 ORDER BY hour",
                    )
                    .bind(hour_start(since))
                    .fetch_all(self.reader())
                    .await?;
                    rows.iter().map(point_from_row).collect()
                }
            }
        }
    };
}

pub(crate) use impl_compliance_store;
