//! One-time SMS codes: 6 digits from a CSPRNG, 5 minutes, single use, bound to
//! (scope, mobile, purpose), stored hashed, compared in constant time, at most 5 wrong
//! tries, one send a minute and ten a day per mobile, and a cap per client IP.
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
pub const HOURLY_SENDS_PER_IP: i64 = 30;
pub const MAX_WRONG_TRIES: i32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ProviderSignup,
    StaffLogin,
    TerminalLogin,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProviderSignup => "provider_signup",
            Self::StaffLogin => "staff_login",
            Self::TerminalLogin => "terminal_login",
        }
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
pub fn issue(
    conn: &mut DbConn,
    scope: &str,
    mobile: &str,
    purpose: Purpose,
    client_ip: &str,
    now: NaiveDateTime,
) -> DomainResult<IssuedCode> {
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
    let from_ip: i64 = sms_codes::table
        .filter(sms_codes::tenant_id.eq(scope))
        .filter(sms_codes::client_ip.eq(client_ip))
        .filter(sms_codes::created_at.gt(now - Duration::hours(1)))
        .count()
        .get_result(conn)?;
    if from_ip >= HOURLY_SENDS_PER_IP {
        return Err(DomainError::RateLimited {
            retry_after_secs: 3600,
        });
    }

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
    if bool::from(given.as_bytes().ct_eq(stored_hash.as_bytes())) {
        Ok(CodeCheck::Valid { code_id: id })
    } else {
        diesel::update(
            sms_codes::table
                .filter(sms_codes::tenant_id.eq(scope))
                .filter(sms_codes::id.eq(&id)),
        )
        .set(sms_codes::attempts.eq(attempts + 1))
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
