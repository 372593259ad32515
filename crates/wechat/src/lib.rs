//! Outside services: SMS, WeChat and the business registry, each behind a small trait
//! with a real HTTP client whose base URL is configurable, plus a built-in fake for
//! development mode. Nothing here knows about tenants' data.

pub mod hosts;
pub mod registry;
pub mod sms;
pub mod wechat;
