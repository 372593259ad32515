//! Work-order numbers: `{prefix}-{YYYYMMDD}-{NNNNN}`, per tenant and day, never repeated.
//! The sequence is the tenant's counter of that day (`baoxiu_store::counters`), taken in
//! the submission's transaction: two submissions never take the same number (the counter's
//! row is locked until the first commits), and a rolled-back one gives its number back.
//! The day is the calendar day in China Standard Time (UTC+8), where the tenants work.

use baoxiu_core::{DomainResult, TenantId};
use baoxiu_store::{DbConn, counters};
use chrono::{Duration, NaiveDateTime};

/// Hours east of UTC of the calendar day numbers are counted in.
pub const DAY_OFFSET_HOURS: i64 = 8;

/// The counter name of the day `now` falls on, and the day as `YYYYMMDD`.
fn day_of(now: NaiveDateTime) -> String {
    (now + Duration::hours(DAY_OFFSET_HOURS))
        .format("%Y%m%d")
        .to_string()
}

/// Formats a number (five digits at least; a day with more orders grows a digit).
pub fn format(prefix: &str, day: &str, sequence: i64) -> String {
    format!("{prefix}-{day}-{sequence:05}")
}

/// Takes the next number of the tenant's day, in the caller's transaction.
pub fn next(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    prefix: &str,
    now: NaiveDateTime,
) -> DomainResult<String> {
    let day = day_of(now);
    let sequence = counters::next(conn, tenant_id.as_str(), &format!("work_order:{day}"))?;
    Ok(format(prefix, &day, sequence))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_count_the_day_in_china_standard_time() {
        let late = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(17, 0, 0))
            .unwrap_or_default();
        assert_eq!(day_of(late), "20261202");
        assert_eq!(format("BX", "20261202", 7), "BX-20261202-00007");
        assert_eq!(format("BX", "20261202", 123_456), "BX-20261202-123456");
    }
}
