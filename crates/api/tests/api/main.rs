//! End-to-end tests of the HTTP API: the real app on a loopback port, real JSON, a fresh
//! SQLite file or PostgreSQL database per test; every behaviour test runs on both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod attachments;
mod audit;
mod boundary;
mod budgets;
mod cors;
mod deadlocks;
mod demo;
mod device_files;
mod devices;
mod domains;
mod errors;
mod form_templates;
mod guest_upgrade;
mod idempotency;
mod isolation;
mod jobs;
mod licence_and_sessions;
mod login_limits;
mod matrix;
mod openapi;
mod pagination;
mod providers;
mod qr;
mod races;
mod registration_proof;
mod relations;
mod sms;
mod sms_gateway;
mod staff;
mod terminal;
mod wechat_fake;
mod work_orders;
mod work_orders_export;
