//! Who uses Baoxiu: tenants (providers) with their profile, settings and portal domains,
//! their staff, and the sessions and SMS codes through which people log in.

pub mod company_names;
pub mod customers;
pub mod domains;
pub mod enterprises;
pub mod fields;
pub mod passwords;
pub mod retention;
pub mod roles;
pub mod sessions;
pub mod sms;
pub mod staff;
pub mod tenants;
pub mod terminal_users;
pub mod wechat_apps;
