//! Access tokens: HS256 JWTs, algorithm pinned, checked against the one clock.

use std::sync::Arc;

use baoxiu_core::{Clock, DomainError, TenantId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const AUDIENCE: &str = "baoxiu-api";

/// The kind of principal a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Staff,
    Terminal,
    Guest,
    Platform,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The staff user, terminal user or platform operator.
    pub sub: String,
    /// The tenant (`platform` for platform operators).
    pub tid: String,
    pub kind: TokenKind,
    /// Staff role, or terminal roles.
    pub roles: Vec<String>,
    /// The session (refresh-token family); none for platform tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The WeChat identity a terminal token was issued for: app id and OpenID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wx: Option<WechatClaim>,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WechatClaim {
    pub app_id: String,
    pub openid: String,
}

#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl_secs: i64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// A signed access token and when it expires.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

impl TokenService {
    pub fn new(secret: &str, issuer: &str, ttl_secs: i64, clock: Arc<dyn Clock>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Expiry is checked against our clock below, so tests can move time.
        validation.validate_exp = false;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            issuer: issuer.to_owned(),
            ttl_secs,
            clock,
        }
    }

    pub fn issue(
        &self,
        tenant_id: &TenantId,
        kind: TokenKind,
        subject: &str,
        roles: Vec<String>,
        session_id: Option<String>,
        wx: Option<WechatClaim>,
    ) -> Result<AccessToken, DomainError> {
        let now = self.clock.now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            sub: subject.to_owned(),
            tid: tenant_id.0.clone(),
            kind,
            roles,
            sid: session_id,
            wx,
            iat: now,
            exp: now + self.ttl_secs,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::Internal(format!("token signing failed: {e}")))?;
        Ok(AccessToken {
            token,
            expires_in: self.ttl_secs,
        })
    }

    /// The claims of a valid, unexpired token of this issuer.
    pub fn verify(&self, token: &str) -> Result<Claims, DomainError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| DomainError::Unauthenticated("the access token is not valid"))?;
        if data.claims.exp <= self.clock.now().timestamp() {
            return Err(DomainError::Unauthenticated("the access token has expired"));
        }
        Ok(data.claims)
    }
}
