//! Photo attachments: `POST /attachments` (a multipart upload, stripped of its metadata and
//! stored with a thumbnail) and `GET /attachments/{id}` (the stored bytes, or the
//! thumbnail). An attachment is its uploader's until a work order claims it
//! (`baoxiu_workorders::attachments::claim`); then whoever may see the order sees it too
//! (`may_see_work_order`).

use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, CacheControl, CacheDirective, ContentDisposition, DispositionParam, DispositionType,
    ETag, EntityTag, IfNoneMatch,
};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use baoxiu_core::{DomainError, DomainResult};
use baoxiu_registration::principal::{Identity, Principal};
use baoxiu_store::DbConn;
use baoxiu_workorders::attachments::{
    self, AttachmentRow, MAX_BYTES, PhotoFormat, Uploader, UploaderKind, Variant,
};
use baoxiu_workorders::orders;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{Caller, PrincipalCaller};
use crate::problem::{ApiError, Problem};
use crate::query::ApiQuery;
use crate::renders;
use crate::routes::shared::{BinaryFile, utc};
use crate::routes::work_orders::any_reader_of;
use crate::state::AppState;
use crate::tokens::TokenKind;
use crate::upload;

/// The multipart part that carries the photo.
const FILE_PART: &str = "file";

/// The caller as an uploader (and as the owner an unclaimed attachment is checked
/// against): staff and terminal users by their user id, the shared guest by its session,
/// so that one guest never sees another's photos.
pub fn uploader_of(caller: &Caller, principal: &Principal) -> Uploader {
    let (kind, id) = match &principal.identity {
        Identity::Staff(staff) => (UploaderKind::Staff, staff.id.clone()),
        Identity::Terminal { user, .. } if user.is_guest || caller.kind == TokenKind::Guest => (
            UploaderKind::Guest,
            caller.session_id.clone().unwrap_or_else(|| user.id.clone()),
        ),
        Identity::Terminal { user, .. } => (UploaderKind::Terminal, user.id.clone()),
    };
    Uploader {
        tenant_id: principal.tenant_id(),
        kind,
        id,
    }
}

/// Whether `principal` may see work order `work_order_id`, and so the photos it claimed:
/// by the work orders' own rule (the submitter, the enterprise's users with the permission,
/// the tenant's admins and dispatchers, the assigned engineer; never the shared guest,
/// whose photos only their uploading session sees, which `find_visible` lets in first).
pub fn may_see_work_order(
    conn: &mut DbConn,
    principal: &Principal,
    work_order_id: &str,
) -> DomainResult<bool> {
    orders::visible(
        conn,
        &principal.tenant_id(),
        work_order_id,
        &any_reader_of(principal),
    )
}

/// The media type of a stored photo (the same as the upload's, decided by its content).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum PhotoType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/webp")]
    Webp,
}

impl From<PhotoFormat> for PhotoType {
    fn from(format: PhotoFormat) -> Self {
        match format {
            PhotoFormat::Jpeg => Self::Jpeg,
            PhotoFormat::Png => Self::Png,
            PhotoFormat::Webp => Self::Webp,
        }
    }
}

/// The thumbnail of a photo.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThumbnailView {
    #[schema(minimum = 1, maximum = 320)]
    pub width: i32,
    #[schema(minimum = 1, maximum = 320)]
    pub height: i32,
    /// `GET` it with the caller's token (`/api/v1/attachments/{id}?size=thumb`).
    pub url: String,
}

/// A stored photo.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentResponse {
    /// What a work order names in `attachment_ids`.
    pub id: String,
    pub content_type: PhotoType,
    /// The stored photo's length in bytes (encoded anew without metadata, so not the
    /// upload's).
    #[schema(minimum = 1)]
    pub size: i64,
    #[schema(minimum = 1, maximum = 12000)]
    pub width: i32,
    #[schema(minimum = 1, maximum = 12000)]
    pub height: i32,
    /// `GET` it with the caller's token (`/api/v1/attachments/{id}`).
    pub url: String,
    pub thumbnail: ThumbnailView,
    pub created_at: DateTime<Utc>,
    /// The work order that claimed it; null while it waits (at most a day) for one.
    pub work_order_id: Option<String>,
}

impl From<AttachmentRow> for AttachmentResponse {
    fn from(row: AttachmentRow) -> Self {
        let url = format!("/api/v1/attachments/{}", row.id);
        Self {
            content_type: row.format().into(),
            size: row.size,
            width: row.width,
            height: row.height,
            thumbnail: ThumbnailView {
                width: row.thumb_width,
                height: row.thumb_height,
                url: format!("{url}?size=thumb"),
            },
            url,
            created_at: utc(row.created_at),
            work_order_id: row.work_order_id,
            id: row.id,
        }
    }
}

/// The upload: one part, `file`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadAttachmentForm {
    /// A JPEG, PNG or WebP photo of at most 10 MiB (10485760 bytes); its type is decided by
    /// its content, whatever its name or declared type.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
}

/// Upload a photo.
///
/// A photo for a work order (`attachment_ids` of the submission), as the part `file` of a
/// `multipart/form-data` body: JPEG, PNG or WebP only, decided by the file's first bytes;
/// at most 10 MiB, and a body that grows past it is refused as it arrives. The photo is
/// decoded and encoded anew: EXIF (and its GPS position), XMP, ICC profiles, comments and
/// every other metadata block are dropped, the EXIF orientation applied to the pixels
/// first. A thumbnail of at most 320 pixels a side is made beside it. The photo is the
/// uploader's alone until a work order claims it; one that no order claims within a day is
/// deleted. Staff, terminal users who may submit, and the guest (each guest session has its
/// own photos) may upload.
#[utoipa::path(tag = "attachments", operation_id = "upload_attachment",
    request_body(content = UploadAttachmentForm, content_type = "multipart/form-data",
        description = "One part, `file`: the photo"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe (1 to 255 visible ASCII characters): a retry with the same key and body within 24 hours answers the first answer again, with `Idempotent-Replayed: true`; the same key with another body answers 422, and while the first request runs, 409.")),
    responses((status = 201, description = "Stored", body = AttachmentResponse,
            headers(("Location" = String, description = "The photo's URL"))),
        (status = 403, description = "A terminal user who may not submit work orders (`registration-required`, or a role without `submit_work_order`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file (or the body) is larger than 10 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `file` part, another part, two files, or a file that is not a readable JPEG, PNG or WebP image (`errors` names `file`); or an `Idempotency-Key` reused for another body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The server is processing as many images as it may at once: try again after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait")))))]
#[post(
    "/attachments",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::idempotent)"
)]
pub async fn upload_attachment(
    state: web::Data<AppState>,
    caller: PrincipalCaller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let claimed = caller.unresolved().clone();
    // Who may upload is decided before the body is read.
    let uploader = state
        .read_as(caller.unresolved(), move |_, principal| {
            if let Some((_, access)) = principal.terminal() {
                access.require_submit()?;
            }
            Ok(uploader_of(&claimed, principal))
        })
        .await?;
    let bytes = upload::file_part(
        &req,
        payload,
        FILE_PART,
        MAX_BYTES,
        PhotoFormat::SNIFF_BYTES,
        |start| Ok(attachments::require_photo(start).map(|_| ())?),
    )
    .await?;
    let slot = renders::slot(&state)?;
    let blobs = state.blobs.clone();
    let (prepared, stored) = renders::draw(slot, move || {
        let prepared = attachments::prepare(&bytes)?;
        let stored = attachments::store(&*blobs, &prepared)?;
        Ok((prepared, stored))
    })
    .await?;
    let kept = stored.clone();
    let recorded = state
        .change(caller.unresolved(), move |tx| {
            attachments::record(tx, &uploader, &prepared, &kept)
        })
        .await;
    let row = match recorded {
        Ok(row) => row,
        Err(error) => {
            let blobs = state.blobs.clone();
            // The record was not written: its files go too.
            let _ = web::block(move || attachments::discard(&*blobs, &stored)).await;
            return Err(error);
        }
    };
    let location = format!("/api/v1/attachments/{}", row.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(AttachmentResponse::from(row)))
}

/// Which image of an attachment.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentSize {
    /// The photo as stored (default).
    Original,
    /// Its thumbnail, at most 320 pixels a side.
    Thumb,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttachmentQuery {
    /// `original` (default) or `thumb`.
    #[param(inline)]
    pub size: Option<AttachmentSize>,
}

/// Get a photo.
///
/// The stored bytes of an attachment (or, with `size=thumb`, its thumbnail), with its media
/// type, a strong `ETag` (`If-None-Match` answers 304) and `X-Content-Type-Options: nosniff`.
/// The uploader sees their photo; once a work order has claimed it, whoever may see that
/// order does too. Anyone else's, another tenant's or an unknown id answers 404.
#[utoipa::path(tag = "attachments", operation_id = "get_attachment",
    params(("id" = String, Path, description = "Attachment id"), AttachmentQuery,
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` of this image already held: answers 304")),
    responses((status = 200, description = "The image",
            content((BinaryFile = "image/jpeg"), (BinaryFile = "image/png"), (BinaryFile = "image/webp")),
            headers(("ETag" = String, description = "The image's strong entity tag (its bytes never change)"),
                ("Cache-Control" = String, description = "`private, max-age=86400, immutable`"),
                ("X-Content-Type-Options" = String, description = "`nosniff`"))),
        (status = 304, description = "The `If-None-Match` tag is the image's"),
        (status = 404, description = "No such attachment for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `size`", body = Problem, content_type = "application/problem+json")))]
#[get("/attachments/{id}")]
pub async fn get_attachment(
    state: web::Data<AppState>,
    caller: PrincipalCaller,
    id: web::Path<String>,
    query: ApiQuery<AttachmentQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let variant = match query.into_inner().size {
        None | Some(AttachmentSize::Original) => Variant::Photo,
        Some(AttachmentSize::Thumb) => Variant::Thumb,
    };
    let claimed = caller.unresolved().clone();
    let row = state
        .read_as(caller.unresolved(), move |tx, principal| {
            let viewer = uploader_of(&claimed, principal);
            attachments::find_visible(tx.conn, &viewer, &id, |conn, order| {
                may_see_work_order(conn, principal, order)
            })
        })
        .await?;
    let tag = EntityTag::new_strong(row.etag(variant));
    let answer = |status: StatusCode| {
        let mut response = HttpResponse::build(status);
        response
            .insert_header(ETag(tag.clone()))
            .insert_header(CacheControl(vec![
                CacheDirective::Private,
                CacheDirective::MaxAge(86_400),
                CacheDirective::Extension("immutable".into(), None),
            ]))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        response
    };
    let fresh = match req.get_header::<IfNoneMatch>() {
        Some(IfNoneMatch::Any) => true,
        Some(IfNoneMatch::Items(tags)) => tags.iter().any(|held| held.weak_eq(&tag)),
        None => false,
    };
    if fresh {
        return Ok(answer(StatusCode::NOT_MODIFIED).finish());
    }
    let key = row
        .blob(variant)
        .ok_or_else(|| DomainError::Internal("an attachment's blob key is not one".into()))?;
    let blobs = state.blobs.clone();
    let bytes = web::block(move || blobs.get(&key))
        .await?
        .map_err(|e| DomainError::Internal(e.to_string()))?
        .ok_or_else(|| DomainError::Internal("an attachment's blob is missing".into()))?;
    let extension = match row.format() {
        PhotoFormat::Jpeg => "jpg",
        PhotoFormat::Png => "png",
        PhotoFormat::Webp => "webp",
    };
    Ok(answer(StatusCode::OK)
        .content_type(row.format().content_type())
        .insert_header(ContentDisposition {
            disposition: DispositionType::Inline,
            parameters: vec![DispositionParam::Filename(format!(
                "{}.{extension}",
                row.id
            ))],
        })
        .body(bytes))
}
