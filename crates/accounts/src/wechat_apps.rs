//! WeChat apps bound to a tenant: Mini Programs and Official Accounts, each with its
//! secret. One app id belongs to one tenant only; a login's app id decides the tenant.
//! Secrets are sealed (ChaCha20-Poly1305, key from configuration) and never leave the
//! domain except to call WeChat.

use baoxiu_core::{DomainError, DomainResult, TenantId, Validator, new_id};
use baoxiu_core::{Keyset, Page, PageRequest};
use baoxiu_store::Change;
use baoxiu_store::Tx;
use baoxiu_store::schema::{wechat_app_ids, wechat_apps};
use baoxiu_store::{DbConn, is_unique_violation};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The key that seals secrets at rest (32 bytes): WeChat app secrets, and the payloads of
/// SMS delivery jobs.
#[derive(Clone)]
pub struct SecretsKey([u8; 32]);

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(..)")
    }
}

impl SecretsKey {
    /// From 64 hex characters.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        <[u8; 32]>::try_from(bytes.as_slice()).ok().map(Self)
    }

    /// Seals `plain` (a fresh random nonce each time): base64 of nonce and ciphertext.
    pub fn seal(&self, plain: &str) -> DomainResult<String> {
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plain.as_bytes())
            .map_err(|_| DomainError::Internal("sealing a secret failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(STANDARD.encode(out))
    }

    /// Opens what `seal` sealed with this key.
    pub fn open(&self, sealed: &str) -> DomainResult<String> {
        let failed = || {
            DomainError::Internal(
                "a sealed value cannot be opened (was the secrets key changed?)".into(),
            )
        };
        let bytes = STANDARD.decode(sealed).map_err(|_| failed())?;
        if bytes.len() < 12 {
            return Err(failed());
        }
        let (nonce, body) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| failed())?;
        let cipher = ChaCha20Poly1305::new(&Key::from(self.0));
        let plain = cipher
            .decrypt(&Nonce::from(nonce), body)
            .map_err(|_| failed())?;
        String::from_utf8(plain).map_err(|_| failed())
    }
}

baoxiu_core::text_enum! {
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    MiniProgram = "mini_program",
    OfficialAccount = "official_account",
}
}

/// An app as the API shows it: never with its secret.
#[derive(Debug, Clone, Serialize)]
pub struct WechatApp {
    pub id: String,
    pub app_id: String,
    pub kind: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = wechat_apps)]
struct AppRow {
    tenant_id: String,
    id: String,
    app_id: String,
    kind: String,
    name: String,
    secret_sealed: String,
    created_at: NaiveDateTime,
}

impl From<&AppRow> for WechatApp {
    fn from(row: &AppRow) -> Self {
        Self {
            id: row.id.clone(),
            app_id: row.app_id.clone(),
            kind: row.kind.clone(),
            name: row.name.clone(),
            created_at: row.created_at,
        }
    }
}

#[derive(Clone)]
pub struct NewApp {
    pub app_id: String,
    pub kind: AppKind,
    pub name: String,
    pub secret: String,
}

impl std::fmt::Debug for NewApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApp")
            .field("app_id", &self.app_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// `platform_app_id` is the platform's shared Mini Program: no tenant may bind it, or its
/// logins would all go to that tenant.
pub fn bind(
    tx: &mut Tx<'_>,
    key: &SecretsKey,
    input: NewApp,
    platform_app_id: Option<&str>,
) -> DomainResult<WechatApp> {
    let app_id = input.app_id.trim().to_owned();
    if platform_app_id == Some(app_id.as_str()) {
        return Err(DomainError::invalid(
            "app_id",
            "taken",
            "this is the platform's shared Mini Program; tenants use it without binding it",
        ));
    }
    let mut errors = Validator::new();
    errors.check(
        (4..=32).contains(&app_id.len())
            && app_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "app_id",
        "invalid",
        "an app id such as wx1234567890abcdef",
    );
    errors.check(
        !input.secret.trim().is_empty() && input.secret.len() <= 128,
        "secret",
        "invalid",
        "1-128 characters",
    );
    errors.check(
        !input.name.trim().is_empty() && input.name.chars().count() <= 64,
        "name",
        "invalid",
        "1-64 characters",
    );
    errors.finish()?;
    let id = new_id();
    let inserted = diesel::insert_into(wechat_apps::table)
        .values((
            wechat_apps::tenant_id.eq(tx.actor.tenant_id.as_str()),
            wechat_apps::id.eq(&id),
            wechat_apps::app_id.eq(&app_id),
            wechat_apps::kind.eq(input.kind.as_str()),
            wechat_apps::name.eq(input.name.trim()),
            wechat_apps::secret_sealed.eq(key.seal(input.secret.trim())?),
            wechat_apps::created_at.eq(tx.now),
        ))
        .execute(tx.conn)
        .and_then(|_| {
            // The global lookup: one app id, one tenant, whichever tenant asks.
            diesel::insert_into(wechat_app_ids::table)
                .values((
                    wechat_app_ids::app_id.eq(&app_id),
                    wechat_app_ids::tenant_id.eq(tx.actor.tenant_id.as_str()),
                    wechat_app_ids::wechat_app_id.eq(&id),
                ))
                .execute(tx.conn)
        });
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(DomainError::invalid(
                "app_id",
                "taken",
                "this app id is bound to a tenant already",
            ));
        }
        other => other?,
    };
    let app = all(tx.conn, &tx.actor.tenant_id)?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(DomainError::NotFound("WeChat app"))?;
    tx.audit(Change::<(), _> {
        action: "wechat_app.bind",
        object_type: "wechat_app",
        object_id: &id,
        before: None,
        after: Some(&app),
    })?;
    Ok(app)
}

/// How the list of bound apps pages: oldest first.
pub const WECHAT_APPS: Keyset = Keyset::oldest_first("wechat_apps");

/// The tenant's bound apps, a page at a time.
pub fn list(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    page: &PageRequest,
) -> DomainResult<Page<WechatApp>> {
    let query = wechat_apps::table
        .filter(wechat_apps::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    let rows: Vec<WechatApp> = baoxiu_store::paginate(
        query,
        wechat_apps::created_at,
        wechat_apps::id,
        &WECHAT_APPS,
        page,
    )?
    .select(AppRow::as_select())
    .load(conn)?
    .iter()
    .map(WechatApp::from)
    .collect();
    Ok(page.finish(&WECHAT_APPS, rows, |a| (a.created_at, a.id.clone())))
}

/// Every app the tenant has bound (a handful: one per kind and channel), for the checks
/// that look at all of them.
pub fn all(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<Vec<WechatApp>> {
    Ok(wechat_apps::table
        .filter(wechat_apps::tenant_id.eq(tenant_id.as_str()))
        .order((wechat_apps::created_at.asc(), wechat_apps::id.asc()))
        .select(AppRow::as_select())
        .load(conn)?
        .iter()
        .map(WechatApp::from)
        .collect())
}

pub fn unbind(tx: &mut Tx<'_>, id: &str) -> DomainResult<()> {
    let before = all(tx.conn, &tx.actor.tenant_id)?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(DomainError::NotFound("WeChat app"))?;
    let deleted = diesel::delete(
        wechat_apps::table
            .filter(wechat_apps::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(wechat_apps::id.eq(id)),
    )
    .execute(tx.conn)?;
    baoxiu_core::removed(deleted, "WeChat app")?;
    tx.audit(Change::<_, ()> {
        action: "wechat_app.unbind",
        object_type: "wechat_app",
        object_id: id,
        before: Some(&before),
        after: None,
    })?;
    Ok(())
}

/// What a login needs of an app: its tenant, kind and opened secret.
#[derive(Clone)]
pub struct AppForLogin {
    pub tenant_id: TenantId,
    pub app_id: String,
    pub kind: AppKind,
    pub secret: String,
}

impl std::fmt::Debug for AppForLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppForLogin")
            .field("tenant_id", &self.tenant_id)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// The app a login names (any tenant: the app id decides the tenant).
pub fn for_login(
    conn: &mut DbConn,
    key: &SecretsKey,
    app_id: &str,
) -> DomainResult<Option<AppForLogin>> {
    let row: Option<AppRow> = wechat_app_ids::table
        .inner_join(
            wechat_apps::table.on(wechat_apps::tenant_id
                .eq(wechat_app_ids::tenant_id)
                .and(wechat_apps::id.eq(wechat_app_ids::wechat_app_id))),
        )
        .filter(wechat_app_ids::app_id.eq(app_id))
        .select(AppRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| {
        Ok(AppForLogin {
            kind: if row.kind == "official_account" {
                AppKind::OfficialAccount
            } else {
                AppKind::MiniProgram
            },
            secret: key.open(&row.secret_sealed)?,
            tenant_id: TenantId(row.tenant_id),
            app_id: row.app_id,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_hides_the_secret() {
        let key = SecretsKey::from_hex(&"11".repeat(32)).unwrap();
        let sealed = key.seal("my-app-secret").unwrap();
        assert!(!sealed.contains("my-app-secret"));
        assert_eq!(key.open(&sealed).unwrap(), "my-app-secret");
        let other = SecretsKey::from_hex(&"22".repeat(32)).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(SecretsKey::from_hex("abc").is_none());
    }
}
