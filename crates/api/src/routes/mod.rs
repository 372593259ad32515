//! Every route, listed once: the app and the OpenAPI document both come from here.

pub mod audit;
pub mod auth;
pub mod customers;
pub mod dev;
pub mod devices;
pub mod domains;
pub mod health;
pub mod jobs;
pub mod me;
pub mod profile;
pub mod providers;
pub mod qr;
pub mod registration;
pub mod registration_admin;
pub mod roles;
pub mod staff;
pub mod terminal_auth;
pub mod terminal_users;
pub mod wechat_apps;
pub mod work_orders;

use utoipa_actix_web::service_config::ServiceConfig;

/// The routes under `/api/v1`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(providers::send_provider_sms_code)
        .service(providers::create_provider)
        .service(providers::get_provider)
        .service(auth::send_staff_sms_code)
        .service(auth::login_staff)
        .service(auth::refresh_tokens)
        .service(auth::logout_session)
        .service(me::get_me)
        .service(profile::get_profile)
        .service(profile::update_profile)
        .service(profile::get_settings)
        .service(profile::update_settings)
        .service(staff::list_staff)
        .service(staff::create_staff)
        .service(staff::get_staff)
        .service(staff::update_staff)
        .service(staff::delete_staff)
        .service(audit::list_audit_log)
        .service(jobs::list_jobs)
        .service(domains::list_domains)
        .service(domains::create_domain)
        .service(domains::approve_domain)
        .service(domains::reject_domain)
        .service(registration_admin::set_tenant_seats)
        .service(terminal_auth::login_wechat_mini_program)
        .service(terminal_auth::login_wechat_official_account)
        .service(terminal_auth::send_terminal_sms_code)
        .service(terminal_auth::login_terminal_sms)
        .service(terminal_auth::login_guest)
        .service(registration::get_registration_form)
        .service(registration::complete_registration)
        .service(customers::list_accounts)
        .service(customers::create_account)
        .service(customers::get_account)
        .service(customers::update_account)
        .service(customers::list_contacts)
        .service(customers::create_contact)
        .service(customers::update_contact)
        .service(roles::list_roles)
        .service(roles::create_role)
        .service(roles::update_role)
        .service(roles::delete_role)
        .service(registration_admin::get_registration_policy)
        .service(registration_admin::put_registration_policy)
        .service(registration_admin::list_registration_methods)
        .service(registration_admin::create_registration_method)
        .service(registration_admin::get_registration_method)
        .service(registration_admin::update_registration_method)
        .service(registration_admin::delete_registration_method)
        .service(registration_admin::list_invitation_codes)
        .service(registration_admin::create_invitation_code)
        .service(registration_admin::list_registrations)
        .service(registration_admin::approve_registration)
        .service(registration_admin::reject_registration)
        .service(terminal_users::list_terminal_users)
        .service(terminal_users::activate_terminal_users)
        .service(terminal_users::update_terminal_user)
        .service(wechat_apps::list_wechat_apps)
        .service(wechat_apps::bind_wechat_app)
        .service(wechat_apps::unbind_wechat_app)
        .service(devices::list_admin_devices)
        .service(devices::create_device)
        // Before /admin/devices/{id}, which the paths would otherwise match.
        .service(devices::import_devices)
        .service(devices::export_devices)
        .service(devices::get_admin_device)
        .service(devices::update_device)
        .service(devices::delete_device)
        .service(devices::list_devices)
        .service(devices::lookup_devices)
        .service(devices::get_device)
        .service(qr::get_qr_settings)
        .service(qr::put_qr_settings)
        .service(qr::list_qr_codes)
        .service(qr::generate_qr_codes)
        .service(qr::get_qr_code_image)
        .service(qr::export_qr_codes)
        .service(qr::scan_qr_code)
        .service(qr::bind_qr_code)
        .service(work_orders::terminal::submit_work_order)
        .service(work_orders::terminal::list_work_orders)
        .service(work_orders::terminal::get_work_order)
        .service(work_orders::terminal::cancel_work_order)
        .service(work_orders::terminal::confirm_work_order)
        .service(work_orders::terminal::rate_work_order)
        .service(work_orders::tracking::get_tracked_work_order)
        .service(work_orders::tracking::rate_tracked_work_order)
        .service(work_orders::admin::list_admin_work_orders)
        .service(work_orders::admin::create_work_order)
        .service(work_orders::admin::get_admin_work_order)
        .service(work_orders::admin::transition_work_order)
        .service(work_orders::engineer::list_engineer_work_orders)
        .service(work_orders::engineer::check_in_work_order)
        .service(work_orders::engineer::check_out_work_order);
}

/// The routes at the root.
pub fn root(cfg: &mut ServiceConfig) {
    cfg.service(health::get_liveness)
        .service(health::get_readiness)
        .service(qr::open_qr_code);
}
