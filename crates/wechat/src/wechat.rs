//! WeChat as the server sees it: Mini Program login (code2Session), Official Account web
//! authorisation (OAuth code to OpenID), and access tokens. `HttpWechat` is the real client
//! (base URL from configuration); `DevWechat` is the development fake in which the code
//! names the user. Secrets and session keys never reach an error, a log line or a caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// An app's id and secret.
#[derive(Clone)]
pub struct AppCredentials {
    pub app_id: String,
    pub secret: String,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatIdentity {
    pub openid: String,
    pub unionid: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    /// 40029 invalid code, 40163 code already used: call `wx.login` again.
    #[error("the WeChat code is invalid or was used")]
    InvalidCode,
    /// 45011.
    #[error("WeChat rate limit")]
    RateLimited { retry_after_secs: u64 },
    /// 40226.
    #[error("WeChat marked the user as high risk")]
    HighRiskUser,
    /// 40001, 42001, 40014, 40125, 40013: bad app id, secret or access token.
    #[error("WeChat refused the app's credentials")]
    InvalidCredential,
    /// Busy twice (-1), unreachable, or an answer that is not WeChat's.
    #[error("WeChat is unavailable: {0}")]
    Unavailable(String),
    #[error("WeChat error {errcode}: {errmsg}")]
    Other { errcode: i64, errmsg: String },
}

pub trait WechatAuth: Send + Sync + std::fmt::Debug {
    /// Mini Program login: `GET {base}/sns/jscode2session`.
    fn code_to_session<'a>(
        &'a self,
        app: &'a AppCredentials,
        code: &'a str,
    ) -> BoxFuture<'a, Result<WechatIdentity, WechatError>>;
    /// Official Account web authorisation: `GET {base}/sns/oauth2/access_token`.
    fn oauth_openid<'a>(
        &'a self,
        app: &'a AppCredentials,
        code: &'a str,
    ) -> BoxFuture<'a, Result<WechatIdentity, WechatError>>;
    /// Whether WeChat accepts the app id and secret: a `POST {base}/cgi-bin/stable_token`
    /// (not force-refreshed, so it spends none of the app's daily fresh tokens).
    fn check_credentials<'a>(
        &'a self,
        app: &'a AppCredentials,
    ) -> BoxFuture<'a, Result<(), WechatError>>;
}

/// What code2Session and OAuth answer; `session_key` and OAuth's `access_token` are not
/// even read.
#[derive(Debug, Deserialize)]
struct IdentityAnswer {
    openid: Option<String>,
    unionid: Option<String>,
}

impl WechatError {
    /// What a non-zero `errcode` means, for every WeChat API (each caller may look further
    /// at `Other`'s code: 43101 and 47003 of subscribe messages, for instance).
    pub fn from_errcode(errcode: i64, errmsg: String) -> Self {
        match errcode {
            40029 | 40163 => Self::InvalidCode,
            45011 => Self::RateLimited {
                retry_after_secs: 60,
            },
            40226 => Self::HighRiskUser,
            40001 | 42001 | 40014 | 40125 | 40013 => Self::InvalidCredential,
            BUSY => Self::Unavailable("WeChat is busy".into()),
            _ => Self::Other { errcode, errmsg },
        }
    }
}

/// WeChat's "system busy, try again".
const BUSY: i64 = -1;

/// Every WeChat answer: `errcode` (0 or absent when it went well), `errmsg`, and the
/// fields of the API called.
#[derive(Debug, Deserialize)]
struct Answer<T> {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    #[serde(flatten)]
    body: T,
}

/// How WeChat is reached: one HTTP client and the configurable base URL. Every call to
/// WeChat goes through `call`, which owns the timeout, the busy retry and the reading of
/// `errcode`; an API is then its path, its parameters and the fields of its answer.
#[derive(Debug, Clone)]
struct Endpoint {
    client: reqwest::Client,
    base_url: String,
}

impl Endpoint {
    fn new(client: reqwest::Client, base_url: &str) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// `GET {base}{path}?{query}`.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, WechatError> {
        self.call(|| {
            self.client
                .get(format!("{}{path}", self.base_url))
                .query(query)
        })
        .await
    }

    /// `POST {base}{path}?{query}` with a JSON body.
    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<T, WechatError> {
        self.call(|| {
            self.client
                .post(format!("{}{path}", self.base_url))
                .query(query)
                .json(body)
        })
        .await
    }

    /// Sends one WeChat request and reads its answer; busy (`-1`) is tried once more.
    async fn call<T: DeserializeOwned>(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, WechatError> {
        match send(request()).await {
            Err(Busy) => send(request()).await,
            other => other,
        }
        .map_err(WechatError::from)
    }
}

/// A failed call, with busy told apart so that `call` can retry it.
enum CallError {
    Busy,
    Failed(WechatError),
}
use CallError::Busy;

impl From<CallError> for WechatError {
    fn from(error: CallError) -> Self {
        match error {
            Busy => WechatError::from_errcode(BUSY, String::new()),
            CallError::Failed(error) => error,
        }
    }
}

/// One request (10 s at most): transport failures and non-2xx statuses are `Unavailable`,
/// a non-zero `errcode` is mapped once (`WechatError::from_errcode`). WeChat often labels
/// JSON as text/plain: the text is read, then parsed.
async fn send<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, CallError> {
    let unavailable = |e: reqwest::Error| {
        CallError::Failed(WechatError::Unavailable(e.without_url().to_string()))
    };
    let response = request
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(unavailable)?;
    let status = response.status();
    let text = response.text().await.map_err(unavailable)?;
    if !status.is_success() {
        return Err(CallError::Failed(WechatError::Unavailable(format!(
            "WeChat answered {status}"
        ))));
    }
    let answer: Answer<T> = serde_json::from_str(&text).map_err(|_| {
        CallError::Failed(WechatError::Unavailable(
            "WeChat's answer is not JSON".into(),
        ))
    })?;
    match answer.errcode {
        0 => Ok(answer.body),
        BUSY => Err(Busy),
        code => Err(CallError::Failed(WechatError::from_errcode(
            code,
            answer.errmsg,
        ))),
    }
}

/// The real client.
#[derive(Debug, Clone)]
pub struct HttpWechat {
    endpoint: Endpoint,
}

impl HttpWechat {
    pub fn new(client: reqwest::Client, base_url: &str) -> Self {
        Self {
            endpoint: Endpoint::new(client, base_url),
        }
    }

    /// code2Session and OAuth: the same answer, read the same way.
    async fn identity(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<WechatIdentity, WechatError> {
        let answer: IdentityAnswer = self.endpoint.get(path, query).await?;
        let openid = answer
            .openid
            .filter(|o| !o.is_empty())
            .ok_or_else(|| WechatError::Unavailable("WeChat's answer has no openid".into()))?;
        Ok(WechatIdentity {
            openid,
            unionid: answer.unionid.filter(|u| !u.is_empty()),
        })
    }
}

impl WechatAuth for HttpWechat {
    fn code_to_session<'a>(
        &'a self,
        app: &'a AppCredentials,
        code: &'a str,
    ) -> BoxFuture<'a, Result<WechatIdentity, WechatError>> {
        Box::pin(async move {
            let query = [
                ("appid", app.app_id.as_str()),
                ("secret", &app.secret),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ];
            self.identity("/sns/jscode2session", &query).await
        })
    }

    fn oauth_openid<'a>(
        &'a self,
        app: &'a AppCredentials,
        code: &'a str,
    ) -> BoxFuture<'a, Result<WechatIdentity, WechatError>> {
        Box::pin(async move {
            let query = [
                ("appid", app.app_id.as_str()),
                ("secret", &app.secret),
                ("code", code),
                ("grant_type", "authorization_code"),
            ];
            self.identity("/sns/oauth2/access_token", &query).await
        })
    }

    fn check_credentials<'a>(
        &'a self,
        app: &'a AppCredentials,
    ) -> BoxFuture<'a, Result<(), WechatError>> {
        Box::pin(async move { stable_token(&self.endpoint, app).await.map(drop) })
    }
}

/// Development fake: `invalid…` codes are invalid, `risky` is a high-risk user, any other
/// code is the user: OpenID `dev_{app_id}_{code}`.
#[derive(Debug, Clone, Default)]
pub struct DevWechat;

impl DevWechat {
    fn identity(app: &AppCredentials, code: &str) -> Result<WechatIdentity, WechatError> {
        if code.is_empty() || code == "invalid" || code.starts_with("invalid-") {
            return Err(WechatError::InvalidCode);
        }
        if code == "risky" {
            return Err(WechatError::HighRiskUser);
        }
        let user: String = code
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Ok(WechatIdentity {
            openid: format!("dev_{}_{user}", app.app_id),
            unionid: None,
        })
    }
}

impl WechatAuth for DevWechat {
    fn code_to_session<'a>(
        &'a self,
        app: &'a AppCredentials,
        code: &'a str,
    ) -> BoxFuture<'a, Result<WechatIdentity, WechatError>> {
        Box::pin(async move { Self::identity(app, code) })
    }

    fn oauth_openid<'a>(
        &'a self,
        app: &'a AppCredentials,
        code: &'a str,
    ) -> BoxFuture<'a, Result<WechatIdentity, WechatError>> {
        Box::pin(async move { Self::identity(app, code) })
    }

    /// Secrets that start with `invalid` are refused; any other is accepted.
    fn check_credentials<'a>(
        &'a self,
        app: &'a AppCredentials,
    ) -> BoxFuture<'a, Result<(), WechatError>> {
        Box::pin(async move {
            if app.secret.starts_with("invalid") {
                Err(WechatError::InvalidCredential)
            } else {
                Ok(())
            }
        })
    }
}

/// Renewed this long before WeChat says it expires.
const RENEW_EARLY: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// One app's cached token; its lock is held while fetching (single flight).
type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

#[derive(Debug, Clone)]
struct CachedToken {
    token: String,
    renew_at: Instant,
}

/// Access tokens (`/cgi-bin/stable_token`), cached per app id, one fetch at a time per app
/// (concurrent callers wait for it), renewed five minutes early. Calls go through
/// `with_token`, which renews a token WeChat refused and retries once.
#[derive(Debug, Clone)]
pub struct AccessTokenCache {
    endpoint: Endpoint,
    slots: Arc<Mutex<HashMap<String, TokenSlot>>>,
}

impl AccessTokenCache {
    pub fn new(client: reqwest::Client, base_url: &str) -> Self {
        Self {
            endpoint: Endpoint::new(client, base_url),
            slots: Arc::default(),
        }
    }

    fn slot(&self, app_id: &str) -> TokenSlot {
        self.slots
            .lock()
            .entry(app_id.to_owned())
            .or_default()
            .clone()
    }

    pub async fn get(&self, app: &AppCredentials) -> Result<String, WechatError> {
        let slot = self.slot(&app.app_id);
        // Holding the slot's lock while fetching makes concurrent callers wait for one fetch.
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(token.token.clone());
        }
        let fresh = self.fetch(app).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    pub fn invalidate(&self, app_id: &str) {
        self.slots.lock().remove(app_id);
    }

    /// Runs one WeChat call with the app's access token. When WeChat refuses the token
    /// (40001, 42001, 40014: `InvalidCredential`), the token is dropped and the call made
    /// once more with a fresh one; never in a loop, as fresh tokens are rationed (20 a day).
    pub async fn with_token<T, F, Fut>(
        &self,
        app: &AppCredentials,
        call: F,
    ) -> Result<T, WechatError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, WechatError>>,
    {
        let token = self.get(app).await?;
        match call(token.clone()).await {
            Err(WechatError::InvalidCredential) => {
                self.drop_token(&app.app_id, &token).await;
                call(self.get(app).await?).await
            }
            other => other,
        }
    }

    /// Forgets `bad` unless a concurrent caller has replaced it already, so callers that
    /// failed together still fetch one new token between them.
    async fn drop_token(&self, app_id: &str, bad: &str) {
        let slot = self.slot(app_id);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| t.token == bad) {
            *cached = None;
        }
    }

    async fn fetch(&self, app: &AppCredentials) -> Result<CachedToken, WechatError> {
        stable_token(&self.endpoint, app).await
    }
}

/// One `POST {base}/cgi-bin/stable_token` (never force-refreshed).
async fn stable_token(
    endpoint: &Endpoint,
    app: &AppCredentials,
) -> Result<CachedToken, WechatError> {
    let body = serde_json::json!({
        "grant_type": "client_credential",
        "appid": app.app_id,
        "secret": app.secret,
        "force_refresh": false,
    });
    let answer: TokenAnswer = endpoint.post("/cgi-bin/stable_token", &[], &body).await?;
    let token = answer
        .access_token
        .ok_or_else(|| WechatError::Unavailable("WeChat's answer has no access_token".into()))?;
    let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(7200));
    Ok(CachedToken {
        token,
        renew_at: Instant::now() + lifetime.saturating_sub(RENEW_EARLY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_names_users_by_code_and_hides_secrets() {
        let app = AppCredentials {
            app_id: "wx1".into(),
            secret: "s3cret".into(),
        };
        assert_eq!(
            DevWechat::identity(&app, "alice").unwrap().openid,
            "dev_wx1_alice"
        );
        assert_eq!(
            DevWechat::identity(&app, "a b").unwrap().openid,
            "dev_wx1_a_b"
        );
        assert!(matches!(
            DevWechat::identity(&app, "invalid-1"),
            Err(WechatError::InvalidCode)
        ));
        assert!(matches!(
            DevWechat::identity(&app, "risky"),
            Err(WechatError::HighRiskUser)
        ));
        assert!(!format!("{app:?}").contains("s3cret"));
    }
}
