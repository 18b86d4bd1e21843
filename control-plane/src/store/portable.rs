//! Helpers every per-feature SQL module shares: the chunk size that keeps statements under both
//! databases' bind-parameter limits, the portable `IN (VALUES ...)` list, and the conversions
//! between Rust integers and SQL's 64-bit ones. No statement of its own.

/// Rows (or listed ids) per statement: at most 16 columns, so at most 8,000 bind parameters,
/// well under SQLite's 32,766 and PostgreSQL's 65,535. **Every** statement whose parameter count
/// grows with a report (multi-row inserts, `IN (...)` lists) is cut into chunks of this size, so
/// a report of any size can be stored (`store_conformance`: 40,000 servers on both backends).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Pushes ` IN (VALUES ($n), ($n+1), ...)` with one bind per item; `items` must not be empty (a
/// chunk never is). A `VALUES` list rather than `IN ($n, ...)`: PostgreSQL compares a
/// parameter list linearly against every candidate row once it switches to a generic plan
/// (about a second per 500 ids on a 40,000-server host), while it hashes a `VALUES` list into a
/// semi-join. SQLite reads both forms the same way.
pub(crate) fn push_in_list<DB>(builder: &mut sqlx::QueryBuilder<DB>, items: impl IntoIterator<Item = String>)
where
    DB: sqlx::Database,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    builder.push(" IN (VALUES ");
    let mut list = builder.separated(", ");
    for item in items {
        list.push("(");
        list.push_bind_unseparated(item);
        list.push_unseparated(")");
    }
    builder.push(")");
}

pub(crate) use crate::ingest::plan::last_by_key;

/// A stored non-negative integer (0 if a corrupt row holds a negative one).
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A stored count (0 if a corrupt row holds one out of range).
pub(crate) fn to_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

/// A count as SQL's 64-bit integer.
pub(crate) fn to_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
