//! The login, registration, activation and approval flows.

use baoxiu_accounts::customers::{self, ExtraFields, NewAccount, NewContact};
use baoxiu_accounts::terminal_users::{
    self, NewTerminalUser, TerminalStatus, TerminalUser, TerminalUserChanges,
};
use baoxiu_accounts::{enterprises, roles};
use baoxiu_core::{
    DomainError, DomainResult, FieldError, Page, PageRequest, TenantId, Transition, Validator,
    new_id,
};
use baoxiu_store::Change;
use baoxiu_store::schema::{registration_attempts, registrations};
use baoxiu_store::{DbConn, Tx};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::methods::{self, FormField, Method, Mode, NewAccountRule};
use crate::{Channel, invitations, policy};
use baoxiu_devices::{Viewer, devices};

/// The name WeChat-created users' external enterprise gets until they register.
const UNREGISTERED_ENTERPRISE: &str = "微信用户";

/// Fails with `seats-exhausted` when `more` users cannot become active.
fn take_seats(conn: &mut DbConn, tenant_id: &TenantId, more: i64) -> DomainResult<()> {
    // Two activations at once must not both see the last free seat.
    baoxiu_store::lock_tenant(conn, tenant_id.as_str())?;
    let seats = i64::from(policy::get(conn, tenant_id)?.seats);
    let in_use = terminal_users::seats_in_use(conn, tenant_id)?;
    if in_use + more > seats {
        return Err(DomainError::SeatsExhausted(format!(
            "{in_use} of {seats} terminal-user seats are in use; {more} more were asked for"
        )));
    }
    Ok(())
}

/// A user created by a first login through a self-registration method.
fn create_through(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    method: &Method,
    mobile: Option<String>,
    now: NaiveDateTime,
) -> DomainResult<TerminalUser> {
    let policy = policy::get(conn, tenant_id)?;
    let (status, role_ids, enterprise_id) = match method.effective_mode(&policy) {
        Mode::OpenidAuto => {
            take_seats(conn, tenant_id, 1)?;
            let own = enterprises::create(conn, tenant_id, UNREGISTERED_ENTERPRISE, None, now)?;
            (
                TerminalStatus::Active,
                method.settings.role_ids.clone(),
                Some(own.id),
            )
        }
        // The enterprise comes with registration.
        Mode::RequireRegistration => (TerminalStatus::Unregistered, Vec::new(), None),
    };
    terminal_users::create(
        conn,
        tenant_id,
        NewTerminalUser {
            enterprise_id,
            account_id: None,
            contact_id: None,
            mobile,
            status,
            method_id: Some(method.id.clone()),
            role_ids,
        },
        now,
    )
}

/// The user, unless an admin disabled it (`not-activated`).
pub fn usable(user: TerminalUser) -> DomainResult<TerminalUser> {
    if user.status == TerminalStatus::Disabled {
        Err(DomainError::NotActivated)
    } else {
        Ok(user)
    }
}

/// Who WeChat says logged in, from where.
#[derive(Debug, Clone, Copy)]
pub struct WechatLogin<'a> {
    pub channel: Channel,
    pub app_id: &'a str,
    pub openid: &'a str,
    pub unionid: Option<&'a str>,
    /// A terminal user already logged in (by SMS) to bind the identity to.
    pub bind_to: Option<&'a str>,
}

/// A WeChat login (Mini Program or Official Account). A known identity logs its user in;
/// with `bind_to` (a user who logged in by SMS) the identity is bound to that user; else a
/// self-registration method of the channel creates the user, or the guest stands in, or
/// the login is refused with `not-activated`.
pub fn wechat_login(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    login: WechatLogin<'_>,
    now: NaiveDateTime,
) -> DomainResult<TerminalUser> {
    let WechatLogin {
        channel,
        app_id,
        openid,
        unionid,
        bind_to,
    } = login;
    if let Some(user) = terminal_users::find_by_identity(conn, tenant_id, app_id, openid)? {
        return usable(user);
    }
    if let Some(user_id) = bind_to {
        let user = usable(terminal_users::get(conn, tenant_id, user_id)?)?;
        if !user.is_guest {
            terminal_users::add_identity(conn, tenant_id, &user.id, app_id, openid, unionid, now)?;
            return Ok(user);
        }
    }
    match methods::for_channel(conn, tenant_id, channel)? {
        Some(method) => {
            let user = create_through(conn, tenant_id, &method, None, now)?;
            terminal_users::add_identity(conn, tenant_id, &user.id, app_id, openid, unionid, now)?;
            terminal_users::get(conn, tenant_id, &user.id)
        }
        None if policy::get(conn, tenant_id)?.guest_enabled => {
            terminal_users::guest(conn, tenant_id, now)
        }
        None => Err(DomainError::NotActivated),
    }
}

/// An SMS login (the mobile's code was checked by the caller).
pub fn sms_login(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    channel: Channel,
    mobile: &str,
    now: NaiveDateTime,
) -> DomainResult<TerminalUser> {
    if let Some(user) = terminal_users::find_by_mobile(conn, tenant_id, mobile)? {
        return usable(user);
    }
    match methods::for_channel(conn, tenant_id, channel)? {
        Some(method) => create_through(conn, tenant_id, &method, Some(mobile.to_owned()), now),
        None => Err(DomainError::NotActivated),
    }
}

pub fn guest_login(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    now: NaiveDateTime,
) -> DomainResult<TerminalUser> {
    if !policy::get(conn, tenant_id)?.guest_enabled {
        return Err(DomainError::GuestDisabled);
    }
    terminal_users::guest(conn, tenant_id, now)
}

/// The registration form for a user: which method, and which fields to fill.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationForm {
    pub method_id: String,
    pub method_name: String,
    pub requires_approval: bool,
    pub invitation_required: bool,
    pub new_account_rule: NewAccountRule,
    pub account_fields: Vec<FormField>,
    pub contact_fields: Vec<FormField>,
}

fn method_for(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user: &TerminalUser,
    channel: Channel,
) -> DomainResult<Method> {
    if let Some(method) = user
        .method_id
        .as_deref()
        .and_then(|id| methods::get(conn, tenant_id, id).ok())
        .filter(|m| m.enabled)
    {
        return Ok(method);
    }
    methods::for_channel(conn, tenant_id, channel)?.ok_or(DomainError::NotFound(
        "registration method for this channel",
    ))
}

fn visible(fields: &[FormField], only_required: bool) -> Vec<FormField> {
    fields
        .iter()
        .filter(|f| f.required || !only_required)
        .cloned()
        .collect()
}

pub fn form(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user: &TerminalUser,
    channel: Channel,
) -> DomainResult<RegistrationForm> {
    if user.is_guest {
        return Err(DomainError::Forbidden(
            "the guest identity cannot register; log in first",
        ));
    }
    let method = method_for(conn, tenant_id, user, channel)?;
    let settings = &method.settings;
    Ok(RegistrationForm {
        requires_approval: settings.requires_approval,
        invitation_required: policy::get(conn, tenant_id)?.invitation_required,
        new_account_rule: settings.account.new_account_rule,
        account_fields: visible(
            &settings.account.fields,
            settings.account.show_only_required,
        ),
        contact_fields: visible(
            &settings.contact.fields,
            settings.contact.show_only_required,
        ),
        method_id: method.id,
        method_name: method.name,
    })
}

/// What a user sends to register (the mobile's code was checked by the caller; with the
/// `business_registry` rule, `registered_name` is the name the registry gave).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationInput {
    #[serde(default)]
    pub registered_name: Option<String>,
    /// Registration by device serial: the contact joins the device's owner account (the
    /// account name is then not needed).
    #[serde(default)]
    pub device_serial: Option<String>,
    /// Where the device is, if the user shares it: latitude, longitude, address.
    #[serde(default)]
    pub device_location: Option<(f64, f64, Option<String>)>,
    pub account_name: String,
    pub account_fields: ExtraFields,
    pub contact_name: String,
    pub contact_fields: ExtraFields,
    pub mobile: String,
    pub invitation_code: Option<String>,
}

/// Checks the values of the visible fields of one form, every bad one at once, into
/// `errors`. Registration's extra fields are `free` fields, whose normal form is the value
/// sent: the input is kept as sent (the approval of a waiting registration reads it again).
fn check_fields(errors: &mut Validator, prefix: &str, form: &[FormField], values: &ExtraFields) {
    let fields: Vec<_> = form.iter().map(FormField::to_field).collect();
    if let Err(bad) = baoxiu_forms::validate(prefix, &fields, values) {
        bad.into_iter().for_each(|e| errors.push(e));
    }
}

#[derive(Debug, Clone, Serialize)]
pub enum RegistrationOutcome {
    Registered(Box<TerminalUser>),
    AwaitingApproval {
        registration_id: String,
        reason: ApprovalReason,
    },
}

baoxiu_core::text_enum! {
/// How a registration found the existing account it claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// The account name matched an existing account (by the method's duplicate rule).
    AccountName = "account_name",
    /// The user gave a device serial number: the device's owner account.
    DeviceSerial = "device_serial",
}
}

baoxiu_core::text_enum! {
/// Why a registration waits for staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalReason {
    /// The registration method requires approval.
    Method = "method",
    /// It claims an existing account without proof: the login mobile is none of the
    /// account's contacts' and no invitation code issued for that account was redeemed (or
    /// the serial number given matched no device with an owner).
    UnverifiedClaim = "unverified_claim",
}
}

/// Registration attempts one user may make in an hour (each also spends a try of its SMS
/// code, `sms::spend_try`).
pub const ATTEMPTS_PER_HOUR: i64 = 10;

/// Counts a registration attempt in its own committed write, before the attempt runs, so a
/// failed attempt counts too: 429 past `ATTEMPTS_PER_HOUR`. Old attempts of the user are
/// purged here (bounded at write time).
pub fn record_attempt(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user_id: &str,
    now: NaiveDateTime,
) -> DomainResult<()> {
    // Parallel attempts must not all read the same count.
    baoxiu_store::lock_tenant(conn, tenant_id.as_str())?;
    let hour = chrono::Duration::hours(1);
    let mine = registration_attempts::table
        .filter(registration_attempts::tenant_id.eq(tenant_id.as_str()))
        .filter(registration_attempts::user_id.eq(user_id));
    diesel::delete(mine.filter(registration_attempts::created_at.le(now - hour))).execute(conn)?;
    let recent: Vec<NaiveDateTime> = mine
        .order(registration_attempts::created_at.asc())
        .select(registration_attempts::created_at)
        .load(conn)?;
    if i64::try_from(recent.len()).unwrap_or(i64::MAX) >= ATTEMPTS_PER_HOUR {
        let oldest = recent.first().copied().unwrap_or(now);
        let wait = (oldest + hour - now).num_seconds().max(1);
        return Err(DomainError::RateLimited {
            retry_after_secs: u64::try_from(wait).unwrap_or(3600),
        });
    }
    diesel::insert_into(registration_attempts::table)
        .values((
            registration_attempts::tenant_id.eq(tenant_id.as_str()),
            registration_attempts::id.eq(new_id()),
            registration_attempts::user_id.eq(user_id),
            registration_attempts::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

const MAX_ADDRESS_CHARS: usize = 200;

/// The device of `account` with this serial number, if any.
fn owned_device(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    serial: &str,
) -> DomainResult<Option<devices::Device>> {
    Ok(
        devices::lookup(conn, tenant_id, Some(serial), None, &Viewer::Staff)?
            .into_iter()
            .find(|d| d.account_id.is_some()),
    )
}

fn given_serial(input: &RegistrationInput) -> Option<&str> {
    input
        .device_serial
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Completes a user's registration, or queues it for approval. A registration that lands
/// on an existing account takes effect at once only with proof (the login mobile is one of
/// the account's contacts', or an invitation code issued for that account); otherwise it
/// waits for staff, whatever the method says. A serial number that matches no device waits
/// the same way, so the form tells nobody which serials exist.
pub fn register(
    tx: &mut Tx<'_>,
    channel: Channel,
    input: RegistrationInput,
) -> DomainResult<RegistrationOutcome> {
    // Locks first, in one order: the tenant row before anything that references it.
    tx.lock_tenant()?;
    let tenant_id = &tx.actor.tenant_id.clone();
    let user_id = tx.actor.id.clone();
    let user_id = user_id.as_str();
    let user = terminal_users::get(tx.conn, tenant_id, user_id)?;
    if user.is_guest {
        return Err(DomainError::Forbidden(
            "the guest identity cannot register; log in first",
        ));
    }
    if user.is_registered() {
        return Err(DomainError::conflict(
            "already-registered",
            "already registered",
        ));
    }
    if user.status == TerminalStatus::AwaitingApproval {
        return Err(DomainError::conflict(
            "awaiting-approval",
            "a registration is already waiting for approval",
        ));
    }
    let method = method_for(tx.conn, tenant_id, &user, channel)?;
    let settings = &method.settings;
    let mut errors = Validator::new();
    let serial = given_serial(&input).map(str::to_owned);
    if let Some((lat, lng, address)) = &input.device_location {
        errors.check(
            (-90.0..=90.0).contains(lat) && (-180.0..=180.0).contains(lng),
            "device_location",
            "out_of_range",
            "latitude -90 to 90, longitude -180 to 180",
        );
        if let Some(address) = address.as_deref().filter(|a| !a.trim().is_empty())
            && let Err(e) =
                baoxiu_accounts::fields::text("device_location.address", address, MAX_ADDRESS_CHARS)
        {
            errors.push(e);
        }
        errors.check(
            serial.is_some(),
            "device_location",
            "invalid",
            "a device location goes with device_serial",
        );
    }
    // By serial, the device names the account and the account name is optional.
    let account_name = if serial.is_some() && input.account_name.trim().is_empty() {
        Some(String::new())
    } else {
        baoxiu_accounts::fields::text("account_name", &input.account_name, 128)
            .map_err(|e| errors.push(e))
            .ok()
    };
    let contact_name = baoxiu_accounts::fields::text("contact_name", &input.contact_name, 64)
        .map_err(|e| errors.push(e))
        .ok();
    check_fields(
        &mut errors,
        "account_fields",
        &visible(
            &settings.account.fields,
            settings.account.show_only_required,
        ),
        &input.account_fields,
    );
    check_fields(
        &mut errors,
        "contact_fields",
        &visible(
            &settings.contact.fields,
            settings.contact.show_only_required,
        ),
        &input.contact_fields,
    );
    let policy = policy::get(tx.conn, tenant_id)?;
    let invitation_code = input
        .invitation_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if policy.invitation_required && invitation_code.is_none() {
        errors.push(FieldError::new(
            "invitation_code",
            "required",
            "an invitation code is required",
        ));
    }
    // With the registry rule, the account carries the registered name.
    let account_name = match settings.account.new_account_rule {
        NewAccountRule::BusinessRegistry if serial.is_none() => {
            if account_name.is_some() && input.registered_name.is_none() {
                errors.push(FieldError::new(
                    "account_name",
                    "not_registered",
                    "the name was not found in the business registry",
                ));
            }
            input.registered_name.clone()
        }
        _ => account_name,
    };
    let by_name = match (&account_name, &serial) {
        (Some(name), None) => customers::find_account_by_name(
            tx.conn,
            tenant_id,
            name,
            settings.account.duplicate_check,
        )?,
        _ => None,
    };
    if serial.is_none()
        && account_name.is_some()
        && by_name.is_none()
        && settings.account.new_account_rule == NewAccountRule::ExistingOnly
    {
        errors.push(FieldError::new(
            "account_name",
            "not_found",
            "no existing account has this name",
        ));
    }
    errors.finish()?;
    let invitation = match &invitation_code {
        Some(code) => Some(invitations::redeem(tx.conn, tenant_id, code, tx.now)?),
        None => None,
    };
    let claimed = match &serial {
        Some(serial) => owned_device(tx.conn, tenant_id, serial)?
            .and_then(|d| d.account_id)
            .map(|id| customers::get_account(tx.conn, tenant_id, &id))
            .transpose()?,
        None => by_name,
    };
    let proven = match &claimed {
        Some(account) => {
            invitation
                .as_ref()
                .is_some_and(|c| c.account_id.as_deref() == Some(account.id.as_str()))
                || customers::find_contact_by_mobile(
                    tx.conn,
                    tenant_id,
                    &account.id,
                    &input.mobile,
                )?
                .is_some()
        }
        // A new account needs no proof; a serial that matched nothing proves nothing.
        None => serial.is_none(),
    };
    let input = RegistrationInput {
        account_name: account_name.unwrap_or_default(),
        contact_name: contact_name.unwrap_or_default(),
        device_serial: serial.clone(),
        ..input
    };
    let waits = if settings.requires_approval {
        Some(ApprovalReason::Method)
    } else if !proven {
        Some(ApprovalReason::UnverifiedClaim)
    } else {
        None
    };
    if let Some(reason) = waits {
        let id = new_id();
        let claim_kind = if serial.is_some() {
            Some(ClaimKind::DeviceSerial)
        } else {
            claimed.as_ref().map(|_| ClaimKind::AccountName)
        };
        diesel::insert_into(registrations::table)
            .values((
                registrations::tenant_id.eq(tenant_id.as_str()),
                registrations::id.eq(&id),
                registrations::user_id.eq(&user.id),
                registrations::method_id.eq(&method.id),
                registrations::payload_json.eq(serde_json::to_string(&input)
                    .map_err(|e| DomainError::Internal(format!("registration: {e}")))?),
                registrations::status.eq("pending"),
                registrations::created_at.eq(tx.now),
                registrations::claimed_account_id.eq(claimed.as_ref().map(|a| a.id.as_str())),
                registrations::claim_kind.eq(claim_kind.map(ClaimKind::as_str)),
                registrations::approval_reason.eq(reason.as_str()),
            ))
            .execute(tx.conn)?;
        let moved = terminal_users::set_registration(
            tx.conn,
            tenant_id,
            &user.id,
            &[user.status],
            None,
            TerminalStatus::AwaitingApproval,
            tx.now,
        )?;
        USER_REGISTERS.applied(moved)?;
        return Ok(RegistrationOutcome::AwaitingApproval {
            registration_id: id,
            reason,
        });
    }
    let role_ids = settings.role_ids.clone();
    apply(tx, &user, &method, &input, claimed, &role_ids, user.status)
        .map(|user| RegistrationOutcome::Registered(Box::new(user)))
}

/// A user's registration taking effect.
const USER_REGISTERS: Transition = Transition::new(
    "terminal user",
    &["unregistered", "rejected", "active", "awaiting_approval"],
    "registered",
);

/// Links the user to `account` (or a new account, where the method allows one), matches or
/// creates the contact, records the device's location, and activates the user, only where
/// its status is still `from`.
#[allow(clippy::too_many_arguments)]
fn apply(
    tx: &mut Tx<'_>,
    user: &TerminalUser,
    method: &Method,
    input: &RegistrationInput,
    account: Option<customers::Account>,
    role_ids: &[String],
    from: TerminalStatus,
) -> DomainResult<TerminalUser> {
    let tenant_id = &tx.actor.tenant_id.clone();
    let settings = &method.settings;
    let account = match account {
        Some(existing) => existing,
        None if settings.account.new_account_rule != NewAccountRule::ExistingOnly
            && !input.account_name.trim().is_empty() =>
        {
            let owner = methods::next_owner(tx.conn, tenant_id, method)?;
            customers::create_account(
                tx,
                NewAccount {
                    name: input.account_name.clone(),
                    record_type: settings.account.record_type.clone(),
                    fields: input.account_fields.clone(),
                    owner_staff_id: owner,
                    source: "registration",
                },
            )?
        }
        None => {
            return Err(DomainError::conflict(
                "no-account",
                "the registration names no account it can join; reject it",
            ));
        }
    };
    let contact =
        match customers::find_contact_by_mobile(tx.conn, tenant_id, &account.id, &input.mobile)? {
            Some(existing) => existing,
            None => customers::create_contact(
                tx,
                &account.id,
                NewContact {
                    name: input.contact_name.clone(),
                    mobile: Some(input.mobile.clone()),
                    record_type: settings.contact.record_type.clone(),
                    fields: input.contact_fields.clone(),
                },
            )?,
        };
    // The location the user captured on the spot, tx.now that the registration holds.
    if let (Some(serial), Some((lat, lng, address))) =
        (given_serial(input), input.device_location.as_ref())
        && let Some(device) = owned_device(tx.conn, tenant_id, serial)?
            .filter(|d| d.account_id.as_deref() == Some(account.id.as_str()))
    {
        devices::update_location(tx, &device.id, *lat, *lng, address.as_deref())?;
    }
    if from != TerminalStatus::Active {
        take_seats(tx.conn, tenant_id, 1)?;
    }
    let moved = terminal_users::set_registration(
        tx.conn,
        tenant_id,
        &user.id,
        &[from],
        Some((&account.id, &contact.id, &input.mobile)),
        TerminalStatus::Active,
        tx.now,
    )?;
    if moved == 0 {
        let current = terminal_users::get(tx.conn, tenant_id, &user.id)?.status;
        USER_REGISTERS.require(current.as_str())?;
        USER_REGISTERS.applied(moved)?;
    }
    let mut all_roles: Vec<String> = user.roles.iter().map(|r| r.id.clone()).collect();
    all_roles.extend(role_ids.iter().cloned());
    terminal_users::set_roles(tx.conn, tenant_id, &user.id, &all_roles)?;
    let after = terminal_users::get(tx.conn, tenant_id, &user.id)?;
    tx.audit(Change {
        action: "terminal_user.register",
        object_type: "terminal_user",
        object_id: &user.id,
        before: Some(user),
        after: Some(&after),
    })?;
    Ok(after)
}

/// An admin's change to a terminal user's roles or state. Re-enabling a disabled user
/// makes it active again, so it takes a seat like an activation.
pub fn update_terminal_user(
    tx: &mut Tx<'_>,
    id: &str,
    changes: TerminalUserChanges,
    expected_version: Option<i32>,
) -> DomainResult<TerminalUser> {
    if changes.disabled == Some(false)
        && terminal_users::get(tx.conn, &tx.actor.tenant_id, id)?.status == TerminalStatus::Disabled
    {
        take_seats(tx.conn, &tx.actor.tenant_id, 1)?;
    }
    terminal_users::update(tx, id, changes, expected_version)
}

/// Manual activation: every contact with a mobile of the given accounts becomes an active
/// terminal user with the given roles. All or nothing: a bad account or too few seats
/// activates nobody.
pub fn activate(
    tx: &mut Tx<'_>,
    account_ids: &[String],
    role_ids: &[String],
) -> DomainResult<Vec<TerminalUser>> {
    let tenant_id = &tx.actor.tenant_id.clone();
    let mut errors = Validator::new();
    errors.check(
        !account_ids.is_empty(),
        "account_ids",
        "required",
        "name at least one account",
    );
    errors.check(
        account_ids.len() <= 100,
        "account_ids",
        "too_many",
        "at most 100 accounts at once",
    );
    let role_ids = if role_ids.is_empty() {
        vec![roles::by_key(tx.conn, tenant_id, roles::END_CUSTOMER)?.id]
    } else {
        role_ids.to_vec()
    };
    if let Err(DomainError::Validation(role_errors)) =
        roles::check_assignable(tx.conn, tenant_id, "role_ids", &role_ids)
    {
        role_errors.into_iter().for_each(|e| errors.push(e));
    }
    let mut plan = Vec::new();
    for (i, account_id) in account_ids.iter().enumerate() {
        let Ok(account) = customers::get_account(tx.conn, tenant_id, account_id) else {
            errors.push(FieldError::new(
                format!("account_ids.{i}"),
                "not_found",
                "no such account",
            ));
            continue;
        };
        let contacts: Vec<_> = customers::contacts_of(tx.conn, tenant_id, account_id)?
            .into_iter()
            .filter(|c| c.mobile.is_some())
            .collect();
        if contacts.is_empty() {
            errors.push(FieldError::new(
                format!("account_ids.{i}"),
                "no_contact",
                "the account needs at least one contact with a mobile",
            ));
        }
        plan.push((account, contacts));
    }
    errors.finish()?;
    let mut users = Vec::new();
    let mut newly_active = 0;
    let mut steps = Vec::new();
    for (account, contacts) in &plan {
        for contact in contacts {
            let mobile = contact.mobile.clone().unwrap_or_default();
            let existing = match terminal_users::find_by_contact(tx.conn, tenant_id, &contact.id)? {
                Some(user) => Some(user),
                None => terminal_users::find_by_mobile(tx.conn, tenant_id, &mobile)?
                    .filter(|u| !u.is_registered()),
            };
            if existing
                .as_ref()
                .is_none_or(|u| u.status != TerminalStatus::Active)
            {
                newly_active += 1;
            }
            steps.push((account.clone(), contact.clone(), mobile, existing));
        }
    }
    take_seats(tx.conn, tenant_id, newly_active)?;
    for (account, contact, mobile, existing) in steps {
        let user = match existing {
            Some(user) => {
                terminal_users::set_registration(
                    tx.conn,
                    tenant_id,
                    &user.id,
                    &TerminalStatus::ALL,
                    Some((&account.id, &contact.id, &mobile)),
                    TerminalStatus::Active,
                    tx.now,
                )?;
                terminal_users::set_roles(tx.conn, tenant_id, &user.id, &role_ids)?;
                terminal_users::get(tx.conn, tenant_id, &user.id)?
            }
            None => {
                let enterprise =
                    enterprises::join_account(tx.conn, tenant_id, None, &account.id, tx.now)?;
                terminal_users::create(
                    tx.conn,
                    tenant_id,
                    NewTerminalUser {
                        enterprise_id: Some(enterprise.id),
                        account_id: Some(account.id.clone()),
                        contact_id: Some(contact.id.clone()),
                        mobile: Some(mobile),
                        status: TerminalStatus::Active,
                        method_id: None,
                        role_ids: role_ids.clone(),
                    },
                    tx.now,
                )?
            }
        };
        tx.audit(Change::<(), _> {
            action: "terminal_user.activate",
            object_type: "terminal_user",
            object_id: &user.id,
            before: None,
            after: Some(&user),
        })?;
        users.push(user);
    }
    for (account, _) in &plan {
        customers::mark_activated(tx.conn, tenant_id, &account.id, tx.now)?;
    }
    Ok(users)
}

#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    pub id: String,
    pub user_id: String,
    pub method_id: String,
    pub input: RegistrationInput,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    /// The existing account the registration lands on, if it found one.
    pub claimed_account_id: Option<String>,
    /// Its name now (read with the registration, for staff).
    pub claimed_account_name: Option<String>,
    /// How it found it (or, for a serial that matched nothing, how it tried).
    pub claim_kind: Option<ClaimKind>,
    pub approval_reason: ApprovalReason,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = registrations)]
struct RegistrationRow {
    id: String,
    user_id: String,
    method_id: String,
    payload_json: String,
    status: String,
    reason: Option<String>,
    decided_by: Option<String>,
    created_at: NaiveDateTime,
    decided_at: Option<NaiveDateTime>,
    claimed_account_id: Option<String>,
    claim_kind: Option<String>,
    approval_reason: String,
}

impl TryFrom<RegistrationRow> for Registration {
    type Error = DomainError;

    fn try_from(row: RegistrationRow) -> DomainResult<Self> {
        Ok(Self {
            input: serde_json::from_str(&row.payload_json)
                .map_err(|e| DomainError::Internal(format!("stored registration: {e}")))?,
            id: row.id,
            user_id: row.user_id,
            method_id: row.method_id,
            status: row.status,
            reason: row.reason,
            decided_by: row.decided_by,
            created_at: row.created_at,
            decided_at: row.decided_at,
            claimed_account_id: row.claimed_account_id,
            claimed_account_name: None,
            claim_kind: row.claim_kind.as_deref().and_then(ClaimKind::parse),
            approval_reason: ApprovalReason::parse(&row.approval_reason)
                .unwrap_or(ApprovalReason::Method),
        })
    }
}

pub fn get_registration(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    id: &str,
) -> DomainResult<Registration> {
    registrations::table
        .filter(registrations::tenant_id.eq(tenant_id.as_str()))
        .filter(registrations::id.eq(id))
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("registration"))?
        .try_into()
}

/// The newest registration of a user, for `/me`.
pub fn latest_registration(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    user_id: &str,
) -> DomainResult<Option<Registration>> {
    registrations::table
        .filter(registrations::tenant_id.eq(tenant_id.as_str()))
        .filter(registrations::user_id.eq(user_id))
        .order((registrations::created_at.desc(), registrations::id.desc()))
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()?
        .map(Registration::try_from)
        .transpose()
}

/// How the list pages: oldest first.
pub const REGISTRATIONS: baoxiu_core::Keyset = baoxiu_core::Keyset::oldest_first("registrations");

pub fn list_registrations(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    status: Option<&str>,
    page: &PageRequest,
) -> DomainResult<Page<Registration>> {
    let mut query = registrations::table
        .filter(registrations::tenant_id.eq(tenant_id.as_str()))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(registrations::status.eq(status.to_owned()));
    }
    let rows = baoxiu_store::paginate(
        query,
        registrations::created_at,
        registrations::id,
        &REGISTRATIONS,
        page,
    )?
    .select(RegistrationRow::as_select())
    .load(conn)?
    .into_iter()
    .map(Registration::try_from)
    .collect::<DomainResult<Vec<_>>>()?;
    let rows = with_account_names(conn, tenant_id, rows)?;
    Ok(page.finish(&REGISTRATIONS, rows, |r| (r.created_at, r.id.clone())))
}

/// Fills in the names of the accounts registrations claim, in one statement.
fn with_account_names(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    mut rows: Vec<Registration>,
) -> DomainResult<Vec<Registration>> {
    use baoxiu_store::schema::accounts;
    let ids: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.claimed_account_id.as_deref())
        .collect();
    if ids.is_empty() {
        return Ok(rows);
    }
    let names: std::collections::HashMap<String, String> = accounts::table
        .filter(accounts::tenant_id.eq(tenant_id.as_str()))
        .filter(accounts::id.eq_any(ids))
        .select((accounts::id, accounts::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    for row in &mut rows {
        row.claimed_account_name = row
            .claimed_account_id
            .as_ref()
            .and_then(|id| names.get(id).cloned());
    }
    Ok(rows)
}

const APPROVE: Transition = Transition::new("registration", &["pending"], "approved");
const REJECT: Transition = Transition::new("registration", &["pending"], "rejected");

/// Decides a pending registration: one decision, whatever the concurrency (the write is
/// guarded on `pending`).
fn decide(
    tx: &mut Tx<'_>,
    id: &str,
    transition: Transition,
    reason: Option<&str>,
) -> DomainResult<Registration> {
    let registration = get_registration(tx.conn, &tx.actor.tenant_id, id)?;
    transition.require(&registration.status)?;
    let rows = diesel::update(
        registrations::table
            .filter(registrations::tenant_id.eq(tx.actor.tenant_id.as_str()))
            .filter(registrations::id.eq(id))
            .filter(registrations::status.eq_any(transition.from)),
    )
    .set((
        registrations::status.eq(transition.to),
        registrations::reason.eq(reason),
        registrations::decided_by.eq(&tx.actor.id),
        registrations::decided_at.eq(tx.now),
    ))
    .execute(tx.conn)?;
    transition.applied(rows)?;
    Ok(registration)
}

/// Approves a waiting registration with the roles the staff member chose. An admin's
/// disable of the user wins: a disabled user's registration cannot be approved (409).
pub fn approve(tx: &mut Tx<'_>, id: &str, role_ids: &[String]) -> DomainResult<TerminalUser> {
    tx.lock_tenant()?;
    roles::check_assignable(tx.conn, &tx.actor.tenant_id, "role_ids", role_ids)?;
    let registration = decide(tx, id, APPROVE, None)?;
    let user = terminal_users::get(tx.conn, &tx.actor.tenant_id, &registration.user_id)?;
    let method = methods::get(tx.conn, &tx.actor.tenant_id, &registration.method_id)?;
    let account = match &registration.claimed_account_id {
        Some(account_id) => Some(customers::get_account(
            tx.conn,
            &tx.actor.tenant_id,
            account_id,
        )?),
        None if registration.input.account_name.trim().is_empty() => None,
        None => customers::find_account_by_name(
            tx.conn,
            &tx.actor.tenant_id,
            &registration.input.account_name,
            method.settings.account.duplicate_check,
        )?,
    };
    apply(
        tx,
        &user,
        &method,
        &registration.input,
        account,
        role_ids,
        TerminalStatus::AwaitingApproval,
    )
}

/// Rejects a waiting registration; the reason reaches the user through `/me`. A user an
/// admin disabled meanwhile stays disabled.
pub fn reject(tx: &mut Tx<'_>, id: &str, reason: &str) -> DomainResult<()> {
    let reason = baoxiu_accounts::fields::text("reason", reason, 500)
        .map_err(|e| DomainError::Validation(vec![e]))?;
    tx.lock_tenant()?;
    let registration = decide(tx, id, REJECT, Some(&reason))?;
    terminal_users::set_registration(
        tx.conn,
        &tx.actor.tenant_id,
        &registration.user_id,
        &[TerminalStatus::AwaitingApproval],
        None,
        TerminalStatus::Rejected,
        tx.now,
    )?;
    tx.audit(Change::<(), _> {
        action: "registration.reject",
        object_type: "registration",
        object_id: id,
        before: None,
        after: Some(&reason),
    })?;
    Ok(())
}
