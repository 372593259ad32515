//! Every route, listed once: the app and the OpenAPI document both come from here.
//!
//! One directory per area, named by what a reader looks for; an area's request and response
//! types sit beside its handlers. Types that several areas answer with (pages, token pairs,
//! the terminal user's view, …) live in [`shared`]. An area may name another area's public
//! DTOs, never its handlers or helpers.

pub mod attachments;
pub mod audit;
pub mod auth;
pub mod customers;
pub mod dev;
pub mod devices;
pub mod domains;
pub mod form_templates;
pub mod forms;
pub mod health;
pub mod jobs;
pub mod me;
pub mod qr;
pub mod registration;
pub mod roles;
pub mod shared;
pub mod staff;
pub mod tenant;
pub mod terminal_users;
pub mod wechat_apps;
pub mod work_orders;

use utoipa_actix_web::service_config::ServiceConfig;

/// The routes under `/api/v1`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    // The router tries each route in turn until one matches, dynamic paths by regular
    // expression: the busiest routes come first. Only where two paths can both match does
    // the order decide (`/devices/lookup` before `/devices/{id}`), and that order is kept.
    cfg.service(me::get_me)
        .service(devices::list_devices)
        .service(devices::lookup_devices)
        .service(devices::get_device)
        .service(qr::scan_qr_code)
        .service(work_orders::terminal::list_work_orders)
        .service(work_orders::terminal::get_work_order)
        .service(tenant::profile::get_profile)
        .service(devices::list_admin_devices)
        .service(devices::create_device)
        .service(tenant::providers::send_provider_sms_code)
        .service(tenant::providers::create_provider)
        .service(tenant::providers::get_provider)
        .service(auth::staff::send_staff_sms_code)
        .service(auth::staff::login_staff)
        .service(auth::staff::refresh_tokens)
        .service(auth::staff::logout_session)
        .service(tenant::profile::update_profile)
        .service(tenant::profile::get_settings)
        .service(tenant::profile::update_settings)
        .service(form_templates::list_form_templates)
        .service(form_templates::create_form_template)
        .service(form_templates::update_form_template)
        .service(forms::get_work_order_form)
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
        .service(registration::admin::set_tenant_seats)
        .service(auth::terminal::login_wechat_mini_program)
        .service(auth::terminal::login_wechat_official_account)
        .service(auth::terminal::send_terminal_sms_code)
        .service(auth::terminal::login_terminal_sms)
        .service(auth::terminal::login_guest)
        .service(registration::terminal::get_registration_form)
        .service(registration::terminal::complete_registration)
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
        .service(registration::admin::get_registration_policy)
        .service(registration::admin::put_registration_policy)
        .service(registration::admin::list_registration_methods)
        .service(registration::admin::create_registration_method)
        .service(registration::admin::get_registration_method)
        .service(registration::admin::update_registration_method)
        .service(registration::admin::delete_registration_method)
        .service(registration::admin::list_invitation_codes)
        .service(registration::admin::create_invitation_code)
        .service(registration::admin::list_registrations)
        .service(registration::admin::approve_registration)
        .service(registration::admin::reject_registration)
        .service(terminal_users::list_terminal_users)
        .service(terminal_users::activate_terminal_users)
        .service(terminal_users::update_terminal_user)
        .service(wechat_apps::list_wechat_apps)
        .service(wechat_apps::bind_wechat_app)
        .service(wechat_apps::unbind_wechat_app)
        // Before /admin/devices/{id}, which the paths would otherwise match.
        .service(devices::import_devices)
        .service(devices::export_devices)
        .service(devices::get_admin_device)
        .service(devices::update_device)
        .service(devices::delete_device)
        .service(qr::get_qr_settings)
        .service(qr::put_qr_settings)
        .service(qr::list_qr_codes)
        .service(qr::generate_qr_codes)
        .service(qr::get_qr_code_image)
        .service(qr::export_qr_codes)
        .service(qr::bind_qr_code)
        .service(attachments::upload_attachment)
        .service(attachments::get_attachment)
        .service(work_orders::terminal::submit_work_order)
        .service(work_orders::terminal::cancel_work_order)
        .service(work_orders::terminal::confirm_work_order)
        .service(work_orders::terminal::rate_work_order)
        .service(work_orders::tracking::get_tracked_work_order)
        .service(work_orders::tracking::rate_tracked_work_order)
        .service(work_orders::admin::list_admin_work_orders)
        .service(work_orders::admin::create_work_order)
        // Before /admin/work-orders/{id}, which the path would otherwise match.
        .service(work_orders::admin::export_work_orders)
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
