//! Tenants: sign-up (15-day trial, name fixed for good), the public profile, the settings,
//! and whether a tenant may still change anything.

use baoxiu_core::{
    Actor, ActorKind, DomainError, DomainResult, FieldError, TenantId, Validator, new_id,
};
use baoxiu_store::Change;
use baoxiu_store::schema::tenants;
use baoxiu_store::{DbConn, is_unique_violation};
use baoxiu_store::{Tx, Versioned};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::fields;
use crate::staff::{self, NewStaff, StaffRole, StaffUser};

pub const TRIAL: Duration = Duration::days(15);

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub display_name: String,
    pub introduction: String,
    pub contact_person: String,
    pub phone: String,
    pub address: String,
    pub about: String,
    pub logo_url: Option<String>,
    pub trial_ends_at: NaiveDateTime,
    pub paid_until: Option<NaiveDateTime>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Tenant {
    /// Active while the trial or a paid period lasts; an inactive tenant is read-only.
    pub fn is_active(&self, now: NaiveDateTime) -> bool {
        now < self.trial_ends_at || self.paid_until.is_some_and(|until| now < until)
    }

    pub fn tenant_id(&self) -> TenantId {
        TenantId(self.id.clone())
    }
}

/// What a provider gives to sign up (the SMS code is checked by the caller before).
#[derive(Debug, Clone)]
pub struct SignUp {
    pub mobile: String,
    pub provider_name: String,
    pub password: String,
    pub slug: String,
    pub admin_name: Option<String>,
}

/// A sign-up whose fields are all valid.
#[derive(Debug, Clone)]
pub struct ValidSignUp {
    mobile: String,
    provider_name: String,
    password: String,
    slug: String,
    admin_name: String,
}

impl ValidSignUp {
    pub fn mobile(&self) -> &str {
        &self.mobile
    }
}

/// Checks every field of a sign-up, including whether the slug is free.
pub fn validate_sign_up(conn: &mut DbConn, input: &SignUp) -> DomainResult<ValidSignUp> {
    let mut errors = Validator::new();
    let mobile = fields::normalise_mobile("mobile", &input.mobile)
        .map_err(|e| errors.push(e))
        .ok();
    let provider_name = fields::text("provider_name", &input.provider_name, 64)
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(e) = fields::check_password("password", &input.password) {
        errors.push(e);
    }
    let slug = input.slug.trim().to_owned();
    match fields::check_slug("slug", &slug) {
        Err(e) => errors.push(e),
        Ok(()) => {
            if find_by_slug(conn, &slug)?.is_some()
                || crate::domains::subdomain_label_requested(conn, &slug)?
            {
                errors.push(FieldError::new("slug", "taken", "is already in use"));
            }
        }
    }
    let admin_name = match &input.admin_name {
        Some(name) => fields::text("admin_name", name, 64)
            .map_err(|e| errors.push(e))
            .ok(),
        None => Some("Admin".to_owned()),
    };
    errors.finish()?;
    match (mobile, provider_name, admin_name) {
        (Some(mobile), Some(provider_name), Some(admin_name)) => Ok(ValidSignUp {
            mobile,
            provider_name,
            password: input.password.clone(),
            slug,
            admin_name,
        }),
        _ => Err(DomainError::Internal(
            "validation left a field unset".into(),
        )),
    }
}

/// Creates the tenant, its default settings and its first admin.
pub fn sign_up(
    conn: &mut DbConn,
    input: ValidSignUp,
    now: NaiveDateTime,
) -> DomainResult<(Tenant, StaffUser)> {
    let tenant_id = new_id();
    let inserted = diesel::insert_into(tenants::table)
        .values((
            tenants::id.eq(&tenant_id),
            tenants::slug.eq(&input.slug),
            tenants::name.eq(&input.provider_name),
            tenants::display_name.eq(&input.provider_name),
            tenants::trial_ends_at.eq(now + TRIAL),
            tenants::version.eq(1),
            tenants::created_at.eq(now),
            tenants::updated_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(DomainError::invalid("slug", "taken", "is already in use"));
        }
        other => other?,
    };
    let tenant_id = TenantId(tenant_id);
    crate::roles::seed_built_in(conn, &tenant_id, now)?;
    let system = Actor {
        tenant_id: tenant_id.clone(),
        kind: ActorKind::System,
        id: "sign-up".into(),
        request_id: None,
    };
    let mut tx = Tx::new(conn, system, now);
    let admin = staff::create(
        &mut tx,
        NewStaff {
            mobile: input.mobile,
            name: input.admin_name,
            role: StaffRole::Admin,
            password: Some(input.password),
        },
    )?;
    let tenant = get(tx.conn, &tenant_id)?;
    tx.audit(Change::created(
        "tenant.create",
        "tenant",
        tenant_id.as_str(),
        &tenant,
    ))?;
    Ok((tenant, admin))
}

pub fn get(conn: &mut DbConn, tenant_id: &TenantId) -> DomainResult<Tenant> {
    tenants::table
        .filter(tenants::id.eq(tenant_id.as_str()))
        .select(Tenant::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("tenant"))
}

pub fn find_by_slug(conn: &mut DbConn, slug: &str) -> DomainResult<Option<Tenant>> {
    Ok(tenants::table
        .filter(tenants::slug.eq(slug))
        .select(Tenant::as_select())
        .first(conn)
        .optional()?)
}

/// Fails with `tenant-inactive` when the tenant may no longer change anything.
pub fn require_active(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    now: NaiveDateTime,
) -> DomainResult<Tenant> {
    let tenant = get(conn, tenant_id)?;
    if tenant.is_active(now) {
        Ok(tenant)
    } else {
        Err(DomainError::TenantInactive)
    }
}

/// Changes to the public profile; `None` leaves a field as it is. The name is not here:
/// it is fixed at sign-up.
#[derive(Debug, Default, Clone)]
pub struct ProfileChanges {
    pub display_name: Option<String>,
    pub introduction: Option<String>,
    pub contact_person: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub about: Option<String>,
    /// `Some(None)` clears the logo.
    pub logo_url: Option<Option<String>>,
}

pub fn update_profile(
    tx: &mut Tx<'_>,
    changes: ProfileChanges,
    expected_version: Option<i32>,
) -> DomainResult<Tenant> {
    let tenant_id = tx.actor.tenant_id.clone();
    tx.update_versioned(
        Versioned {
            action: "profile.update",
            object_type: "tenant",
            object_id: tenant_id.as_str(),
            expected: expected_version,
        },
        get,
        |before| before.version,
        |tx, before| write_profile(tx, before, changes),
    )
}

/// Writes the profile's changes where the version read still holds (the rows it changed).
fn write_profile(tx: &mut Tx<'_>, before: &Tenant, changes: ProfileChanges) -> DomainResult<usize> {
    let mut errors = Validator::new();
    let mut field =
        |name: &str, value: &Option<String>, max: usize, required: bool| -> Option<String> {
            let value = value.as_ref()?;
            let checked = if required {
                fields::text(name, value, max)
            } else {
                fields::optional_text(name, value, max)
            };
            checked.map_err(|e| errors.push(e)).ok()
        };
    let display_name = field("display_name", &changes.display_name, 64, true);
    let introduction = field("introduction", &changes.introduction, 500, false);
    let contact_person = field("contact_person", &changes.contact_person, 64, false);
    let phone = field("phone", &changes.phone, 32, false);
    let address = field("address", &changes.address, 200, false);
    let about = field("about", &changes.about, 5000, false);
    if let Some(Some(url)) = &changes.logo_url {
        let ok = (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 500;
        errors.check(
            ok,
            "logo_url",
            "invalid",
            "must be an http(s) URL of at most 500 characters",
        );
    }
    errors.finish()?;
    let after = Tenant {
        display_name: display_name.unwrap_or(before.display_name.clone()),
        introduction: introduction.unwrap_or(before.introduction.clone()),
        contact_person: contact_person.unwrap_or(before.contact_person.clone()),
        phone: phone.unwrap_or(before.phone.clone()),
        address: address.unwrap_or(before.address.clone()),
        about: about.unwrap_or(before.about.clone()),
        logo_url: changes.logo_url.clone().unwrap_or(before.logo_url.clone()),
        version: before.version + 1,
        updated_at: tx.now,
        ..before.clone()
    };
    let updated = diesel::update(
        tenants::table
            .filter(tenants::id.eq(tx.actor.tenant_id.as_str()))
            .filter(tenants::version.eq(before.version)),
    )
    .set((
        tenants::display_name.eq(&after.display_name),
        tenants::introduction.eq(&after.introduction),
        tenants::contact_person.eq(&after.contact_person),
        tenants::phone.eq(&after.phone),
        tenants::address.eq(&after.address),
        tenants::about.eq(&after.about),
        tenants::logo_url.eq(&after.logo_url),
        tenants::version.eq(after.version),
        tenants::updated_at.eq(tx.now),
    ))
    .execute(tx.conn)?;
    Ok(updated)
}
