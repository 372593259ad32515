//! Rows that matter only for a while, and deleting them once they no longer do: the work
//! of the periodic clean-up jobs. Each delete spans every tenant (the platform's own
//! housekeeping) and is indexed on the column it deletes by.

use baoxiu_core::DomainResult;
use baoxiu_store::DbConn;
use baoxiu_store::schema::{password_failures, refresh_tokens, sms_codes};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

/// How long an SMS code is kept after it was issued: the send limits count the codes of
/// the last day (ten a day per mobile), so an expired code still counts until then.
pub const SMS_CODE_RETENTION: Duration = Duration::days(1);

/// Deletes refresh tokens past their expiry. An expired token refreshes nothing and says
/// nothing about its session: the access tokens of its family expired long before.
pub fn delete_expired_refresh_tokens(conn: &mut DbConn, now: NaiveDateTime) -> DomainResult<usize> {
    Ok(
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.le(now)))
            .execute(conn)?,
    )
}

/// Deletes SMS codes that have expired and no longer count towards any send limit.
pub fn delete_old_sms_codes(conn: &mut DbConn, now: NaiveDateTime) -> DomainResult<usize> {
    Ok(diesel::delete(
        sms_codes::table
            .filter(sms_codes::created_at.le(now - SMS_CODE_RETENTION))
            .filter(sms_codes::expires_at.le(now)),
    )
    .execute(conn)?)
}

/// Deletes wrong-password rows that have left the pause window in every tenant: a login
/// purges its own tenant's as it writes one, this the tenants nobody logs in to any more.
pub fn delete_old_password_failures(conn: &mut DbConn, now: NaiveDateTime) -> DomainResult<usize> {
    let window_start = now - Duration::minutes(crate::staff::PASSWORD_FAILURE_WINDOW_MINUTES);
    Ok(diesel::delete(
        password_failures::table.filter(password_failures::failed_at.le(window_start)),
    )
    .execute(conn)?)
}
