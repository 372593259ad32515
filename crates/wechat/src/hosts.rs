//! Proof that a tenant controls a custom host before the platform approves it: the host
//! serves the request's verification token at a well-known URL
//! (`https://{host}/.well-known/baoxiu-domain-verification.txt`, the body being the token).

use std::time::Duration;

use futures_util::future::BoxFuture;

/// Where the token is looked for; `{host}` is replaced by the host asked for.
pub const DEFAULT_URL_TEMPLATE: &str = "https://{host}/.well-known/baoxiu-domain-verification.txt";

pub trait HostVerifier: Send + Sync + std::fmt::Debug {
    /// Whether `host` serves `token`; `Err` when it could not be asked (logged, not shown).
    fn serves_token<'a>(
        &'a self,
        host: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>>;
}

/// The real check: one GET of the well-known URL, 10 s at most, no redirects to follow
/// elsewhere than the client's defaults, the body compared after trimming.
#[derive(Debug, Clone)]
pub struct HttpHostVerifier {
    client: reqwest::Client,
    url_template: String,
}

impl HttpHostVerifier {
    pub fn new(client: reqwest::Client, url_template: &str) -> Self {
        Self {
            client,
            url_template: url_template.to_owned(),
        }
    }
}

impl HostVerifier for HttpHostVerifier {
    fn serves_token<'a>(
        &'a self,
        host: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let url = self.url_template.replace("{host}", host);
            let response = self
                .client
                .get(url)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| e.without_url().to_string())?;
            if !response.status().is_success() {
                return Ok(false);
            }
            let body = response
                .text()
                .await
                .map_err(|e| e.without_url().to_string())?;
            // A token is 32 hex characters; anything much longer is not an answer.
            Ok(body.len() <= 1024 && body.trim() == token)
        })
    }
}

/// Development fake: every host is taken as verified.
#[derive(Debug, Clone, Default)]
pub struct DevHostVerifier;

impl HostVerifier for DevHostVerifier {
    fn serves_token<'a>(
        &'a self,
        _host: &'a str,
        _token: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async { Ok(true) })
    }
}
