//! Sending and checking SMS codes for any route: the code rules live in
//! `baoxiu_accounts::sms`; this adds the transactions and the SMS gateway.

use baoxiu_accounts::sms::{self, CodeCheck, Purpose};
use baoxiu_core::DomainError;
use baoxiu_wechat::sms::{SmsError, SmsMessage};

use crate::dto::CodeSent;
use crate::problem::ApiError;
use crate::state::AppState;

/// Issues a code under the send limits and, when `deliver`, sends it. Codes for unknown
/// mobiles are issued but not delivered, so the answer (and the limits) are the same.
pub async fn send(
    state: &AppState,
    scope: String,
    mobile: String,
    purpose: Purpose,
    client_ip: String,
    deliver: bool,
) -> Result<CodeSent, ApiError> {
    let now = state.now();
    let caps = sms::PlatformCaps {
        per_ip_per_hour: state.config.limits.sms_per_ip_per_hour.into(),
        per_mobile_per_day: state.config.limits.sms_per_mobile_per_day.into(),
    };
    let issued = {
        let mobile = mobile.clone();
        let scope = scope.clone();
        state
            .write(move |conn| sms::issue(conn, &scope, &mobile, purpose, &client_ip, caps, now))
            .await?
    };
    if deliver {
        let message = SmsMessage::code(&mobile, purpose.as_str(), &issued.code);
        state
            .sms
            .send(&message)
            .await
            .map_err(|error| match error {
                SmsError::RateLimited => ApiError::from(DomainError::RateLimited {
                    retry_after_secs: 60,
                }),
                SmsError::Unavailable(cause) => {
                    tracing::error!(%cause, "SMS gateway failed");
                    ApiError::unavailable("the SMS service is not answering; try again shortly")
                }
            })?;
    }
    Ok(CodeSent {
        expires_in: sms::CODE_TTL.num_seconds(),
        resend_after: sms::RESEND_AFTER.num_seconds(),
    })
}

/// Checks a code in a transaction of its own, so a wrong try is counted even though the
/// request then fails. Answers the code's id, to `consume` where it is used.
pub async fn check(
    state: &AppState,
    scope: String,
    mobile: String,
    purpose: Purpose,
    code: String,
    wrong: impl FnOnce() -> DomainError,
) -> Result<String, ApiError> {
    let now = state.now();
    let checked = state
        .write(move |conn| sms::check(conn, &scope, &mobile, purpose, &code, now))
        .await?;
    match checked {
        CodeCheck::Valid { code_id } => Ok(code_id),
        CodeCheck::Invalid => Err(wrong().into()),
    }
}
