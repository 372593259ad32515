//! The OpenAPI document: paths and schemas collected from the route list, then the parts
//! every operation shares (security, the common error answers) added in one place.

use actix_web::App;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Response, ResponseBuilder};
use utoipa_actix_web::{AppExt, scope};

use crate::problem::{PROBLEM_JSON, Problem};
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Baoxiu API",
        description = "After-sales self-service portal backend. All paths but health, metrics, docs and /q/{code} are under /api/v1. \
Errors are application/problem+json (RFC 9457) with a stable `type` slug. Lists take `limit` (1-100, default 20) and \
`cursor` and answer `{items, next_cursor}`. Callers without a token name their tenant with the `X-Tenant` header \
(the tenant's slug) or through an approved portal host; with a token, the token's tenant applies.",
    ),
    servers((url = "/", description = "The server that serves this document: every path below is absolute (`/api/v1/...`, `/healthz/...`, `/q/{code}`)")),
    components(schemas(Problem, baoxiu_core::FieldError)),
    tags(
        (name = "health", description = "Probes"),
        (name = "providers", description = "Provider sign-up and public profile"),
        (name = "auth", description = "Logins, token refresh, logout"),
        (name = "me", description = "The caller"),
        (name = "profile", description = "The provider profile"),
        (name = "settings", description = "Tenant settings"),
        (name = "staff", description = "Staff users"),
        (name = "audit", description = "Audit log"),
        (name = "jobs", description = "Background jobs: SMS delivery and the failures an admin should see"),
        (name = "domains", description = "Portal domains"),
        (name = "platform", description = "Platform operators"),
        (name = "terminal-auth", description = "Terminal logins: WeChat, SMS code, guest"),
        (name = "registration", description = "Terminal self-registration"),
        (name = "accounts", description = "Customer accounts and contacts"),
        (name = "roles", description = "Terminal roles"),
        (name = "registration-admin", description = "Registration policy, methods, invitation codes, approvals"),
        (name = "terminal-users", description = "Terminal users and manual activation"),
        (name = "wechat", description = "Bound WeChat apps"),
        (name = "devices", description = "Devices"),
        (name = "work-orders", description = "Work orders: submit, follow, run, rate"),
        (name = "tracking", description = "Tracking links: one order, without logging in"),
        (name = "engineer", description = "The engineer's assigned orders, check-in and check-out"),
        (name = "qr-codes", description = "QR codes: settings, generation, images, scanning, binding"),
        (name = "form-templates", description = "Work-order form templates: the presets, the tenant's own, the default"),
        (name = "attachments", description = "Photos for work orders: upload (stripped of metadata) and download"),
    ),
)]
struct ApiDoc;

/// The document as served at `/api/v1/openapi.json` and written by `baoxiu openapi`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(scope("/api/v1").configure(routes::api_v1))
        .configure(routes::root)
        .split_for_parts();
    finish(api)
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// The operations whose success answers carry the object's version as `ETag` (the
/// authorisation matrix checks this list against what the server sends).
const ANSWERS_ETAG: &[&str] = &[
    "create_account",
    "get_account",
    "update_account",
    "create_contact",
    "update_contact",
    "create_device",
    "get_admin_device",
    "update_device",
    "get_profile",
    "update_profile",
    "get_settings",
    "update_settings",
    "get_qr_settings",
    "put_qr_settings",
    "get_registration_policy",
    "put_registration_policy",
    "create_registration_method",
    "get_registration_method",
    "update_registration_method",
    "create_role",
    "update_role",
    "create_staff",
    "get_staff",
    "update_staff",
    "update_terminal_user",
];

/// Adds what every operation shares. An operation that declared `security(())` is public
/// (`security: []`); every other one needs the bearer token.
pub fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer_auth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    close_tagged_unions(components);
    api.security = Some(vec![SecurityRequirement::new(
        "bearer_auth",
        Vec::<String>::new(),
    )]);

    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let public = operation
                .security
                .as_ref()
                .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
            if public {
                operation.security = Some(Vec::new());
            }
            let takes_input = operation.request_body.is_some()
                || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let has_parameter = |name: &str| {
                operation.parameters.as_ref().is_some_and(|p| {
                    p.iter()
                        .any(|p| matches!(p, utoipa::openapi::RefOr::T(p) if p.name == name))
                })
            };
            let versioned = has_parameter("If-Match");
            let answers_version = operation
                .operation_id
                .as_deref()
                .is_some_and(|id| ANSWERS_ETAG.contains(&id));
            let names_tenant = has_parameter("X-Tenant");
            let responses = &mut operation.responses.responses;
            if answers_version {
                for (status, response) in responses.iter_mut() {
                    if let (true, utoipa::openapi::RefOr::T(response)) =
                        (status.starts_with('2'), response)
                    {
                        response
                            .headers
                            .entry("ETag".to_owned())
                            .or_insert_with(|| {
                                let header = utoipa::openapi::HeaderBuilder::new()
                                    .schema(Some(utoipa::openapi::schema::Object::with_type(
                                        utoipa::openapi::schema::Type::String,
                                    )))
                                    .description(Some(
                                        "The object's version, to send back as `If-Match`",
                                    ))
                                    .build();
                                utoipa::openapi::RefOr::T(header)
                            });
                    }
                }
            }
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description).into());
            };
            if operation.request_body.is_some() {
                add(
                    "400",
                    "Malformed request (not JSON, or not a readable body)",
                );
                add("413", "Body too large");
                add("415", "Body is not application/json");
            }
            if takes_input {
                add("422", "Validation failed: `errors` names every bad field");
            }
            if versioned {
                add(
                    "409",
                    "Changed by another request while this one ran: read it again",
                );
                add(
                    "412",
                    "`If-Match` names a version older than the current one",
                );
            }
            if !public {
                add(
                    "401",
                    "Missing, invalid or expired access token, or ended session",
                );
                add(
                    "403",
                    "This kind of caller may not do this (e.g. a terminal token on /admin)",
                );
            }
            add(
                "500",
                "Internal error (the request id is in the body and the logs)",
            );
            if names_tenant {
                // Besides whatever else the operation answers with these statuses.
                for (status, description) in [
                    (
                        "400",
                        "No tenant named: send `X-Tenant` or call from a portal host (`tenant-required`)",
                    ),
                    ("404", "No tenant has that `X-Tenant` slug or host"),
                ] {
                    match responses.get_mut(status) {
                        Some(utoipa::openapi::RefOr::T(response)) => {
                            response.description =
                                format!("{}; or: {description}", response.description);
                        }
                        Some(_) => {}
                        None => {
                            responses.insert(status.to_owned(), problem(description).into());
                        }
                    }
                }
            }
        }
    }
    drop_unused_schemas(&mut api);
    api
}

/// Removes the schemas nothing refers to: utoipa registers the item types of generic pages
/// (`PageResponse<T>`) although the pages inline them.
fn drop_unused_schemas(api: &mut utoipa::openapi::OpenApi) {
    fn refs(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    if key == "$ref"
                        && let Some(name) = inner
                            .as_str()
                            .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    {
                        found.push(name.to_owned());
                    }
                    refs(inner, found);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| refs(i, found)),
            _ => {}
        }
    }
    let Some(components) = api.components.as_mut() else {
        return;
    };
    let mut pending = Vec::new();
    refs(
        &serde_json::to_value(&api.paths).unwrap_or_default(),
        &mut pending,
    );
    let mut used = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if used.insert(name.clone())
            && let Some(schema) = components.schemas.get(&name)
        {
            refs(
                &serde_json::to_value(schema).unwrap_or_default(),
                &mut pending,
            );
        }
    }
    components.schemas.retain(|name, _| used.contains(name));
}

/// Our tagged unions (`#[serde(tag = "kind", deny_unknown_fields)]`) refuse unknown fields
/// in every variant, which utoipa does not say: a variant is an object whose `kind` takes
/// one value. (The running-server test checks the request bodies among them.)
fn close_tagged_unions(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::OneOf(union)) = schema else {
            continue;
        };
        for variant in &mut union.items {
            let RefOr::T(Schema::Object(object)) = variant else {
                continue;
            };
            let tagged = matches!(
                object.properties.get("kind"),
                Some(RefOr::T(Schema::Object(tag)))
                    if tag.enum_values.as_ref().is_some_and(|values| values.len() == 1)
            ) && object.required.iter().any(|name| name == "kind");
            if tagged {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}
