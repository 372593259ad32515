//! The tenant itself: sign-up of a service provider, its public profile, and the admin's
//! profile and settings.

pub mod profile;
pub mod providers;
