//! Registration of terminal users: the form and its completion (terminal side), and the
//! policy, methods, invitation codes and approvals (admin side).

pub mod admin;
pub mod terminal;
