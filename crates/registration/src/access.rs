//! What a terminal user may do now: the one decision every terminal route asks, made by
//! `decide` on what the principal (`crate::principal`) has loaded.

use baoxiu_accounts::roles::Permission;
use baoxiu_accounts::terminal_users::{TerminalStatus, TerminalUser};
use baoxiu_core::{DomainError, DomainResult};
use serde::Serialize;

use crate::methods::{Method, Mode};
use crate::policy::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationState {
    /// The shared guest identity.
    Guest,
    /// Linked to an account and a contact.
    Registered,
    /// Known but not registered.
    Unregistered,
    AwaitingApproval,
    /// The last registration was rejected; registering again is possible.
    Rejected,
}

/// Which data the caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataScope {
    /// Nothing: every data endpoint answers `registration-required`.
    None,
    /// Public data only (public devices, public articles), as a guest.
    PublicOnly,
    /// The caller's own data.
    Own,
    /// The data of the caller's whole external enterprise (its account's users).
    Enterprise,
}

#[derive(Debug, Clone, Serialize)]
pub struct Access {
    pub state: RegistrationState,
    pub data_scope: DataScope,
    /// Whether the caller may submit a work order now...
    pub may_submit: bool,
    /// ...and if not, the problem type a submission answers.
    pub submit_denied: Option<&'static str>,
    /// Whether the caller may (and should) fill the registration form.
    pub may_register: bool,
    pub permissions: Vec<Permission>,
}

impl Access {
    /// Fails with `registration-required` when the caller may see no data at all.
    pub fn require_data(&self) -> DomainResult<DataScope> {
        match self.data_scope {
            DataScope::None => Err(DomainError::RegistrationRequired(
                "complete registration first (POST /me/registration)",
            )),
            scope => Ok(scope),
        }
    }

    /// Fails with the reason a submission is refused.
    pub fn require_submit(&self) -> DomainResult<()> {
        match self.submit_denied {
            None => Ok(()),
            Some("registration-required") => Err(DomainError::RegistrationRequired(
                "complete registration before submitting",
            )),
            Some(_) => Err(DomainError::Forbidden(
                "your roles do not allow submitting work orders",
            )),
        }
    }
}

fn own_scope(permissions: &[Permission]) -> DataScope {
    if permissions.contains(&Permission::ViewEnterpriseWorkOrders) {
        DataScope::Enterprise
    } else {
        DataScope::Own
    }
}

fn sorted(mut permissions: Vec<Permission>) -> Vec<Permission> {
    permissions.sort();
    permissions.dedup();
    permissions
}

/// What `user` may do now under `policy`: the guest role's permissions are what a caller
/// acting as the guest gets; `method` is the user's registration method (none, or one
/// that can no longer be read, counts as requiring registration).
pub fn decide(
    user: &TerminalUser,
    policy: &Policy,
    guest_permissions: &[Permission],
    method: Option<&Method>,
) -> Access {
    let own_permissions = sorted(
        user.roles
            .iter()
            .flat_map(|r| r.permissions.clone())
            .collect(),
    );
    let guest_permissions = sorted(guest_permissions.to_vec());
    let submit = |permissions: &[Permission], registered_enough: bool| {
        if !registered_enough {
            Some("registration-required")
        } else if permissions.contains(&Permission::SubmitWorkOrder) {
            None
        } else {
            Some("forbidden")
        }
    };
    if user.is_guest {
        let permissions = own_permissions;
        return Access {
            state: RegistrationState::Guest,
            data_scope: DataScope::PublicOnly,
            submit_denied: submit(&permissions, true),
            may_submit: permissions.contains(&Permission::SubmitWorkOrder),
            may_register: false,
            permissions,
        };
    }
    let state = match user.status {
        TerminalStatus::AwaitingApproval => RegistrationState::AwaitingApproval,
        TerminalStatus::Rejected => RegistrationState::Rejected,
        _ if user.is_registered() => RegistrationState::Registered,
        _ => RegistrationState::Unregistered,
    };
    let access = match state {
        RegistrationState::Registered => Access {
            state,
            data_scope: own_scope(&own_permissions),
            submit_denied: submit(&own_permissions, true),
            may_submit: false,
            may_register: false,
            permissions: own_permissions,
        },
        // Waiting or rejected: nothing a guest could not do (nothing at all with guests
        // off, as for any unregistered user of scenario 3), and no submitting.
        RegistrationState::AwaitingApproval | RegistrationState::Rejected => Access {
            state,
            data_scope: if policy.guest_enabled {
                DataScope::PublicOnly
            } else {
                DataScope::None
            },
            submit_denied: Some("registration-required"),
            may_submit: false,
            may_register: state == RegistrationState::Rejected,
            permissions: if policy.guest_enabled {
                guest_permissions
                    .iter()
                    .copied()
                    .filter(|p| *p != Permission::SubmitWorkOrder)
                    .collect()
            } else {
                Vec::new()
            },
        },
        _ => {
            let mode = method
                .map(|m| m.effective_mode(policy))
                .unwrap_or(Mode::RequireRegistration);
            match mode {
                // Scenarios 1 and 2: the user is in; submitting may need registration.
                Mode::OpenidAuto => Access {
                    state,
                    data_scope: own_scope(&own_permissions),
                    submit_denied: submit(&own_permissions, !policy.require_account_on_work_orders),
                    may_submit: false,
                    may_register: true,
                    permissions: own_permissions,
                },
                // Scenario 4: act as the guest until registered.
                Mode::RequireRegistration if policy.guest_enabled => {
                    let permissions = guest_permissions.clone();
                    Access {
                        state,
                        data_scope: DataScope::PublicOnly,
                        submit_denied: submit(&permissions, true),
                        may_submit: false,
                        may_register: true,
                        permissions,
                    }
                }
                // Scenario 3: nothing before registering.
                Mode::RequireRegistration => Access {
                    state,
                    data_scope: DataScope::None,
                    submit_denied: Some("registration-required"),
                    may_submit: false,
                    may_register: true,
                    permissions: Vec::new(),
                },
            }
        }
    };
    Access {
        may_submit: access.submit_denied.is_none(),
        ..access
    }
}
