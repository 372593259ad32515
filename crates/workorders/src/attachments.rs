//! Photo attachments of work orders, before and after an order claims them.
//!
//! An upload is accepted as JPEG, PNG or WebP only, decided by its first bytes (never by
//! its name or declared type), and at most `MAX_BYTES`. It is decoded and encoded anew
//! (`prepare`), which keeps the pixels and nothing else: EXIF (with its GPS position), XMP,
//! ICC profiles, comments and every other metadata block are left behind. The EXIF
//! orientation is applied to the pixels first, so a phone photo still stands upright. A
//! thumbnail (at most `THUMB_SIDE` pixels on its longest side) is made beside it. Both go
//! to the blob store under keys it chooses (`store`), and the record (`record`) names them.
//!
//! An attachment is its uploader's alone until a work order claims it (`claim`, in the
//! order's transaction, at most `MAX_PER_WORK_ORDER` per order); who may fetch it is
//! `find_visible`'s decision. One that no order has claimed within `UNCLAIMED_FOR` is
//! removed with its blobs (`unclaimed_before`, `remove_unclaimed`, run by a periodic job).

use std::io::Cursor;

use baoxiu_core::{DomainError, DomainResult, TenantId, new_id};
use baoxiu_store::blobs::{BlobKey, BlobStore};
use baoxiu_store::schema::attachments;
use baoxiu_store::{DbConn, Tx};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

/// The largest file accepted, in bytes (10 MiB).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// The most photos one work order holds.
pub const MAX_PER_WORK_ORDER: usize = 9;
/// The longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// The longest side of a photo that is decoded at all, in pixels.
pub const MAX_SIDE: u32 = 12_000;
/// What decoding one photo may allocate: about 100 megapixels of RGB.
const MAX_DECODE_BYTES: u64 = 320 * 1024 * 1024;
/// The quality JPEGs are encoded anew with.
const JPEG_QUALITY: u8 = 85;
/// How long an attachment waits for a work order to claim it.
pub const UNCLAIMED_FOR: Duration = Duration::days(1);
/// The field of the request that names attachments to claim.
pub const IDS_FIELD: &str = "attachment_ids";

/// The formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    Webp,
}

impl PhotoFormat {
    /// The format `bytes` are in, by their magic bytes; None for anything else.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    /// The bytes `sniff` needs to decide.
    pub const SNIFF_BYTES: usize = 12;

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    fn of_content_type(text: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Webp]
            .into_iter()
            .find(|f| f.content_type() == text)
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::Webp => ImageFormat::WebP,
        }
    }
}

/// Who uploaded an attachment, and so whose it is until an order claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploaderKind {
    Staff,
    Terminal,
    /// The shared guest identity: its uploads are told apart by the guest's session.
    Guest,
}

impl UploaderKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Terminal => "terminal",
            Self::Guest => "guest",
        }
    }
}

/// An uploader: a staff user, a terminal user (by user id), or one guest session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploader {
    pub tenant_id: TenantId,
    pub kind: UploaderKind,
    /// The staff or terminal user's id; for the guest, the session's id.
    pub id: String,
}

impl Uploader {
    fn owns(&self, row: &AttachmentRow) -> bool {
        row.uploaded_by_kind == self.kind.as_str() && row.uploaded_by == self.id
    }
}

/// A photo decoded and encoded anew, with its thumbnail: what is stored.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub format: PhotoFormat,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub thumb: Vec<u8>,
    pub thumb_width: u32,
    pub thumb_height: u32,
    /// Of `bytes`, in lowercase hex.
    pub sha256: String,
}

fn refused(code: &str, message: impl Into<String>) -> DomainError {
    DomainError::invalid("file", code, message)
}

/// The upload's first bytes decide its format: anything but JPEG, PNG or WebP is refused.
pub fn require_photo(first_bytes: &[u8]) -> DomainResult<PhotoFormat> {
    PhotoFormat::sniff(first_bytes).ok_or_else(|| {
        refused(
            "unsupported_type",
            "the file must be a JPEG, PNG or WebP image (decided by its content, not its name)",
        )
    })
}

/// Decodes `upload` and encodes it anew without any metadata, with its thumbnail.
/// Blocks (CPU): run it off the async workers.
pub fn prepare(upload: &[u8]) -> DomainResult<Prepared> {
    if upload.len() > MAX_BYTES {
        return Err(refused(
            "too_large",
            format!("the file must be at most {MAX_BYTES} bytes"),
        ));
    }
    let format = require_photo(upload)?;
    let image = decode(upload, format)?;
    let thumb = if image.width().max(image.height()) > THUMB_SIDE {
        image.thumbnail(THUMB_SIDE, THUMB_SIDE)
    } else {
        image.clone()
    };
    let bytes = encode(&image, format)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(Prepared {
        format,
        width: image.width(),
        height: image.height(),
        thumb_width: thumb.width(),
        thumb_height: thumb.height(),
        thumb: encode(&thumb, format)?,
        bytes,
        sha256,
    })
}

fn decode(bytes: &[u8], format: PhotoFormat) -> DomainResult<DynamicImage> {
    let unreadable = |error: image::ImageError| match error {
        image::ImageError::Limits(_) => refused(
            "too_many_pixels",
            format!(
                "the image must be at most {MAX_SIDE} pixels on each side and about 100 megapixels"
            ),
        ),
        _ => refused(
            "unreadable",
            "the image could not be read: it is damaged or not what its first bytes say",
        ),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    // A photo whose orientation cannot be read is shown as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Encodes pixels only: no encoder here is given EXIF, XMP or an ICC profile.
fn encode(image: &DynamicImage, format: PhotoFormat) -> DomainResult<Vec<u8>> {
    let mut out = Vec::new();
    let written = match format {
        PhotoFormat::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)),
        PhotoFormat::Png => image.write_with_encoder(PngEncoder::new(&mut out)),
        PhotoFormat::Webp => {
            let eight_bit = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            eight_bit.write_with_encoder(WebPEncoder::new_lossless(&mut out))
        }
    };
    written.map_err(|e| DomainError::Internal(format!("encoding a photo: {e}")))?;
    Ok(out)
}

/// Where a prepared photo and its thumbnail were stored.
#[derive(Debug, Clone)]
pub struct StoredBlobs {
    pub photo: BlobKey,
    pub thumb: BlobKey,
}

fn blob_failure(error: baoxiu_store::blobs::BlobError) -> DomainError {
    DomainError::Internal(error.to_string())
}

/// Puts a prepared photo and its thumbnail in the blob store (blocks: file I/O). Nothing
/// is left behind when the second put fails.
pub fn store(blobs: &dyn BlobStore, prepared: &Prepared) -> DomainResult<StoredBlobs> {
    let photo = blobs.put(&prepared.bytes).map_err(blob_failure)?;
    match blobs.put(&prepared.thumb) {
        Ok(thumb) => Ok(StoredBlobs { photo, thumb }),
        Err(error) => {
            discard(
                blobs,
                &StoredBlobs {
                    thumb: photo.clone(),
                    photo,
                },
            );
            Err(blob_failure(error))
        }
    }
}

/// Deletes stored blobs whose record was never written (or has been removed); a failure
/// leaves an orphan file, logged, and nothing else wrong.
pub fn discard(blobs: &dyn BlobStore, stored: &StoredBlobs) {
    for key in [&stored.photo, &stored.thumb] {
        if let Err(error) = blobs.delete(key) {
            tracing::warn!(%error, key = %key, "an attachment's blob could not be deleted");
        }
    }
}

/// An attachment's row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
pub struct AttachmentRow {
    pub tenant_id: String,
    pub id: String,
    pub uploaded_by_kind: String,
    pub uploaded_by: String,
    pub content_type: String,
    pub size: i64,
    pub width: i32,
    pub height: i32,
    pub blob_key: String,
    pub thumb_blob_key: String,
    pub thumb_width: i32,
    pub thumb_height: i32,
    pub sha256: String,
    pub work_order_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub claimed_at: Option<NaiveDateTime>,
}

/// Which of an attachment's two images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Photo,
    Thumb,
}

impl AttachmentRow {
    pub fn format(&self) -> PhotoFormat {
        PhotoFormat::of_content_type(&self.content_type).unwrap_or(PhotoFormat::Jpeg)
    }

    /// The blob holding `variant`; None when the stored key is not one (never written so).
    pub fn blob(&self, variant: Variant) -> Option<BlobKey> {
        BlobKey::parse(match variant {
            Variant::Photo => &self.blob_key,
            Variant::Thumb => &self.thumb_blob_key,
        })
    }

    /// A strong entity tag of `variant`'s bytes, which never change.
    pub fn etag(&self, variant: Variant) -> String {
        match variant {
            Variant::Photo => self.sha256.clone(),
            Variant::Thumb => format!("{}-thumb", self.sha256),
        }
    }

    pub fn blobs(&self) -> Option<StoredBlobs> {
        Some(StoredBlobs {
            photo: self.blob(Variant::Photo)?,
            thumb: self.blob(Variant::Thumb)?,
        })
    }
}

fn dimension(pixels: u32) -> i32 {
    i32::try_from(pixels).unwrap_or(i32::MAX)
}

/// Writes the record of a photo stored as `stored`, the uploader's until claimed.
pub fn record(
    tx: &mut Tx<'_>,
    uploader: &Uploader,
    prepared: &Prepared,
    stored: &StoredBlobs,
) -> DomainResult<AttachmentRow> {
    let row = AttachmentRow {
        tenant_id: uploader.tenant_id.0.clone(),
        id: new_id(),
        uploaded_by_kind: uploader.kind.as_str().into(),
        uploaded_by: uploader.id.clone(),
        content_type: prepared.format.content_type().into(),
        size: i64::try_from(prepared.bytes.len()).unwrap_or(i64::MAX),
        width: dimension(prepared.width),
        height: dimension(prepared.height),
        blob_key: stored.photo.as_str().into(),
        thumb_blob_key: stored.thumb.as_str().into(),
        thumb_width: dimension(prepared.thumb_width),
        thumb_height: dimension(prepared.thumb_height),
        sha256: prepared.sha256.clone(),
        work_order_id: None,
        created_at: tx.now,
        claimed_at: None,
    };
    diesel::insert_into(attachments::table)
        .values(&row)
        .execute(tx.conn)?;
    Ok(row)
}

/// Attachment `id` if `viewer` may see it, else `not-found`: the uploader always; once a
/// work order has claimed it, whoever `may_see_order` lets see that order (it gets the
/// order's id).
pub fn find_visible(
    conn: &mut DbConn,
    viewer: &Uploader,
    id: &str,
    may_see_order: impl FnOnce(&mut DbConn, &str) -> DomainResult<bool>,
) -> DomainResult<AttachmentRow> {
    let row: AttachmentRow = attachments::table
        .filter(attachments::tenant_id.eq(viewer.tenant_id.as_str()))
        .filter(attachments::id.eq(id))
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(DomainError::NotFound("attachment"))?;
    if viewer.owns(&row) {
        return Ok(row);
    }
    match &row.work_order_id {
        Some(order) if may_see_order(conn, order)? => Ok(row),
        _ => Err(DomainError::NotFound("attachment")),
    }
}

/// The attachments `ids`, the uploader's own and unclaimed, become work order
/// `work_order_id`'s, in one guarded UPDATE inside the order's transaction. More than
/// `MAX_PER_WORK_ORDER` on the order (with those it holds already), an id twice, or an
/// id that is not the uploader's unclaimed attachment answer 422 naming `attachment_ids`;
/// one the caller's own but claimed by another order answers 409 `attachment-claimed`.
/// Answers the claimed rows in the order of `ids`.
pub fn claim(
    tx: &mut Tx<'_>,
    uploader: &Uploader,
    ids: &[String],
    work_order_id: &str,
) -> DomainResult<Vec<AttachmentRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let too_many = || {
        DomainError::invalid(
            IDS_FIELD,
            "too_many",
            format!("a work order holds at most {MAX_PER_WORK_ORDER} photos"),
        )
    };
    if ids.len() > MAX_PER_WORK_ORDER {
        return Err(too_many());
    }
    let mut distinct = ids.to_vec();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != ids.len() {
        return Err(DomainError::invalid(
            IDS_FIELD,
            "duplicate",
            "an attachment is named twice",
        ));
    }
    let tenant = uploader.tenant_id.as_str();
    let room = i64::try_from(MAX_PER_WORK_ORDER - ids.len()).unwrap_or(0);
    // What the order holds already is counted in the same statement.
    let held_leaves_room = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "(SELECT COUNT(*) FROM attachments held WHERE held.tenant_id = ",
    )
    .bind::<diesel::sql_types::Text, _>(tenant)
    .sql(" AND held.work_order_id = ")
    .bind::<diesel::sql_types::Text, _>(work_order_id)
    .sql(") <= ")
    .bind::<diesel::sql_types::BigInt, _>(room);
    let claimed = diesel::update(
        attachments::table
            .filter(attachments::tenant_id.eq(tenant))
            .filter(attachments::id.eq_any(ids))
            .filter(attachments::uploaded_by_kind.eq(uploader.kind.as_str()))
            .filter(attachments::uploaded_by.eq(&uploader.id))
            .filter(attachments::work_order_id.is_null())
            .filter(attachments::claimed_at.is_null())
            .filter(held_leaves_room),
    )
    .set((
        attachments::work_order_id.eq(work_order_id),
        attachments::claimed_at.eq(tx.now),
    ))
    .execute(tx.conn)?;
    if claimed == ids.len() {
        let mut rows: Vec<AttachmentRow> = attachments::table
            .filter(attachments::tenant_id.eq(tenant))
            .filter(attachments::id.eq_any(ids))
            .select(AttachmentRow::as_select())
            .load(tx.conn)?;
        rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
        return Ok(rows);
    }
    // Why not: read once, on this failing path only (the transaction is rolled back).
    let found: Vec<AttachmentRow> = attachments::table
        .filter(attachments::tenant_id.eq(tenant))
        .filter(attachments::id.eq_any(ids))
        .select(AttachmentRow::as_select())
        .load(tx.conn)?;
    let own: Vec<&AttachmentRow> = found.iter().filter(|row| uploader.owns(row)).collect();
    let unknown: Vec<&String> = ids
        .iter()
        .filter(|id| !own.iter().any(|row| row.id == **id))
        .collect();
    if let Some(id) = unknown.first() {
        return Err(DomainError::invalid(
            IDS_FIELD,
            "not_found",
            format!("no attachment {id} of yours is waiting to be attached"),
        ));
    }
    if let Some(row) = own.iter().find(|row| {
        row.work_order_id
            .as_deref()
            .is_some_and(|o| o != work_order_id)
    }) {
        return Err(DomainError::conflict(
            "attachment-claimed",
            format!("attachment {} belongs to another work order", row.id),
        ));
    }
    if own.iter().all(|row| row.work_order_id.is_none()) {
        return Err(too_many());
    }
    Err(DomainError::conflict(
        "attachment-claimed",
        "an attachment is attached already",
    ))
}

/// The attachments of work order `work_order_id`, in upload order.
pub fn of_work_order(
    conn: &mut DbConn,
    tenant_id: &TenantId,
    work_order_id: &str,
) -> DomainResult<Vec<AttachmentRow>> {
    Ok(attachments::table
        .filter(attachments::tenant_id.eq(tenant_id.as_str()))
        .filter(attachments::work_order_id.eq(work_order_id))
        .order((attachments::created_at.asc(), attachments::id.asc()))
        .select(AttachmentRow::as_select())
        .load(conn)?)
}

/// Up to `limit` attachments of any tenant that no order claimed before `before`.
pub fn unclaimed_before(
    conn: &mut DbConn,
    before: NaiveDateTime,
    limit: i64,
) -> DomainResult<Vec<AttachmentRow>> {
    Ok(attachments::table
        .filter(attachments::claimed_at.is_null())
        .filter(attachments::created_at.lt(before))
        .order(attachments::created_at.asc())
        .limit(limit)
        .select(AttachmentRow::as_select())
        .load(conn)?)
}

/// Deletes `row`'s record if it is still unclaimed (a claim may have come in between):
/// answers whether it did, and so whether its blobs may go.
pub fn remove_unclaimed(conn: &mut DbConn, row: &AttachmentRow) -> DomainResult<bool> {
    let deleted = diesel::delete(
        attachments::table
            .filter(attachments::tenant_id.eq(&row.tenant_id))
            .filter(attachments::id.eq(&row.id))
            .filter(attachments::claimed_at.is_null())
            .filter(attachments::work_order_id.is_null()),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn formats_are_told_by_their_first_bytes() {
        assert_eq!(
            PhotoFormat::sniff(b"\xFF\xD8\xFF\xE0..."),
            Some(PhotoFormat::Jpeg)
        );
        assert_eq!(
            PhotoFormat::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(PhotoFormat::Png)
        );
        assert_eq!(
            PhotoFormat::sniff(b"RIFF\x10\0\0\0WEBPVP8L"),
            Some(PhotoFormat::Webp)
        );
        for other in [
            &b"GIF89a......"[..],
            b"hello, world",
            b"RIFF\0\0\0\0WAVE",
            b"\xFF\xD8",
        ] {
            assert_eq!(PhotoFormat::sniff(other), None);
        }
    }

    #[test]
    fn a_thumbnail_is_at_most_its_side_and_keeps_the_aspect() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(800, 400, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        }));
        let png = encode(&image, PhotoFormat::Png).unwrap();
        let prepared = prepare(&png).unwrap();
        assert_eq!((prepared.width, prepared.height), (800, 400));
        assert_eq!((prepared.thumb_width, prepared.thumb_height), (320, 160));
        assert!(prepared.thumb.len() < prepared.bytes.len());
        let small = encode(&image.thumbnail(100, 100), PhotoFormat::Jpeg).unwrap();
        let kept = prepare(&small).unwrap();
        assert_eq!(
            (kept.thumb_width, kept.thumb_height),
            (100, 50),
            "never enlarged"
        );
    }

    #[test]
    fn what_is_not_a_photo_is_refused_naming_the_file() {
        for bytes in [
            &b"just some text, named photo.jpg"[..],
            b"\xFF\xD8\xFF\xE0 broken",
        ] {
            match prepare(bytes) {
                Err(DomainError::Validation(errors)) => assert_eq!(errors[0].field, "file"),
                other => panic!("{other:?}"),
            }
        }
    }
}
