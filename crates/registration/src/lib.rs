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

pub use baoxiu_core::Channel;
