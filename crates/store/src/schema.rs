//! The hand-kept diesel schema, in the types both backends share.

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        display_name -> Text,
        introduction -> Text,
        contact_person -> Text,
        phone -> Text,
        address -> Text,
        about -> Text,
        logo_url -> Nullable<Text>,
        trial_ends_at -> Timestamp,
        paid_until -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tenant_settings (tenant_id) {
        tenant_id -> Text,
        ratings_enabled -> Bool,
        rating_levels -> Text,
        rating_reason_threshold -> Integer,
        repair_without_serial -> Bool,
        number_prefix -> Text,
        auto_close_days -> Integer,
        version -> Integer,
        updated_at -> Timestamp,
        service_targets -> Text,
    }
}

diesel::table! {
    staff_users (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        mobile -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Nullable<Text>,
        disabled -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        family_id -> Text,
        token_hash -> Text,
        principal_kind -> Text,
        subject_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        wechat_app_id -> Nullable<Text>,
        wechat_openid -> Nullable<Text>,
        session_started_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sms_codes (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        mobile -> Text,
        purpose -> Text,
        code_hash -> Text,
        client_ip -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_failures (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        mobile -> Text,
        failed_at -> Timestamp,
        client_ip -> Text,
    }
}

diesel::table! {
    tenant_domains (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        host -> Text,
        kind -> Text,
        status -> Text,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        verification_token -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        actor_kind -> Text,
        actor_id -> Text,
        action -> Text,
        object_type -> Text,
        object_id -> Text,
        before_json -> Nullable<Text>,
        after_json -> Nullable<Text>,
        request_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    accounts (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        exact_key -> Text,
        fuzzy_key -> Text,
        record_type -> Text,
        fields_json -> Text,
        owner_staff_id -> Nullable<Text>,
        source -> Text,
        activated -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contacts (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        account_id -> Text,
        name -> Text,
        mobile -> Nullable<Text>,
        record_type -> Text,
        fields_json -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    terminal_roles (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        key -> Text,
        name -> Text,
        permissions_json -> Text,
        built_in -> Bool,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    terminal_users (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        kind -> Text,
        account_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        mobile -> Nullable<Text>,
        status -> Text,
        method_id -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        enterprise_id -> Nullable<Text>,
    }
}

diesel::table! {
    external_enterprises (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        account_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    terminal_user_roles (tenant_id, user_id, role_id) {
        tenant_id -> Text,
        user_id -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    wechat_identities (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_id -> Text,
        app_id -> Text,
        openid -> Text,
        unionid -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    registration_policies (tenant_id) {
        tenant_id -> Text,
        guest_enabled -> Bool,
        guest_account_id -> Nullable<Text>,
        guest_contact_id -> Nullable<Text>,
        require_account_on_work_orders -> Bool,
        invitation_required -> Bool,
        seats -> Integer,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    registration_methods (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        enabled -> Bool,
        settings_json -> Text,
        owner_cursor -> Integer,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    registration_method_roles (tenant_id, method_id, role_id) {
        tenant_id -> Text,
        method_id -> Text,
        role_id -> Text,
        position -> Integer,
    }
}

diesel::table! {
    registration_method_owners (tenant_id, method_id, staff_id) {
        tenant_id -> Text,
        method_id -> Text,
        staff_id -> Text,
        position -> Integer,
    }
}

diesel::table! {
    registrations (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_id -> Text,
        method_id -> Text,
        payload_json -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        created_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        claimed_account_id -> Nullable<Text>,
        claim_kind -> Nullable<Text>,
        approval_reason -> Text,
    }
}

diesel::table! {
    registration_attempts (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    invitation_codes (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        code -> Text,
        max_uses -> Integer,
        uses -> Integer,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        account_id -> Nullable<Text>,
    }
}

diesel::table! {
    wechat_apps (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        app_id -> Text,
        kind -> Text,
        name -> Text,
        secret_sealed -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    devices (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        account_id -> Nullable<Text>,
        name -> Text,
        brand -> Text,
        category -> Text,
        model -> Text,
        machine_no -> Nullable<Text>,
        machine_key -> Nullable<Text>,
        serial_no -> Nullable<Text>,
        serial_key -> Nullable<Text>,
        install_address -> Text,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        warranty_status -> Text,
        warranty_ends_on -> Nullable<Date>,
        status -> Text,
        visibility -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    qr_settings (tenant_id) {
        tenant_id -> Text,
        enabled -> Bool,
        rule_json -> Text,
        url_template -> Text,
        landing_url_template -> Text,
        style_json -> Text,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    qr_codes (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        code -> Text,
        device_id -> Nullable<Text>,
        created_at -> Timestamp,
        bound_at -> Nullable<Timestamp>,
        bound_by -> Nullable<Text>,
    }
}

diesel::table! {
    jobs (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        kind -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        run_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    job_schedules (tenant_id, name) {
        tenant_id -> Text,
        name -> Text,
        next_run_at -> Timestamp,
    }
}

diesel::table! {
    /// Global lookup: which tenant a WeChat app id is bound to (a login names no tenant).
    wechat_app_ids (app_id) {
        app_id -> Text,
        tenant_id -> Text,
        wechat_app_id -> Text,
    }
}

diesel::table! {
    counters (tenant_id, name) {
        tenant_id -> Text,
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    /// Global lookup: which tenant holds a host (pending or approved; a request names no
    /// tenant).
    tenant_hosts (host) {
        host -> Text,
        tenant_id -> Text,
        domain_id -> Text,
    }
}

diesel::table! {
    idempotency_keys (tenant_id, principal_id, idempotency_key) {
        tenant_id -> Text,
        principal_id -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        status -> Nullable<Integer>,
        response_headers -> Nullable<Text>,
        response_body -> Nullable<Binary>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    form_templates (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        preset -> Nullable<Text>,
        is_default -> Bool,
        fields -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Photos for work orders; `work_order_id` and `claimed_at` are set when an order
    /// claims one.
    attachments (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        uploaded_by_kind -> Text,
        uploaded_by -> Text,
        content_type -> Text,
        size -> BigInt,
        width -> Integer,
        height -> Integer,
        blob_key -> Text,
        thumb_blob_key -> Text,
        thumb_width -> Integer,
        thumb_height -> Integer,
        sha256 -> Text,
        work_order_id -> Nullable<Text>,
        created_at -> Timestamp,
        claimed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox_events (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        kind -> Text,
        subject_type -> Text,
        subject_id -> Text,
        payload -> Text,
        actor_kind -> Text,
        actor_id -> Text,
        request_id -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        attempts -> Integer,
    }
}

diesel::table! {
    work_orders (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        number -> Text,
        tracking_hash -> Text,
        status -> Text,
        channel -> Text,
        service_type -> Text,
        device_id -> Nullable<Text>,
        brand -> Text,
        category -> Text,
        model -> Text,
        machine_no -> Nullable<Text>,
        serial_no -> Nullable<Text>,
        serial_key -> Nullable<Text>,
        fault_description -> Text,
        warranty_status -> Nullable<Text>,
        appointment_at -> Nullable<Timestamp>,
        notes -> Text,
        contact_name -> Text,
        contact_phone -> Text,
        address -> Text,
        latitude -> Nullable<Double>,
        longitude -> Nullable<Double>,
        custom_fields -> Text,
        account_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        enterprise_id -> Nullable<Text>,
        terminal_user_id -> Nullable<Text>,
        created_by_kind -> Text,
        created_by_id -> Text,
        engineer_id -> Nullable<Text>,
        response_due_at -> Nullable<Timestamp>,
        resolution_due_at -> Nullable<Timestamp>,
        accepted_at -> Nullable<Timestamp>,
        completed_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        reject_reason -> Nullable<Text>,
        check_in_at -> Nullable<Timestamp>,
        check_in_latitude -> Nullable<Double>,
        check_in_longitude -> Nullable<Double>,
        check_out_at -> Nullable<Timestamp>,
        check_out_latitude -> Nullable<Double>,
        check_out_longitude -> Nullable<Double>,
        rating_stars -> Nullable<Integer>,
        rating_tags -> Nullable<Text>,
        rating_comment -> Nullable<Text>,
        rated_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    work_order_events (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        work_order_id -> Text,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        note -> Nullable<Text>,
        actor_kind -> Text,
        actor_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(tenant_settings -> tenants (tenant_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    tenant_settings,
    staff_users,
    refresh_tokens,
    sms_codes,
    password_failures,
    tenant_domains,
    audit_log,
    accounts,
    contacts,
    terminal_roles,
    terminal_users,
    external_enterprises,
    terminal_user_roles,
    wechat_identities,
    registration_policies,
    registration_methods,
    registration_method_roles,
    registration_method_owners,
    registrations,
    registration_attempts,
    invitation_codes,
    wechat_apps,
    devices,
    qr_settings,
    qr_codes,
    jobs,
    job_schedules,
    wechat_app_ids,
    tenant_hosts,
    counters,
    idempotency_keys,
    outbox_events,
    work_orders,
    work_order_events,
    form_templates,
    attachments,
);
