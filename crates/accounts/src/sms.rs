//! One-time SMS codes: 6 digits from a CSPRNG, 5 minutes, single use, bound to
//! (scope, mobile, purpose), stored hashed, compared in constant time, at most 5 wrong
//! tries, one send a minute and ten a day per mobile in a scope, and platform-wide caps
//! per mobile and per client address (`PlatformCaps`).
//! The scope is a tenant id, or `PLATFORM_SCOPE` for provider sign-up.

use baoxiu_core::{DomainError, DomainResult, new_id};
use baoxiu_store::DbConn;
use baoxiu_store::schema::sms_codes;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The scope of codes that belong to no tenant yet (provider sign-up).
pub const PLATFORM_SCOPE: &str = "platform";

pub const CODE_TTL: Duration = Duration::minutes(5);
pub const RESEND_AFTER: Duration = Duration::seconds(60);
pub const DAILY_SENDS_PER_MOBILE: i64 = 10;
pub const MAX_WRONG_TRIES: i32 = 5;

/// Caps over every scope together: a mobile is not sent more than `per_mobile_per_day`
/// codes by all tenants together, and one client address asks for at most
/// `per_ip_per_hour`, whichever tenants it asks. (Each scope also keeps its own cool-down
/// and daily cap per mobile.) These count across tenants on purpose, so they are the
/// queries that do not filter on the tenant.
#[derive(Debug, Clone, Copy)]
pub struct PlatformCaps {
    pub per_ip_per_hour: i64,
    pub per_mobile_per_day: i64,
}

baoxiu_core::text_enum! {
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ProviderSignup = "provider_signup",
    StaffLogin = "staff_login",
    TerminalLogin = "terminal_login",
}
}

/// A code just issued: the plain code goes to the SMS sender and nowhere else.
#[derive(Debug)]
pub struct IssuedCode {
    pub code: String,
    pub expires_at: NaiveDateTime,
}

fn code_hash(scope: &str, mobile: &str, purpose: Purpose, code: &str) -> String {
    let mut digest = Sha256::new();
    for part in [scope, mobile, purpose.as_str(), code] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    hex::encode(digest.finalize())
}

/// Whole seconds from `now` until `later`, rounded up (a client that waits that long is
/// past it), at least 1.
pub(crate) fn seconds_until(later: NaiveDateTime, now: NaiveDateTime) -> u64 {
    let millis = (later - now).num_milliseconds();
    u64::try_from(((millis + 999) / 1000).max(1)).unwrap_or(1)
}

/// Issues a code, enforcing the send limits (429 with the seconds to wait).
///
/// The limits are counted from the codes already sent, so sends side by side must not
/// all read the same count: the mobile and then the client address are locked first (in
/// that order, always), until the transaction that inserts the code commits.
pub fn issue(
    conn: &mut DbConn,
    scope: &str,
    mobile: &str,
    purpose: Purpose,
    client_ip: &str,
    caps: PlatformCaps,
    now: NaiveDateTime,
) -> DomainResult<IssuedCode> {
    baoxiu_store::lock_key(conn, &format!("sms-mobile:{mobile}"))?;
    baoxiu_store::lock_key(conn, &format!("sms-ip:{client_ip}"))?;
    let day_ago = now - Duration::days(1);
    let recent: Vec<NaiveDateTime> = sms_codes::table
        .filter(sms_codes::tenant_id.eq(scope))
        .filter(sms_codes::mobile.eq(mobile))
        .filter(sms_codes::created_at.gt(day_ago))
        .order(sms_codes::created_at.desc())
        .select(sms_codes::created_at)
        .load(conn)?;
    if let Some(last) = recent.first()
        && *last + RESEND_AFTER > now
    {
        return Err(DomainError::RateLimited {
            retry_after_secs: seconds_until(*last + RESEND_AFTER, now),
        });
    }
    if i64::try_from(recent.len()).unwrap_or(i64::MAX) >= DAILY_SENDS_PER_MOBILE {
        let oldest = recent.last().copied().unwrap_or(now);
        return Err(DomainError::RateLimited {
            retry_after_secs: seconds_until(oldest + Duration::days(1), now),
        });
    }
    // The newest `cap` sends in the window: when there are that many, the oldest of them
    // must leave the window before another may go.
    let to_mobile: Vec<NaiveDateTime> = sms_codes::table
        .filter(sms_codes::mobile.eq(mobile))
        .filter(sms_codes::created_at.gt(day_ago))
        .order(sms_codes::created_at.desc())
        .limit(caps.per_mobile_per_day)
        .select(sms_codes::created_at)
        .load(conn)?;
    refuse_at_cap(&to_mobile, caps.per_mobile_per_day, Duration::days(1), now)?;
    let from_ip: Vec<NaiveDateTime> = sms_codes::table
        .filter(sms_codes::client_ip.eq(client_ip))
        .filter(sms_codes::created_at.gt(now - Duration::hours(1)))
        .order(sms_codes::created_at.desc())
        .limit(caps.per_ip_per_hour)
        .select(sms_codes::created_at)
        .load(conn)?;
    refuse_at_cap(&from_ip, caps.per_ip_per_hour, Duration::hours(1), now)?;

    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    let expires_at = now + CODE_TTL;
    diesel::insert_into(sms_codes::table)
        .values((
            sms_codes::tenant_id.eq(scope),
            sms_codes::id.eq(new_id()),
            sms_codes::mobile.eq(mobile),
            sms_codes::purpose.eq(purpose.as_str()),
            sms_codes::code_hash.eq(code_hash(scope, mobile, purpose, &code)),
            sms_codes::client_ip.eq(client_ip),
            sms_codes::attempts.eq(0),
            sms_codes::created_at.eq(now),
            sms_codes::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(IssuedCode { code, expires_at })
}

/// `rate-limited` when `newest_first` (the newest sends in a window) has reached `cap`,
/// until the oldest of them leaves the window.
fn refuse_at_cap(
    newest_first: &[NaiveDateTime],
    cap: i64,
    window: Duration,
    now: NaiveDateTime,
) -> DomainResult<()> {
    match newest_first.last() {
        Some(oldest) if i64::try_from(newest_first.len()).unwrap_or(i64::MAX) >= cap => {
            Err(DomainError::RateLimited {
                retry_after_secs: seconds_until(*oldest + window, now),
            })
        }
        _ => Ok(()),
    }
}

/// The result of checking a code. A wrong code counts as a try, which must be committed
/// even though the request fails: so this is a value, not an error.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code matches; `consume` it in the transaction that uses it.
    Valid { code_id: String },
    /// Wrong, expired, used, or tried too often: the caller cannot tell which.
    Invalid,
}

/// Checks `code` against the newest live code of (scope, mobile, purpose).
pub fn check(
    conn: &mut DbConn,
    scope: &str,
    mobile: &str,
    purpose: Purpose,
    code: &str,
    now: NaiveDateTime,
) -> DomainResult<CodeCheck> {
    let newest: Option<(String, String, i32)> = sms_codes::table
        .filter(sms_codes::tenant_id.eq(scope))
        .filter(sms_codes::mobile.eq(mobile))
        .filter(sms_codes::purpose.eq(purpose.as_str()))
        .filter(sms_codes::consumed_at.is_null())
        .filter(sms_codes::expires_at.gt(now))
        .order(sms_codes::created_at.desc())
        .select((sms_codes::id, sms_codes::code_hash, sms_codes::attempts))
        .first(conn)
        .optional()?;
    let Some((id, stored_hash, attempts)) = newest else {
        return Ok(CodeCheck::Invalid);
    };
    if attempts >= MAX_WRONG_TRIES {
        return Ok(CodeCheck::Invalid);
    }
    let given = code_hash(scope, mobile, purpose, code.trim());
    let matches = bool::from(given.as_bytes().ct_eq(stored_hash.as_bytes()));
    // Guesses sent side by side all read the same `attempts`, so the read decides nothing:
    // each try is written as one conditional update and counts only if it changed the row.
    // PostgreSQL re-reads the row under its lock, so exactly `MAX_WRONG_TRIES` wrong tries
    // ever count, and a right code counts only while tries are left.
    let with_tries_left = sms_codes::table
        .filter(sms_codes::tenant_id.eq(scope))
        .filter(sms_codes::id.eq(&id))
        .filter(sms_codes::attempts.lt(MAX_WRONG_TRIES));
    if matches {
        let open = diesel::update(with_tries_left)
            .set(sms_codes::attempts.eq(sms_codes::attempts))
            .execute(conn)?;
        Ok(if open == 1 {
            CodeCheck::Valid { code_id: id }
        } else {
            CodeCheck::Invalid
        })
    } else {
        diesel::update(with_tries_left)
            .set(sms_codes::attempts.eq(sms_codes::attempts + 1))
            .execute(conn)?;
        Ok(CodeCheck::Invalid)
    }
}

/// Marks a checked code used; fails if another request used it first.
pub fn consume(
    conn: &mut DbConn,
    scope: &str,
    code_id: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    let updated = diesel::update(
        sms_codes::table
            .filter(sms_codes::tenant_id.eq(scope))
            .filter(sms_codes::id.eq(code_id))
            .filter(sms_codes::consumed_at.is_null()),
    )
    .set(sms_codes::consumed_at.eq(now))
    .execute(conn)?;
    if updated == 1 {
        Ok(())
    } else {
        Err(DomainError::InvalidCredentials)
    }
}

/// Spends one of a checked code's tries on an attempt that may still fail (a registration):
/// in its own committed write, so a failed attempt cannot be retried with the same code more
/// than `MAX_WRONG_TRIES` times. Counted in the row (`attempts = attempts + 1 WHERE attempts
/// < cap`), so parallel attempts cannot overwrite each other's count.
pub fn spend_try(conn: &mut DbConn, scope: &str, code_id: &str) -> DomainResult<()> {
    let updated = diesel::update(
        sms_codes::table
            .filter(sms_codes::tenant_id.eq(scope))
            .filter(sms_codes::id.eq(code_id))
            .filter(sms_codes::consumed_at.is_null())
            .filter(sms_codes::attempts.lt(MAX_WRONG_TRIES)),
    )
    .set(sms_codes::attempts.eq(sms_codes::attempts + 1))
    .execute(conn)?;
    if updated == 1 {
        Ok(())
    } else {
        Err(DomainError::InvalidCredentials)
    }
}
