//! Photo attachments end to end: uploads are photos by their content, stored without any
//! metadata (read back and parsed), with a thumbnail; another user's or tenant's photo is
//! not found; a retried upload makes one record; unclaimed photos go after a day and
//! claimed ones stay; an order holds at most nine. Test images are made here.

use std::io::Cursor;

use actix_web::ResponseError;
use baoxiu_core::{Actor, ActorKind, DomainError, DomainResult, TenantId};
use baoxiu_store::Work;
use baoxiu_workorders::attachments::{self, AttachmentRow, Uploader, UploaderKind};
use chrono::Duration;
use image::{DynamicImage, ImageEncoder, RgbImage, RgbaImage};
use reqwest::StatusCode;
use serde_json::Value;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{access_of, add_method, me, tenant_with_app, wx_login};

const UPLOAD: &str = "/api/v1/attachments";

/// An EXIF block (little-endian TIFF) with orientation 6 (turn 90° clockwise to show) and
/// a GPS position in Shenzhen, as a phone writes it.
fn exif_with_gps() -> Vec<u8> {
    let mut tiff: Vec<u8> = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&kind.to_le_bytes());
        tiff.extend_from_slice(&count.to_le_bytes());
        tiff.extend_from_slice(&value.to_le_bytes());
    };
    // IFD0 at 8: orientation, the GPS IFD's offset (38).
    tiff.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut tiff, 0x0112, 3, 1, 6);
    entry(&mut tiff, 0x8825, 4, 1, 38);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    // The GPS IFD at 38; its rationals at 92 and 116.
    tiff.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut tiff, 0x0001, 2, 2, u32::from(b'N'));
    entry(&mut tiff, 0x0002, 5, 3, 92);
    entry(&mut tiff, 0x0003, 2, 2, u32::from(b'E'));
    entry(&mut tiff, 0x0004, 5, 3, 116);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(tiff.len(), 92);
    for value in [22u32, 32, 0, 113, 56, 0] {
        tiff.extend_from_slice(&value.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
    }
    tiff
}

const ICC: &[u8] = b"an ICC profile that names the phone";

fn pixels(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    })
}

/// A JPEG as a phone sends it: EXIF with GPS, an ICC profile, XMP and a comment.
pub fn phone_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    encoder.set_exif_metadata(exif_with_gps()).unwrap();
    encoder.set_icc_profile(ICC.to_vec()).unwrap();
    encoder
        .write_image(
            pixels(width, height).as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    // XMP (APP1) and a comment (COM) right after SOI.
    let mut extra = Vec::new();
    for (marker, body) in [
        (0xE1u8, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><exif:GPSLatitude>22,32N</exif:GPSLatitude></x:xmpmeta>".to_vec()),
        (0xFE, b"shot by Alice at home".to_vec()),
    ] {
        extra.extend_from_slice(&[0xFF, marker]);
        extra.extend_from_slice(&u16::try_from(body.len() + 2).unwrap().to_be_bytes());
        extra.extend_from_slice(&body);
    }
    out.splice(2..2, extra);
    out
}

fn png_with_metadata(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
    encoder.set_exif_metadata(exif_with_gps()).unwrap();
    encoder.set_icc_profile(ICC.to_vec()).unwrap();
    let image = RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([x as u8, y as u8, 9, 200])
    });
    encoder
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgba8,
        )
        .unwrap();
    out
}

fn webp_with_metadata(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
    encoder.set_exif_metadata(exif_with_gps()).unwrap();
    encoder.set_icc_profile(ICC.to_vec()).unwrap();
    encoder
        .write_image(
            pixels(width, height).as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// A multipart body with one part per (name, file name, type, bytes).
fn multipart(parts: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "baoxiu-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, content_type, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload_parts(
    app: &TestApp,
    token: &str,
    parts: &[(&str, &str, &str, &[u8])],
    key: Option<&str>,
) -> Answer {
    let (content_type, body) = multipart(parts);
    let mut request = app
        .client
        .post(format!("{}{UPLOAD}", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    answer(request.send().await.expect("answered")).await
}

async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> Answer {
    upload_parts(app, token, &[("file", name, "image/jpeg", bytes)], None).await
}

pub async fn uploaded(app: &TestApp, token: &str, bytes: &[u8]) -> String {
    let stored = upload(app, token, "photo.jpg", bytes).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
    stored.body["id"].as_str().unwrap().to_owned()
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a readable body");
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
        text,
    }
}

/// A GET of an image: status, headers, bytes.
async fn download(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("answered");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// Uploads `file` with `Transfer-Encoding: chunked` (no length to refuse it by) over a raw
/// connection; answers the status, if the server answered before closing.
async fn chunked_upload_status(app: &TestApp, token: &str, file: &[u8]) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (content_type, body) = multipart(&[("file", "big.jpg", "image/jpeg", file)]);
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {UPLOAD} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if socket.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn has_exif(bytes: &[u8]) -> bool {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .is_ok()
}

fn gps_of(bytes: &[u8]) -> Option<String> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let field = exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)?;
    Some(field.display_value().to_string())
}

/// The markers of a JPEG's segments before its scan.
fn jpeg_markers(bytes: &[u8]) -> Vec<u8> {
    assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
    let mut markers = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() {
        assert_eq!(bytes[at], 0xFF, "a segment starts at {at}");
        let marker = bytes[at + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        at += 2 + usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
    }
    markers
}

/// The chunk types of a PNG, or of a WebP (RIFF) file.
fn chunks(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    if bytes.starts_with(b"\x89PNG") {
        let mut at = 8;
        while at + 8 <= bytes.len() {
            let length = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            found.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
            at += 12 + length;
        }
    } else {
        assert_eq!(&bytes[8..12], b"WEBP");
        let mut at = 12;
        while at + 8 <= bytes.len() {
            let length = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            found.push(String::from_utf8_lossy(&bytes[at..at + 4]).into_owned());
            at += 8 + length + length % 2;
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What the blob store holds: files under the app's directory.
fn blob_files(app: &TestApp) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .map(|e| e.unwrap().path())
            .map(|p| if p.is_dir() { walk(&p) } else { 1 })
            .sum()
    }
    walk(&app.blob_dir)
}

/// A tenant whose WeChat users sign in by themselves; answers the admin and two customers.
async fn tenant_with_customers(app: &TestApp) -> (Provider, String, String) {
    let provider = tenant_with_app(app).await;
    add_method(app, &provider.access, "openid_auto", false, "fuzzy").await;
    let alice = access_of(&wx_login(app, "alice").await);
    let bob = access_of(&wx_login(app, "bob").await);
    (provider, alice, bob)
}

fn terminal_uploader(tenant_id: &str, user_id: &str) -> Uploader {
    Uploader {
        tenant_id: TenantId(tenant_id.into()),
        kind: UploaderKind::Terminal,
        id: user_id.into(),
    }
}

/// Claims `ids` for `work_order_id` as the work orders' submission will, in a transaction.
fn claim(
    app: &TestApp,
    uploader: &Uploader,
    ids: &[String],
    work_order_id: &str,
) -> DomainResult<Vec<AttachmentRow>> {
    let actor = Actor {
        tenant_id: uploader.tenant_id.clone(),
        kind: ActorKind::Terminal,
        id: uploader.id.clone(),
        request_id: None,
    };
    let now = baoxiu_core::Clock::now(&app.clock).naive_utc();
    app.state.db.run(Work::Write, actor, now, |tx| {
        order_row(tx.conn, &uploader.tenant_id, work_order_id, now)?;
        attachments::claim(tx, uploader, ids, work_order_id)
    })
}

/// A work order row with the id `id`, unless there is one: what an order's submission
/// would have written before it claims its photos (the claim's foreign key needs it).
fn order_row(
    conn: &mut baoxiu_store::DbConn,
    tenant_id: &TenantId,
    id: &str,
    now: chrono::NaiveDateTime,
) -> DomainResult<()> {
    use baoxiu_store::schema::work_orders as wo;
    use diesel::prelude::*;
    let exists: i64 = wo::table
        .filter(wo::tenant_id.eq(tenant_id.as_str()))
        .filter(wo::id.eq(id))
        .count()
        .get_result(conn)?;
    let tenant: i64 = baoxiu_store::schema::tenants::table
        .filter(baoxiu_store::schema::tenants::id.eq(tenant_id.as_str()))
        .count()
        .get_result(conn)?;
    // A tenant that does not exist holds no order either (the claim is refused).
    if exists == 0 && tenant == 1 {
        diesel::insert_into(wo::table)
            .values((
                wo::tenant_id.eq(tenant_id.as_str()),
                wo::id.eq(id),
                wo::number.eq(format!("WO-TEST-{id}")),
                wo::tracking_hash.eq(format!("hash-{id}")),
                wo::status.eq("pending"),
                wo::channel.eq("mini_program"),
                wo::service_type.eq("repair"),
                wo::brand.eq("b"),
                wo::category.eq("c"),
                wo::model.eq("m"),
                wo::fault_description.eq("broken"),
                wo::notes.eq(""),
                wo::contact_name.eq(""),
                wo::contact_phone.eq(""),
                wo::address.eq(""),
                wo::custom_fields.eq("{}"),
                wo::created_by_kind.eq("terminal"),
                wo::created_by_id.eq("test"),
                wo::version.eq(1),
                wo::created_at.eq(now),
                wo::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

#[track_caller]
fn refused_naming(result: DomainResult<Vec<AttachmentRow>>, status: u16, code: &str) {
    let error = result.expect_err("refused");
    match &error {
        DomainError::Validation(errors) => {
            assert_eq!(errors[0].field, "attachment_ids");
            assert_eq!(errors[0].code, code);
        }
        DomainError::Conflict { code: slug, .. } => assert_eq!(*slug, code),
        other => panic!("{other:?}"),
    }
    let api = baoxiu_api::problem::ApiError::from(error);
    assert_eq!(api.status_code().as_u16(), status);
}

backend_tests! {
    async fn a_phone_photo_is_stored_without_exif_or_gps(app: TestApp) {
        let (_, alice, _) = tenant_with_customers(&app).await;
        let photo = phone_jpeg(640, 480);
        assert_eq!(gps_of(&photo).as_deref(), Some("22 deg 32 min 0 sec"), "the test photo has GPS");
        assert!(contains(&photo, b"xmpmeta") && contains(&photo, b"ICC_PROFILE") && contains(&photo, b"shot by Alice"));

        let stored = upload(&app, &alice, "IMG_0001.jpg", &photo).await;
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
        let id = stored.body["id"].as_str().unwrap().to_owned();
        assert_eq!(stored.header("location"), Some(format!("/api/v1/attachments/{id}").as_str()));
        assert_eq!(stored.body["content_type"], "image/jpeg");
        // Orientation 6 was applied to the pixels: the photo stands upright, 480 × 640.
        assert_eq!((stored.body["width"].as_i64(), stored.body["height"].as_i64()), (Some(480), Some(640)));
        assert_eq!((stored.body["thumbnail"]["width"].as_i64(), stored.body["thumbnail"]["height"].as_i64()), (Some(240), Some(320)));
        assert_eq!(stored.body["url"], format!("/api/v1/attachments/{id}"));
        assert_eq!(stored.body["thumbnail"]["url"], format!("/api/v1/attachments/{id}?size=thumb"));
        assert_eq!(stored.body["work_order_id"], Value::Null);

        let (status, headers, bytes) = download(&app, &format!("{UPLOAD}/{id}"), &alice).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers["cache-control"].to_str().unwrap().contains("private"));
        assert_eq!(stored.body["size"].as_u64(), Some(bytes.len() as u64));
        assert!(!has_exif(&bytes), "no EXIF block is left");
        assert_eq!(gps_of(&bytes), None);
        for needle in [&b"Exif"[..], b"xmpmeta", b"ICC_PROFILE", b"shot by Alice"] {
            assert!(!contains(&bytes, needle), "{}", String::from_utf8_lossy(needle));
        }
        // Only the JFIF header, tables, the frame and the scan: no APPn but APP0, no COM.
        for marker in jpeg_markers(&bytes) {
            assert!(matches!(marker, 0xE0 | 0xDB | 0xC0 | 0xC2 | 0xC4 | 0xDD | 0xDA), "marker {marker:02X}");
        }
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (480, 640));

        let (status, headers, thumb) = download(&app, &format!("{UPLOAD}/{id}?size=thumb"), &alice).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "image/jpeg");
        assert!(thumb.len() < bytes.len(), "the thumbnail is smaller");
        assert!(!has_exif(&thumb));
        let small = image::load_from_memory(&thumb).unwrap();
        assert_eq!((small.width(), small.height()), (240, 320));

        // The ETag answers 304; the thumbnail's is its own.
        let tag = headers["etag"].to_str().unwrap().to_owned();
        let (_, original_headers, _) = download(&app, &format!("{UPLOAD}/{id}"), &alice).await;
        assert_ne!(original_headers["etag"].to_str().unwrap(), tag);
        let again = app
            .client
            .get(format!("{}{UPLOAD}/{id}?size=thumb", app.base))
            .bearer_auth(&alice)
            .header("If-None-Match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let bad = app.get(&format!("{UPLOAD}/{id}?size=huge"), bearer(&alice)).await;
        bad.problem(422, "validation-failed");
        assert_eq!(app.count_rows("attachments"), 1);
        assert_eq!(blob_files(&app), 2);
    }

    async fn png_and_webp_are_accepted_and_stripped(app: TestApp) {
        let (provider, _, _) = tenant_with_customers(&app).await;
        let staff = provider.access;
        for (name, original, content_type) in [
            ("scan.png", png_with_metadata(400, 300), "image/png"),
            ("photo.webp", webp_with_metadata(400, 300), "image/webp"),
        ] {
            assert!(gps_of(&original).is_some(), "{name} has GPS");
            // The declared type and the name say JPEG: the content decides.
            let stored = upload(&app, &staff, "photo.jpg", &original).await;
            assert_eq!(stored.status, StatusCode::CREATED, "{name}: {}", stored.text);
            assert_eq!(stored.body["content_type"], content_type);
            assert_eq!((stored.body["width"].as_i64(), stored.body["height"].as_i64()), (Some(300), Some(400)), "{name} upright");
            let id = stored.body["id"].as_str().unwrap();
            let (status, headers, bytes) = download(&app, &format!("{UPLOAD}/{id}"), &staff).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers["content-type"], content_type);
            assert!(!has_exif(&bytes), "{name}: no EXIF");
            assert!(!contains(&bytes, ICC), "{name}: no ICC profile");
            for chunk in chunks(&bytes) {
                assert!(
                    ["IHDR", "IDAT", "IEND", "VP8L", "VP8 ", "VP8X"].contains(&chunk.as_str()),
                    "{name}: chunk {chunk}"
                );
            }
            let decoded = image::load_from_memory(&bytes).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (300, 400));
            let (_, _, thumb) = download(&app, &format!("{UPLOAD}/{id}?size=thumb"), &staff).await;
            let small = image::load_from_memory(&thumb).unwrap();
            assert_eq!((small.width(), small.height()), (240, 320), "{name}");
            assert!(thumb.len() < bytes.len(), "{name}: the thumbnail is smaller");
        }
        assert_eq!(app.count_rows("attachments"), 2);
    }

    async fn what_is_not_a_photo_is_refused_and_nothing_is_stored(app: TestApp) {
        let (_, alice, _) = tenant_with_customers(&app).await;
        // An 11 MB photo: a real JPEG, padded (decoders stop at its end).
        let mut big = phone_jpeg(64, 64);
        big.resize(11 * 1024 * 1024, 0);
        let refused = upload(&app, &alice, "big.jpg", &big).await;
        refused.problem(413, "payload-too-large");
        // Sent in chunks without a length, it is cut off as it arrives.
        assert_eq!(chunked_upload_status(&app, &alice, &big).await, Some(413));

        let text = upload(&app, &alice, "photo.jpg", b"not a photo at all, although named photo.jpg").await;
        text.problem(422, "validation-failed");
        assert_eq!(text.error_fields(), ["file"]);
        assert_eq!(text.body["errors"][0]["code"], "unsupported_type");
        let gif = upload(&app, &alice, "a.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").await;
        assert_eq!(gif.error_fields(), ["file"]);
        let broken = upload(&app, &alice, "broken.jpg", &phone_jpeg(64, 64)[..300]).await;
        broken.problem(422, "validation-failed");
        assert_eq!(broken.body["errors"][0]["code"], "unreadable");

        let photo = phone_jpeg(64, 64);
        let other_part = upload_parts(&app, &alice, &[("photo", "a.jpg", "image/jpeg", &photo)], None).await;
        other_part.problem(422, "validation-failed");
        assert_eq!(other_part.error_fields(), ["photo"]);
        let two = upload_parts(&app, &alice, &[("file", "a.jpg", "image/jpeg", &photo), ("file", "b.jpg", "image/jpeg", &photo)], None).await;
        assert_eq!(two.error_fields(), ["file"]);
        let none = upload_parts(&app, &alice, &[], None).await;
        none.problem(422, "validation-failed");
        assert_eq!(none.error_fields(), ["file"]);
        let json = app.post(UPLOAD, &serde_json::json!({ "file": "x" }), bearer(&alice)).await;
        json.problem(415, "unsupported-media-type");
        let anonymous = app.post_raw(UPLOAD, "image/jpeg", photo.clone(), Opts::default()).await;
        anonymous.problem(401, "unauthenticated");

        assert_eq!(app.count_rows("attachments"), 0);
        assert_eq!(blob_files(&app), 0, "nothing stored");
    }

    async fn another_users_or_tenants_photo_is_not_found(app: TestApp) {
        let (acme, alice, bob) = tenant_with_customers(&app).await;
        let other = app.sign_up("other", "13800138009").await;
        let id = uploaded(&app, &alice, &phone_jpeg(64, 48)).await;
        for (who, token) in [("bob", &bob), ("acme's staff", &acme.access), ("another tenant's staff", &other.access)] {
            for path in [format!("{UPLOAD}/{id}"), format!("{UPLOAD}/{id}?size=thumb")] {
                let seen = app.get(&path, bearer(token)).await;
                assert_eq!(seen.status, StatusCode::NOT_FOUND, "{who}: {}", seen.text);
                seen.problem(404, "not-found");
            }
        }
        app.get(&format!("{UPLOAD}/not-an-id"), bearer(&alice)).await.problem(404, "not-found");

        // Once an order claims it, the tenant's staff see it; Bob and the other tenant still do not.
        let alice_id = me(&app, &alice).await["user_id"].as_str().unwrap().to_owned();
        claim(&app, &terminal_uploader(&acme.tenant_id, &alice_id), std::slice::from_ref(&id), "work-order-1").unwrap();
        assert_eq!(download(&app, &format!("{UPLOAD}/{id}"), &acme.access).await.0, StatusCode::OK);
        assert_eq!(download(&app, &format!("{UPLOAD}/{id}"), &alice).await.0, StatusCode::OK);
        assert_eq!(download(&app, &format!("{UPLOAD}/{id}"), &bob).await.0, StatusCode::NOT_FOUND);
        assert_eq!(download(&app, &format!("{UPLOAD}/{id}"), &other.access).await.0, StatusCode::NOT_FOUND);
        let fetched = app.get(&format!("{UPLOAD}/{id}"), bearer(&alice)).await;
        assert_eq!(fetched.status, StatusCode::OK);
    }

    async fn a_retried_upload_makes_one_record(app: TestApp) {
        let (_, alice, bob) = tenant_with_customers(&app).await;
        let photo = phone_jpeg(64, 48);
        let parts = [("file", "a.jpg", "image/jpeg", &photo[..])];
        let first = upload_parts(&app, &alice, &parts, Some("photo-1")).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        let retry = upload_parts(&app, &alice, &parts, Some("photo-1")).await;
        assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text);
        assert_eq!(retry.header("idempotent-replayed"), Some("true"));
        assert_eq!(retry.body["id"], first.body["id"]);
        assert_eq!(retry.header("location"), first.header("location"));
        assert_eq!(app.count_rows("attachments"), 1);
        assert_eq!(blob_files(&app), 2);
        // The same key with another photo is refused; another caller's key is their own.
        let other = phone_jpeg(48, 64);
        let reused = upload_parts(&app, &alice, &[("file", "b.jpg", "image/jpeg", &other)], Some("photo-1")).await;
        reused.problem(422, "validation-failed");
        assert_eq!(reused.error_fields(), ["Idempotency-Key"]);
        let bobs = upload_parts(&app, &bob, &parts, Some("photo-1")).await;
        assert_eq!(bobs.status, StatusCode::CREATED);
        assert_ne!(bobs.body["id"], first.body["id"]);
        // An oversized body with a key is refused before anything runs.
        let mut big = photo.clone();
        big.resize(11 * 1024 * 1024, 0);
        let too_big = upload_parts(&app, &alice, &[("file", "big.jpg", "image/jpeg", &big)], Some("photo-2")).await;
        too_big.problem(413, "payload-too-large");
        assert_eq!(app.count_rows("attachments"), 2);
    }

    async fn unclaimed_photos_go_after_a_day_and_claimed_ones_stay(app: TestApp) {
        let (acme, alice, _) = tenant_with_customers(&app).await;
        let kept = uploaded(&app, &alice, &phone_jpeg(64, 48)).await;
        let dropped = uploaded(&app, &alice, &phone_jpeg(48, 64)).await;
        let alice_id = me(&app, &alice).await["user_id"].as_str().unwrap().to_owned();
        claim(&app, &terminal_uploader(&acme.tenant_id, &alice_id), std::slice::from_ref(&kept), "work-order-1").unwrap();
        assert_eq!(blob_files(&app), 4);

        app.advance_clock(Duration::hours(23));
        app.periodic_jobs_done().await;
        assert_eq!(app.count_rows("attachments"), 2, "a day has not passed");

        app.advance_clock(Duration::hours(2));
        app.periodic_jobs_done().await;
        assert_eq!(app.count_rows("attachments"), 1);
        assert_eq!(blob_files(&app), 2, "the unclaimed photo's blobs are gone");
        // A day on, Alice's token has expired: she logs in again.
        let alice = access_of(&wx_login(&app, "alice").await);
        assert_eq!(download(&app, &format!("{UPLOAD}/{dropped}"), &alice).await.0, StatusCode::NOT_FOUND);
        let (status, _, bytes) = download(&app, &format!("{UPLOAD}/{kept}"), &alice).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 48, "64 × 48, turned upright");
    }

    async fn a_work_order_holds_at_most_nine_photos(app: TestApp) {
        let (acme, alice, bob) = tenant_with_customers(&app).await;
        let mut ids = Vec::new();
        for i in 0..10 {
            ids.push(uploaded(&app, &alice, &phone_jpeg(32 + i, 32)).await);
        }
        let bobs = uploaded(&app, &bob, &phone_jpeg(32, 32)).await;
        let alice_id = me(&app, &alice).await["user_id"].as_str().unwrap().to_owned();
        let alice_up = terminal_uploader(&acme.tenant_id, &alice_id);

        refused_naming(claim(&app, &alice_up, &ids, "work-order-1"), 422, "too_many");
        let twice = vec![ids[0].clone(), ids[0].clone()];
        refused_naming(claim(&app, &alice_up, &twice, "work-order-1"), 422, "duplicate");
        let with_bobs = vec![ids[0].clone(), bobs.clone()];
        refused_naming(claim(&app, &alice_up, &with_bobs, "work-order-1"), 422, "not_found");
        let unknown = vec!["0190ffff-0000-7000-8000-000000000000".to_owned()];
        refused_naming(claim(&app, &alice_up, &unknown, "work-order-1"), 422, "not_found");
        let elsewhere = Uploader { tenant_id: TenantId("another-tenant".into()), ..alice_up.clone() };
        refused_naming(claim(&app, &elsewhere, &ids[..1], "work-order-1"), 422, "not_found");
        // Nothing was claimed by the refused calls.
        assert_eq!(download(&app, &format!("{UPLOAD}/{}", ids[0]), &acme.access).await.0, StatusCode::NOT_FOUND);

        let claimed = claim(&app, &alice_up, &ids[..9], "work-order-1").unwrap();
        assert_eq!(claimed.iter().map(|row| row.id.clone()).collect::<Vec<_>>(), ids[..9]);
        assert!(claimed.iter().all(|row| row.work_order_id.as_deref() == Some("work-order-1") && row.claimed_at.is_some()));
        // A tenth on the same order, later: refused naming attachment_ids.
        refused_naming(claim(&app, &alice_up, &ids[9..], "work-order-1"), 422, "too_many");
        // One claimed already cannot move to another order.
        refused_naming(claim(&app, &alice_up, &ids[..1], "work-order-2"), 409, "attachment-claimed");
        // The tenth still fits another order.
        claim(&app, &alice_up, &ids[9..], "work-order-2").unwrap();
        let held = app.state.db.read(|conn| attachments::of_work_order(conn, &alice_up.tenant_id, "work-order-1")).unwrap();
        assert_eq!(held.len(), 9);
    }
}

/// A tiny photo is kept as it is, never enlarged, as its own thumbnail.
#[test]
fn a_small_photo_is_its_own_thumbnail() {
    let png = {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(pixels(20, 10))
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let prepared = attachments::prepare(&png).unwrap();
    assert_eq!((prepared.thumb_width, prepared.thumb_height), (20, 10));
}
