//! Signing in and out: staff logins, terminal logins (WeChat, SMS, guest), refresh and logout.

pub mod staff;
pub mod terminal;
