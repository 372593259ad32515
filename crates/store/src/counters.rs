//! Per-tenant counters: numbers that go up by one under a name (`qr_code` for QR code
//! sequences; work-order numbers next). `next` takes the following number inside the
//! caller's transaction: the increment locks the counter's row until that transaction ends,
//! so two transactions never take the same number, and a rolled-back one gives its number
//! back. The first use inserts the row; two first uses at once meet on the primary key,
//! and the loser (inside a savepoint, so its transaction goes on) increments instead.

use diesel::prelude::*;

use crate::DbConn;
use crate::schema::counters;

/// The name of the QR code sequence.
pub const QR_CODE: &str = "qr_code";

/// The next number of `tenant_id`'s counter `name`: 1 on first use, then 2, 3, …
pub fn next(conn: &mut DbConn, tenant_id: &str, name: &str) -> Result<i64, diesel::result::Error> {
    for _ in 0..3 {
        if let Some(value) = increment(conn, tenant_id, name)? {
            return Ok(value);
        }
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(counters::table)
                .values((
                    counters::tenant_id.eq(tenant_id),
                    counters::name.eq(name),
                    counters::value.eq(1_i64),
                ))
                .execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(1),
            // Another transaction inserted it first (and has committed): increment that.
            Err(e) if crate::is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(diesel::result::Error::NotFound)
}

/// Adds one and answers the new value, or `None` when the counter has no row yet.
fn increment(
    conn: &mut DbConn,
    tenant_id: &str,
    name: &str,
) -> Result<Option<i64>, diesel::result::Error> {
    let target = counters::table
        .filter(counters::tenant_id.eq(tenant_id))
        .filter(counters::name.eq(name));
    // One statement on both backends (`UPDATE … RETURNING`, SQLite 3.35 and later): the
    // row lock is taken and the value read at once.
    diesel::update(target)
        .set(counters::value.eq(counters::value + 1))
        .returning(counters::value)
        .get_result(conn)
        .optional()
}

/// The last number `name` gave out (0 before the first), without taking one.
pub fn current(
    conn: &mut DbConn,
    tenant_id: &str,
    name: &str,
) -> Result<i64, diesel::result::Error> {
    Ok(counters::table
        .filter(counters::tenant_id.eq(tenant_id))
        .filter(counters::name.eq(name))
        .select(counters::value)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}
