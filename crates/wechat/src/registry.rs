//! The business registry: looks a company name up in an official register (企业信用信息)
//! so registrations with the `business_registry` rule use the registered name.
//!
//! Protocol: `GET {base_url}/v1/companies?name=...` with `Authorization: Bearer {api_key}`
//! answers `{"items": [{"name": "...", "credit_code": "..."}]}` (best matches first);
//! any non-2xx answer is a failure.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RegisteredCompany {
    pub name: String,
    #[serde(default)]
    pub credit_code: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the business registry is unavailable: {0}")]
    Unavailable(String),
}

pub trait BusinessRegistry: Send + Sync + std::fmt::Debug {
    /// Companies whose names match `name`, best first.
    fn search<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<RegisteredCompany>, RegistryError>>;
}

#[derive(Debug, Clone)]
pub struct HttpBusinessRegistry {
    client: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl HttpBusinessRegistry {
    pub fn new(client: reqwest::Client, base_url: &str, api_key: &str) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct SearchAnswer {
    items: Vec<RegisteredCompany>,
}

impl BusinessRegistry for HttpBusinessRegistry {
    fn search<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<RegisteredCompany>, RegistryError>> {
        Box::pin(async move {
            let response = self
                .client
                .get(format!("{}/v1/companies", self.base_url))
                .query(&[("name", name)])
                .bearer_auth(&self.api_key)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| RegistryError::Unavailable(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(RegistryError::Unavailable(format!(
                    "the registry answered {}",
                    response.status()
                )));
            }
            let answer: SearchAnswer = response.json().await.map_err(|_| {
                RegistryError::Unavailable("the registry's answer is not readable".into())
            })?;
            Ok(answer.items)
        })
    }
}

/// Development fake: every name is registered as given, with 有限公司 added when it has
/// no legal suffix.
#[derive(Debug, Clone, Default)]
pub struct DevBusinessRegistry;

impl BusinessRegistry for DevBusinessRegistry {
    fn search<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<RegisteredCompany>, RegistryError>> {
        Box::pin(async move {
            let name = name.trim();
            let official = if name.ends_with("公司") {
                name.to_owned()
            } else {
                format!("{name}有限公司")
            };
            Ok(vec![RegisteredCompany {
                name: official,
                credit_code: None,
            }])
        })
    }
}
