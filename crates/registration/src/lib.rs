//! Who may get in, and as what: a tenant's registration policy, its self-registration
//! methods and invitation codes, and the decisions that drive the five scenarios of
//! seed 001 — what a login creates, what registration matches or creates, what manual
//! activation and approval do, what a terminal user may do now (`access`), and who a caller is (`principal`).

pub mod access;
pub mod flows;
pub mod invitations;
pub mod methods;
pub mod policy;
pub mod principal;

use serde::{Deserialize, Serialize};

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    MiniProgram,
    OfficialAccount,
    H5,
    Web,
    Api,
}
