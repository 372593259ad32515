//! Sending SMS. `HttpSmsSender` speaks the gateway protocol below; `DevSmsSender` only logs
//! and keeps the last messages so a newcomer can log in without a gateway.
//!
//! Gateway protocol: `POST {base_url}/v1/messages` with `Authorization: Bearer {api_key}`
//! and `{"mobile": "...", "template": "login_code", "params": {"code": "123456"}}`;
//! `2xx` with `{"id": "..."}` is sent; `429` is rate limited; another `4xx` refuses the
//! message (trying it again cannot help); a `5xx` or no answer is a failure worth retrying.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// What to send: a template name and its parameters (the gateway holds the wording).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SmsMessage {
    pub mobile: String,
    pub template: String,
    pub params: serde_json::Value,
}

impl SmsMessage {
    /// A one-time login or sign-up code.
    pub fn code(mobile: &str, purpose: &str, code: &str) -> Self {
        Self {
            mobile: mobile.to_owned(),
            template: purpose.to_owned(),
            params: serde_json::json!({ "code": code }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("the SMS gateway is rate limiting us")]
    RateLimited,
    #[error("the SMS gateway failed: {0}")]
    Unavailable(String),
    /// The gateway refused this message; sending it again would be refused again.
    #[error("the SMS gateway refused the message: {0}")]
    Rejected(String),
}

pub trait SmsSender: Send + Sync + std::fmt::Debug {
    fn send<'a>(&'a self, message: &'a SmsMessage) -> BoxFuture<'a, Result<(), SmsError>>;
}

/// The real client of an SMS gateway.
#[derive(Debug, Clone)]
pub struct HttpSmsSender {
    client: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl HttpSmsSender {
    pub fn new(client: reqwest::Client, base_url: &str, api_key: &str) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        }
    }
}

impl SmsSender for HttpSmsSender {
    fn send<'a>(&'a self, message: &'a SmsMessage) -> BoxFuture<'a, Result<(), SmsError>> {
        Box::pin(async move {
            let response = self
                .client
                .post(format!("{}/v1/messages", self.base_url))
                .bearer_auth(&self.api_key)
                .timeout(Duration::from_secs(10))
                .json(message)
                .send()
                .await
                .map_err(|e| SmsError::Unavailable(e.without_url().to_string()))?;
            match response.status() {
                status if status.is_success() => Ok(()),
                reqwest::StatusCode::TOO_MANY_REQUESTS => Err(SmsError::RateLimited),
                reqwest::StatusCode::REQUEST_TIMEOUT => {
                    Err(SmsError::Unavailable("gateway answered 408".into()))
                }
                status if status.is_client_error() => {
                    Err(SmsError::Rejected(format!("gateway answered {status}")))
                }
                status => Err(SmsError::Unavailable(format!("gateway answered {status}"))),
            }
        })
    }
}

/// Development only: logs each message and keeps the last 100 so the development route
/// can show them. Production refuses to start with it.
#[derive(Debug, Clone, Default)]
pub struct DevSmsSender {
    sent: Arc<Mutex<VecDeque<SmsMessage>>>,
}

impl DevSmsSender {
    /// Messages sent to `mobile`, newest first.
    pub fn sent_to(&self, mobile: &str) -> Vec<SmsMessage> {
        self.sent
            .lock()
            .iter()
            .rev()
            .filter(|m| m.mobile == mobile)
            .cloned()
            .collect()
    }
}

impl SmsSender for DevSmsSender {
    fn send<'a>(&'a self, message: &'a SmsMessage) -> BoxFuture<'a, Result<(), SmsError>> {
        Box::pin(async move {
            tracing::warn!(
                mobile = %message.mobile,
                template = %message.template,
                params = %message.params,
                "development SMS (not sent)"
            );
            let mut sent = self.sent.lock();
            if sent.len() == 100 {
                sent.pop_front();
            }
            sent.push_back(message.clone());
            Ok(())
        })
    }
}
