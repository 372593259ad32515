//! Sending and checking SMS codes for any route: the code rules live in
//! `baoxiu_accounts::sms`; this adds the transactions and the delivery job.

use baoxiu_accounts::sms::{self, CodeCheck, Purpose};
use baoxiu_core::DomainError;
use baoxiu_wechat::sms::SmsMessage;

use crate::jobs::DeliverSms;
use crate::problem::ApiError;
use crate::routes::shared::CodeSent;
use crate::state::AppState;

/// Issues a code under the send limits and, when `deliver`, enqueues its delivery in the
/// same transaction. The SMS gateway is called by the job runner, never here: the answer,
/// its timing and its failures are the same whether or not the code goes out (unknown
/// mobiles get a code that is never delivered, and count towards the same limits).
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
    let key = state.secrets_key.clone();
    state
        .write(&crate::state::Nobody, move |tx| {
            let issued = sms::issue(tx.conn, &scope, &mobile, purpose, &client_ip, caps, now)?;
            // Sealed either way, so that both paths do the same work up to the enqueue.
            let message = SmsMessage::code(&mobile, purpose.as_str(), &issued.code);
            let job = DeliverSms::seal(&key, &message, issued.expires_at)?;
            if deliver {
                baoxiu_jobs::enqueue_job(tx.conn, &scope, &job, now)?;
            }
            Ok(())
        })
        .await?;
    state.jobs.wake();
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
        .write(&crate::state::Nobody, move |tx| {
            sms::check(tx.conn, &scope, &mobile, purpose, &code, now)
        })
        .await?;
    match checked {
        CodeCheck::Valid { code_id } => Ok(code_id),
        CodeCheck::Invalid => Err(wrong().into()),
    }
}
