//! The demo tenant seeded by `baoxiu demo` and on the first `make run`: a provider with an
//! admin and an engineer, a bound demo Mini Program with an `openid_auto` registration
//! method, and an activated customer account, so a newcomer can log in at once (as staff,
//! as a WeChat user through the development fake, or by SMS). Seeding twice changes nothing.

use baoxiu_accounts::customers::{self, NewAccount, NewContact};
use baoxiu_accounts::roles;
use baoxiu_accounts::staff::{self, NewStaff, StaffRole};
use baoxiu_accounts::tenants::{self, SignUp};
use baoxiu_accounts::wechat_apps::{self, AppKind, NewApp, SecretsKey};
use baoxiu_core::DomainError;
use baoxiu_core::{Actor, ActorKind, DomainResult};
use baoxiu_registration::methods::{
    self, AccountForm, ContactForm, MethodSettings, Mode, NewAccountRule, OwnerAssignment,
};
use baoxiu_registration::{Channel, flows};
use baoxiu_store::DbConn;
use chrono::NaiveDateTime;

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_ADMIN_MOBILE: &str = "13800000001";
pub const DEMO_ENGINEER_MOBILE: &str = "13800000002";
pub const DEMO_PASSWORD: &str = "baoxiu-demo";
pub const DEMO_MINI_PROGRAM: &str = "wxdemo0mini0app1";
pub const DEMO_CUSTOMER_MOBILE: &str = "13800000003";

/// What was seeded, or `None` when the demo tenant already existed.
pub fn seed(
    conn: &mut DbConn,
    key: &SecretsKey,
    now: NaiveDateTime,
) -> DomainResult<Option<String>> {
    if tenants::find_by_slug(conn, DEMO_SLUG)?.is_some() {
        return Ok(None);
    }
    let valid = tenants::validate_sign_up(
        conn,
        &SignUp {
            mobile: DEMO_ADMIN_MOBILE.into(),
            provider_name: "演示设备服务有限公司".into(),
            password: DEMO_PASSWORD.into(),
            slug: DEMO_SLUG.into(),
            admin_name: Some("Demo Admin".into()),
        },
    )?;
    let (tenant, admin) = tenants::sign_up(conn, valid, now)?;
    let actor = Actor {
        tenant_id: tenant.tenant_id(),
        kind: ActorKind::System,
        id: "demo".into(),
        request_id: None,
    };
    staff::create(
        conn,
        &actor,
        NewStaff {
            mobile: DEMO_ENGINEER_MOBILE.into(),
            name: "Demo Engineer".into(),
            role: StaffRole::Engineer,
            password: Some(DEMO_PASSWORD.into()),
        },
        now,
    )?;
    wechat_apps::bind(
        conn,
        &actor,
        key,
        NewApp {
            app_id: DEMO_MINI_PROGRAM.into(),
            kind: AppKind::MiniProgram,
            name: "演示报修小程序".into(),
            secret: "demo-secret".into(),
        },
        now,
    )?;
    let end_customer = roles::by_key(conn, &actor.tenant_id, roles::END_CUSTOMER)?;
    methods::create(
        conn,
        &actor,
        "微信自动注册",
        true,
        MethodSettings {
            channels: vec![Channel::MiniProgram, Channel::OfficialAccount, Channel::H5],
            mode: Mode::OpenidAuto,
            requires_approval: false,
            account: AccountForm {
                record_type: "customer".into(),
                fields: Vec::new(),
                show_only_required: false,
                owner: OwnerAssignment::None,
                duplicate_check: customers::DuplicateCheck::Fuzzy,
                new_account_rule: NewAccountRule::UserDefined,
            },
            contact: ContactForm {
                record_type: "default".into(),
                fields: Vec::new(),
                show_only_required: false,
            },
            role_ids: vec![end_customer.id.clone()],
        },
        now,
    )?;
    let account = customers::create_account(
        conn,
        &actor,
        NewAccount {
            name: "演示客户有限公司".into(),
            record_type: "customer".into(),
            fields: Default::default(),
            owner_staff_id: Some(admin.id.clone()),
            source: "admin",
        },
        now,
    )?;
    customers::create_contact(
        conn,
        &actor,
        &account.id,
        NewContact {
            name: "演示联系人".into(),
            mobile: Some(DEMO_CUSTOMER_MOBILE.into()),
            record_type: "default".into(),
            fields: Default::default(),
        },
        now,
    )?;
    flows::activate(conn, &actor, &[account.id], &[end_customer.id], now)
        .map_err(|e| DomainError::Internal(format!("demo activation: {e}")))?;
    Ok(Some(format!(
        "demo tenant `{DEMO_SLUG}` (send X-Tenant: {DEMO_SLUG}): staff admin {} / engineer {DEMO_ENGINEER_MOBILE}, password `{DEMO_PASSWORD}`; \
         terminal: Mini Program app id {DEMO_MINI_PROGRAM} (any code logs in through the development WeChat fake), \
         or SMS login as {DEMO_CUSTOMER_MOBILE}",
        admin.mobile
    )))
}
