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

/// What WeChat answers; `session_key` and `access_token` of OAuth are not even read.
#[derive(Debug, Deserialize)]
struct IdentityAnswer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    unionid: Option<String>,
}

fn map_errcode(errcode: i64, errmsg: String) -> WechatError {
    match errcode {
        40029 | 40163 => WechatError::InvalidCode,
        45011 => WechatError::RateLimited {
            retry_after_secs: 60,
        },
        40226 => WechatError::HighRiskUser,
        40001 | 42001 | 40014 | 40125 | 40013 => WechatError::InvalidCredential,
        -1 => WechatError::Unavailable("WeChat is busy".into()),
        _ => WechatError::Other { errcode, errmsg },
    }
}

/// Every WeChat answer carries `errcode` (0 or absent when it went well) and `errmsg`.
trait WechatAnswer: serde::de::DeserializeOwned {
    fn errcode(&self) -> (i64, &str);
}

impl WechatAnswer for IdentityAnswer {
    fn errcode(&self) -> (i64, &str) {
        (self.errcode, &self.errmsg)
    }
}

impl WechatAnswer for TokenAnswer {
    fn errcode(&self) -> (i64, &str) {
        (self.errcode, &self.errmsg)
    }
}

/// Sends one WeChat request (10 s at most) and reads its answer: transport failures and
/// non-2xx statuses are `Unavailable`, a non-zero `errcode` is mapped once (`map_errcode`).
/// WeChat often labels JSON as text/plain: the text is read, then parsed.
async fn call_wechat<T: WechatAnswer>(request: reqwest::RequestBuilder) -> Result<T, WechatError> {
    let unavailable = |e: reqwest::Error| WechatError::Unavailable(e.without_url().to_string());
    let response = request
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(unavailable)?;
    let status = response.status();
    let text = response.text().await.map_err(unavailable)?;
    if !status.is_success() {
        return Err(WechatError::Unavailable(format!(
            "WeChat answered {status}"
        )));
    }
    let answer: T = serde_json::from_str(&text)
        .map_err(|_| WechatError::Unavailable("WeChat's answer is not JSON".into()))?;
    match answer.errcode() {
        (0, _) => Ok(answer),
        (code, message) => Err(map_errcode(code, message.to_owned())),
    }
}

/// The real client.
#[derive(Debug, Clone)]
pub struct HttpWechat {
    client: reqwest::Client,
    base_url: String,
}

impl HttpWechat {
    pub fn new(client: reqwest::Client, base_url: &str) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    async fn identity_once(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<WechatIdentity, WechatError> {
        let answer: IdentityAnswer = call_wechat(
            self.client
                .get(format!("{}{path}", self.base_url))
                .query(query),
        )
        .await?;
        let openid = answer
            .openid
            .filter(|o| !o.is_empty())
            .ok_or_else(|| WechatError::Unavailable("WeChat's answer has no openid".into()))?;
        Ok(WechatIdentity {
            openid,
            unionid: answer.unionid.filter(|u| !u.is_empty()),
        })
    }

    /// `-1` (busy) is tried once more.
    async fn identity(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<WechatIdentity, WechatError> {
        match self.identity_once(path, query).await {
            Err(WechatError::Unavailable(why)) if why == "WeChat is busy" => {
                self.identity_once(path, query).await
            }
            other => other,
        }
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
        Box::pin(async move {
            stable_token(&self.client, &self.base_url, app)
                .await
                .map(drop)
        })
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
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
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
    client: reqwest::Client,
    base_url: String,
    slots: Arc<Mutex<HashMap<String, TokenSlot>>>,
}

impl AccessTokenCache {
    pub fn new(client: reqwest::Client, base_url: &str) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
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
        stable_token(&self.client, &self.base_url, app).await
    }
}

/// One `POST {base}/cgi-bin/stable_token` (never force-refreshed).
async fn stable_token(
    client: &reqwest::Client,
    base_url: &str,
    app: &AppCredentials,
) -> Result<CachedToken, WechatError> {
    let answer: TokenAnswer = call_wechat(
        client
            .post(format!("{base_url}/cgi-bin/stable_token"))
            .json(&serde_json::json!({
                "grant_type": "client_credential",
                "appid": app.app_id,
                "secret": app.secret,
                "force_refresh": false,
            })),
    )
    .await?;
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
