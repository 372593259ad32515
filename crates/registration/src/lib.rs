//! Who may get in, and as what: a tenant's registration policy, its self-registration
//! methods and invitation codes, and the decisions that drive the five scenarios of
//! seed 001 — what a login creates, what registration matches or creates, what manual
//! activation and approval do, and what a terminal user may do now (`access`).

pub mod access;
pub mod flows;
pub mod invitations;
pub mod methods;
pub mod policy;

pub use baoxiu_core::Channel;
