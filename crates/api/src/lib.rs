//! The HTTP API of Baoxiu: actix-web routes that map requests to the domain crates, the
//! problem+json error mapping, the tenant guard, configuration and the OpenAPI document.

pub mod app;
pub mod config;
pub mod cors;
pub mod csv_export;
pub mod demo;
pub mod extract;
pub mod hashing;
pub mod idempotency;
pub mod jobs;
pub mod json;
pub mod known_routes;
pub mod limits;
pub mod openapi;
pub mod problem;
pub mod proxies;
pub mod query;
pub mod renders;
pub mod request;
pub mod routes;
pub mod sms_codes;
pub mod state;
pub mod text;
pub mod tokens;
pub mod upload;

pub use app::{Application, StartError, build_state};
pub use config::Config;
