//! The demo tenant seeded by `baoxiu demo` and on the first `make run`: a provider with an
//! admin and an engineer, a bound demo Mini Program with an `openid_auto` registration
//! method, an activated customer account with devices, QR codes (two bound to devices,
//! two blank), and three work orders of the demo customer (pending, assigned to the demo
//! engineer, completed and ready to rate), so a newcomer can log in at once (as staff, as
//! a WeChat user through the development fake, or by SMS), scan, and follow an order.
//! Seeding twice changes nothing.

use baoxiu_accounts::customers::{self, NewAccount, NewContact};
use baoxiu_accounts::roles;
use baoxiu_accounts::staff::{self, NewStaff, StaffRole};
use baoxiu_accounts::tenants::{self, SignUp};
use baoxiu_accounts::wechat_apps::{self, AppKind, NewApp, SecretsKey};
use baoxiu_core::{Actor, ActorKind, DomainError, DomainResult};
use baoxiu_devices::devices::{self, DeviceInput, Visibility, WarrantyStatus};
use baoxiu_devices::qr::{self, CodeRule, QrSettings, UrlRules};
use baoxiu_registration::methods::{
    self, AccountForm, ContactForm, MethodSettings, Mode, NewAccountRule, OwnerAssignment,
};
use baoxiu_registration::{Channel, flows};
use baoxiu_store::{DbConn, Tx};
use baoxiu_workorders::attachments::{Uploader, UploaderKind};
use baoxiu_workorders::orders::{
    self, DeviceRef, NewWorkOrder, OrderChannel, ServiceType, StaffAction, Submitted, Submitter,
};
use chrono::NaiveDateTime;

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_ADMIN_MOBILE: &str = "13800000001";
pub const DEMO_ENGINEER_MOBILE: &str = "13800000002";
pub const DEMO_PASSWORD: &str = "baoxiu-demo";
pub const DEMO_MINI_PROGRAM: &str = "wxdemo0mini0app1";
pub const DEMO_CUSTOMER_MOBILE: &str = "13800000003";

/// The demo tenant's passwords are in the README for anyone to read, so a server in
/// production mode never seeds it: `baoxiu demo` and `serve --demo` refuse before they
/// open the database.
pub fn refuse_in_production(mode: crate::config::Mode) -> Result<(), String> {
    match mode {
        crate::config::Mode::Production => Err(
            "the demo tenant has published passwords: it is seeded in development mode only, \
             never with mode = \"production\""
                .into(),
        ),
        crate::config::Mode::Development => Ok(()),
    }
}

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
    baoxiu_workorders::settings::create_defaults(conn, &tenant.tenant_id(), now)?;
    let actor = Actor {
        tenant_id: tenant.tenant_id(),
        kind: ActorKind::System,
        id: "demo".into(),
        request_id: None,
    };
    let mut tx = Tx::new(conn, actor, now);
    let engineer = staff::create(
        &mut tx,
        NewStaff {
            mobile: DEMO_ENGINEER_MOBILE.into(),
            name: "Demo Engineer".into(),
            role: StaffRole::Engineer,
            password: Some(DEMO_PASSWORD.into()),
        },
    )?;
    wechat_apps::bind(
        &mut tx,
        key,
        NewApp {
            app_id: DEMO_MINI_PROGRAM.into(),
            kind: AppKind::MiniProgram,
            name: "演示报修小程序".into(),
            secret: "demo-secret".into(),
        },
        None,
    )?;
    let end_customer = roles::by_key(tx.conn, &tx.actor.tenant_id, roles::END_CUSTOMER)?;
    methods::create(
        &mut tx,
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
    )?;
    let account = customers::create_account(
        &mut tx,
        NewAccount {
            name: "演示客户有限公司".into(),
            record_type: "customer".into(),
            fields: Default::default(),
            owner_staff_id: Some(admin.id.clone()),
            source: "admin",
        },
    )?;
    customers::create_contact(
        &mut tx,
        &account.id,
        NewContact {
            name: "演示联系人".into(),
            mobile: Some(DEMO_CUSTOMER_MOBILE.into()),
            record_type: "default".into(),
            fields: Default::default(),
        },
    )?;
    flows::activate(
        &mut tx,
        std::slice::from_ref(&account.id),
        &[end_customer.id],
    )
    .map_err(|e| DomainError::Internal(format!("demo activation: {e}")))?;
    let devices = seed_devices(&mut tx, &account.id)?;
    seed_orders(&mut tx, &devices, &admin.id, &engineer.id)?;
    debug_assert_eq!(admin.mobile, DEMO_ADMIN_MOBILE);
    Ok(Some(logins()))
}

/// How to log in to the demo tenant (printed on every development start).
pub fn logins() -> String {
    format!(
        "demo tenant `{DEMO_SLUG}` (send X-Tenant: {DEMO_SLUG}): staff admin {DEMO_ADMIN_MOBILE} / engineer {DEMO_ENGINEER_MOBILE}, password `{DEMO_PASSWORD}`; \
         terminal: Mini Program app id {DEMO_MINI_PROGRAM} (any code logs in through the development WeChat fake), \
         or SMS login as {DEMO_CUSTOMER_MOBILE}; QR codes DM00001-DM00002 (devices), DM00003-DM00004 (blank); \
         three work orders of that customer (pending, assigned to the engineer, completed and ready to rate)"
    )
}

/// Two devices of the demo account (one private, one public) with QR codes, and two blank
/// codes for trying the binding. Answers the devices' ids.
fn seed_devices(tx: &mut Tx<'_>, account_id: &str) -> DomainResult<[String; 2]> {
    let device = |name: &str, category: &str, model: &str, serial: &str, visibility| DeviceInput {
        account_id: Some(account_id.to_owned()),
        name: name.into(),
        brand: "演示品牌".into(),
        category: category.into(),
        model: model.into(),
        serial_no: Some(serial.into()),
        install_address: "深圳市南山区科技园".into(),
        warranty_status: Some(WarrantyStatus::InWarranty),
        visibility: Some(visibility),
        ..DeviceInput::default()
    };
    let private = devices::create(
        tx,
        device(
            "1号空压机",
            "空压机",
            "GA-37",
            "DEMO-0001",
            Visibility::Private,
        ),
    )?;
    let public = devices::create(
        tx,
        device(
            "大堂饮水机",
            "饮水机",
            "YS-20",
            "DEMO-0002",
            Visibility::Public,
        ),
    )?;
    qr::put_settings(
        tx,
        QrSettings {
            enabled: true,
            rule: CodeRule::Sequence {
                prefix: "DM".into(),
                digits: 5,
            },
            ..QrSettings::default()
        }, // The default templates point at the tenant's own host, whatever the portal domain.
        &UrlRules::default(),
        None,
    )?;
    let ids = [private.id, public.id];
    qr::generate(tx, None, &ids)?;
    qr::generate(tx, Some(2), &[])?;
    Ok(ids)
}

/// Three orders of the demo customer, through the same domain functions as the API: one
/// pending (on the private device), one assigned to the demo engineer (on the public
/// device), one completed and ready to rate (on the private device again, confirmed past
/// the duplicate guard). The customer submits them; the admin moves them on.
fn seed_orders(
    tx: &mut Tx<'_>,
    devices: &[String; 2],
    admin_id: &str,
    engineer_id: &str,
) -> DomainResult<()> {
    let tenant_id = tx.actor.tenant_id.clone();
    let customer =
        baoxiu_accounts::terminal_users::find_by_mobile(tx.conn, &tenant_id, DEMO_CUSTOMER_MOBILE)?
            .ok_or_else(|| DomainError::Internal("the demo customer was not activated".into()))?;
    let submitter = Submitter {
        kind: "terminal",
        terminal_user_id: Some(customer.id.clone()),
        account_id: customer.account_id.clone(),
        contact_id: customer.contact_id.clone(),
        enterprise_id: customer.enterprise.as_ref().map(|e| e.id.clone()),
        devices: baoxiu_devices::Viewer::Customer {
            account_id: customer.account_id.clone(),
        },
        mobile: customer.mobile.clone(),
        uploader: Uploader {
            tenant_id: tenant_id.clone(),
            kind: UploaderKind::Terminal,
            id: customer.id.clone(),
        },
    };
    let as_customer = Actor {
        tenant_id: tenant_id.clone(),
        kind: ActorKind::Terminal,
        id: customer.id.clone(),
        request_id: None,
    };
    let as_admin = Actor {
        tenant_id,
        kind: ActorKind::Staff,
        id: admin_id.to_owned(),
        request_id: None,
    };
    let assign = || StaffAction::Assign {
        engineer_id: engineer_id.to_owned(),
    };
    let plan: [(&str, &str, Vec<StaffAction>); 3] = [
        (&devices[0], "启动后异响，压力上不去", Vec::new()),
        (&devices[0], "不出热水", vec![StaffAction::Accept, assign()]),
        // The public device (DM00002) is left with no open order, so that a fault reported
        // on it (the README, the Mini Program sample) makes a new order.
        (
            &devices[1],
            "油位报警",
            vec![
                StaffAction::Accept,
                assign(),
                StaffAction::Start,
                StaffAction::Complete,
            ],
        ),
    ];
    for (device_id, fault, steps) in plan {
        tx.actor = as_customer.clone();
        let input = NewWorkOrder {
            device: DeviceRef::Id(device_id.to_owned()),
            brand: String::new(),
            category: String::new(),
            model: String::new(),
            machine_no: None,
            serial_no: None,
            fault_description: fault.into(),
            service_type: ServiceType::Repair,
            warranty_status: None,
            appointment_at: None,
            notes: String::new(),
            contact_name: "演示联系人".into(),
            contact_phone: DEMO_CUSTOMER_MOBILE.into(),
            address: "深圳市南山区科技园".into(),
            latitude: None,
            longitude: None,
            custom_fields: Default::default(),
            attachment_ids: Vec::new(),
            channel: OrderChannel::MiniProgram,
            confirm_duplicate: true,
        };
        let order = match orders::submit(tx, &submitter, input)? {
            Submitted::Created { order, .. } => order,
            Submitted::Duplicate(_) => {
                return Err(DomainError::Internal("a demo order was refused".into()));
            }
        };
        tx.actor = as_admin.clone();
        for step in steps {
            orders::transition(tx, &order.id, step, None)?;
        }
    }
    tx.actor = Actor {
        kind: ActorKind::System,
        id: "demo".into(),
        ..as_admin
    };
    Ok(())
}
