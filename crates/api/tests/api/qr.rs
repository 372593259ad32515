//! QR codes end to end: 3 blank codes → a customer without the permission scans one →
//! an engineer binds it → the customer sees the device with "report a fault" → a guest
//! scans a private device (404) and a public one; images, label sheet and `/q/{code}`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::devices::add_device;
use crate::support::*;
use crate::terminal::{
    access_of, account_with_contact, add_method, put_policy, register, register_with,
    tenant_with_app, wx_login,
};

/// Switches the QR feature on with this code rule.
async fn enable_qr(app: &TestApp, admin: &str, rule: Value) {
    let settings = app.get("/api/v1/admin/qr-settings", bearer(admin)).await;
    let mut body = settings.body.clone();
    body["enabled"] = json!(true);
    body["rule"] = rule;
    let saved = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/admin/qr-settings",
            Some(&body),
            bearer(admin),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
}

/// The `code` of each code in a list or page of them.
fn codes_of(list: &Value) -> Vec<String> {
    list.as_array()
        .or_else(|| list["items"].as_array())
        .unwrap_or_else(|| panic!("no codes in {list}"))
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

backend_tests! {
    async fn blank_codes_are_scanned_bound_and_resolved(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        let (account, _) = account_with_contact(&app, &admin, "甲公司", Some("13900139200")).await;
        let (_, engineer) = app.add_staff(&admin, "acme", "13900139201", "engineer").await;
        let (_, dispatcher) = app.add_staff(&admin, "acme", "13900139202", "dispatcher").await;

        // The feature is off until switched on.
        app.post("/api/v1/admin/qr-codes", &json!({ "count": 3 }), bearer(&admin)).await.problem(404, "not-found");
        let settings = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        let mut body = settings.body.clone();
        body["enabled"] = json!(true);
        body["rule"] = json!({ "kind": "sequence", "prefix": "AC", "digits": 5 });
        let saved = app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&body), bearer(&admin)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);

        let generated = app.post("/api/v1/admin/qr-codes", &json!({ "count": 3 }), bearer(&admin)).await;
        assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
        let codes: Vec<String> = generated.body.as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect();
        assert_eq!(codes, ["AC00001", "AC00002", "AC00003"]);
        assert_eq!(generated.body[0]["url"], "https://acme.baoxiu.localhost/q/AC00001");
        let more = app.post("/api/v1/admin/qr-codes", &json!({ "count": 1 }), bearer(&admin)).await;
        assert_eq!(more.body[0]["code"], "AC00004", "never reissued");

        // A customer without the permission scans a blank code.
        let customer = access_of(&wx_login(&app, "quinn").await);
        register(&app, &customer, "甲公司", "奎因", "13900139200").await;
        let blank = app.get("/api/v1/scan/AC00001", bearer(&customer)).await;
        assert_eq!(blank.status, StatusCode::OK, "{}", blank.text);
        assert_eq!(blank.body["kind"], "blank");
        assert_eq!(blank.body["may_bind"], false);
        app.post("/api/v1/scan/AC00001/bind", &json!({ "device_id": "x" }), bearer(&customer)).await.problem(403, "forbidden");

        // An engineer binds it to a new device of the customer's account; a dispatcher may not.
        let device = app
            .post("/api/v1/admin/devices", &json!({ "name": "3号冷水机", "account_id": account, "serial_no": "CH-3" }), bearer(&admin))
            .await;
        let device_id = device.body["id"].as_str().unwrap().to_owned();
        let engineer_scan = app.get("/api/v1/scan/AC00001", bearer(&engineer)).await;
        assert_eq!(engineer_scan.body["may_bind"], true);
        app.post("/api/v1/scan/AC00001/bind", &json!({ "device_id": device_id }), bearer(&dispatcher)).await.problem(403, "forbidden");
        let bound = app.post("/api/v1/scan/AC00001/bind", &json!({ "device_id": device_id }), bearer(&engineer)).await;
        assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
        app.post("/api/v1/scan/AC00001/bind", &json!({ "device_id": device_id }), bearer(&engineer)).await.problem(409, "conflict");

        // The customer scans again: their device, and they may report a fault.
        let seen = app.get("/api/v1/scan/AC00001", bearer(&customer)).await;
        assert_eq!(seen.body["kind"], "device");
        assert_eq!(seen.body["device"]["id"], device_id.as_str());
        assert!(seen.body["actions"].as_array().unwrap().contains(&json!("report_fault")));

        // A guest: the private device answers 404; a public one is seen.
        let (guest_account, guest_contact) = account_with_contact(&app, &admin, "散客", None).await;
        put_policy(&app, &admin, json!({ "guest_enabled": true, "guest_account_id": guest_account, "guest_contact_id": guest_contact })).await;
        let guest = access_of(&app.post("/api/v1/auth/guest", &json!({}), tenant("acme")).await);
        app.get("/api/v1/scan/AC00001", bearer(&guest)).await.problem(404, "not-found");
        let public = app
            .post("/api/v1/admin/devices", &json!({ "name": "大堂饮水机", "visibility": "public" }), bearer(&admin))
            .await;
        let public_id = public.body["id"].as_str().unwrap();
        app.post("/api/v1/scan/AC00002/bind", &json!({ "device_id": public_id }), bearer(&admin)).await;
        let guest_seen = app.get("/api/v1/scan/AC00002", bearer(&guest)).await;
        assert_eq!(guest_seen.status, StatusCode::OK, "{}", guest_seen.text);
        assert_eq!(guest_seen.body["device"]["name"], "大堂饮水机");
        // Another tenant's code does not exist here; unknown codes answer 404.
        app.get("/api/v1/scan/NOPE", bearer(&customer)).await.problem(404, "not-found");

        // Images and the label sheet.
        let svg = app.get("/api/v1/admin/qr-codes/AC00001/image", bearer(&admin)).await;
        assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
        assert!(svg.text.contains("AC00001"), "caption");
        let png = app.client.get(format!("{}/api/v1/admin/qr-codes/AC00001/image?format=png", app.base)).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(png.headers().get("content-type").unwrap(), "image/png");
        assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG"));
        let sheet = app
            .post("/api/v1/admin/qr-codes/export", &json!({ "codes": ["AC00001", "AC00002", "AC00003"], "rows": 2, "columns": 2 }), bearer(&admin))
            .await;
        assert_eq!(sheet.status, StatusCode::OK, "{}", sheet.text);
        assert_eq!(sheet.text.matches("<g class=\"label\"").count(), 3);
        app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": ["AC00001", "ZZ"] }), bearer(&admin)).await.problem(404, "not-found");
        // What cannot be a code (the schema's pattern) is a bad field, every one named.
        let shapes = app
            .post("/api/v1/admin/qr-codes/export", &json!({ "codes": ["AC00001", "AC-00002", "A".repeat(65), ""] }), bearer(&admin))
            .await;
        assert_eq!(shapes.error_fields(), ["codes.1", "codes.2", "codes.3"], "{}", shapes.text);

        // The printed URL redirects to the landing page, by host or by ?t=.
        let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let opened = no_redirect.get(format!("{}/q/AC00001", app.base)).header("Host", "acme.baoxiu.localhost").send().await.unwrap();
        let status = opened.status();
        let headers = opened.headers().clone();
        assert_eq!(status, StatusCode::FOUND, "{}", opened.text().await.unwrap());
        let opened = headers;
        assert_eq!(opened.get("location").unwrap(), "https://acme.baoxiu.localhost/h5/#/scan/AC00001");
        let by_query = no_redirect.get(format!("{}/q/AC00002?t=acme", app.base)).send().await.unwrap();
        assert_eq!(by_query.status(), StatusCode::FOUND);
        let unknown = no_redirect.get(format!("{}/q/NOPE?t=acme", app.base)).send().await.unwrap();
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    }

    async fn codes_export_as_zip_files_of_images(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        let settings = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        let mut body = settings.body.clone();
        body["enabled"] = json!(true);
        body["rule"] = json!({ "kind": "sequence", "prefix": "ZP", "digits": 3 });
        app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&body), bearer(&admin)).await;
        app.post("/api/v1/admin/qr-codes", &json!({ "count": 3 }), bearer(&admin)).await;
        let codes = json!(["ZP001", "ZP002", "ZP003"]);

        for (format, extension) in [("png_zip", "png"), ("svg_zip", "svg")] {
            let answer = app
                .client
                .post(format!("{}/api/v1/admin/qr-codes/export", app.base))
                .bearer_auth(&admin)
                .json(&json!({ "codes": codes, "format": format }))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            assert_eq!(answer.headers().get("content-type").unwrap(), "application/zip");
            // Streamed as it is made, never held whole: no length is known up front.
            assert!(answer.headers().get("content-length").is_none(), "{:?}", answer.headers());
            let bytes = answer.bytes().await.unwrap().to_vec();
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            let mut names: Vec<String> = zip.file_names().map(|name| name.unwrap().into_owned()).collect();
            names.sort();
            assert_eq!(names, ["ZP001", "ZP002", "ZP003"].map(|c| format!("{c}.{extension}")));
            let mut image = Vec::new();
            std::io::Read::read_to_end(&mut zip.by_name(&format!("ZP002.{extension}")).unwrap(), &mut image).unwrap();
            if extension == "png" {
                // The image in the file decodes to the code's URL.
                let gray = image::load_from_memory(&image).unwrap().to_luma8();
                let mut prepared = rqrr::PreparedImage::prepare(gray);
                let grids = prepared.detect_grids();
                assert_eq!(grids.len(), 1);
                assert_eq!(grids[0].decode().unwrap().1, "https://acme.baoxiu.localhost/q/ZP002");
            } else {
                let svg = String::from_utf8(image).unwrap();
                assert!(svg.starts_with("<?xml") && svg.contains(">ZP002</text>"), "{svg}");
            }
        }
        // More codes than fit on one sheet: as many sheets as needed, in a ZIP.
        let sheets = app
            .client
            .post(format!("{}/api/v1/admin/qr-codes/export", app.base))
            .bearer_auth(&admin)
            .json(&json!({ "codes": codes, "format": "label_sheets_zip", "rows": 1, "columns": 2 }))
            .send()
            .await
            .unwrap();
        assert_eq!(sheets.status(), StatusCode::OK);
        let bytes = sheets.bytes().await.unwrap().to_vec();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut sheet = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("sheet-002.svg").unwrap(), &mut sheet).unwrap();
        assert_eq!(sheet.matches("<g class=\"label\"").count(), 1);
        assert_eq!(zip.len(), 2);
        app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": codes, "rows": 1, "columns": 2 }), bearer(&admin))
            .await
            .problem(422, "validation-failed");
        app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": [], "format": "png_zip" }), bearer(&admin))
            .await
            .problem(422, "validation-failed");
        app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": codes, "format": "pdf" }), bearer(&admin))
            .await
            .problem(422, "validation-failed");
        // Another tenant's codes do not exist for this one.
        let other = app.sign_up("other", "13900139000").await.access;
        app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": ["ZP001"], "format": "svg_zip" }), bearer(&other))
            .await
            .problem(404, "not-found");
    }

    async fn codes_made_at_the_same_time_are_all_distinct(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        enable_qr(&app, &admin, json!({ "kind": "sequence", "prefix": "P", "digits": 4 })).await;
        let batch = json!({ "count": 5 });
        let batches = (0..4).map(|_| app.post("/api/v1/admin/qr-codes", &batch, bearer(&admin)));
        let answers = futures_util::future::join_all(batches).await;
        let mut codes = Vec::new();
        for answer in &answers {
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
            codes.extend(codes_of(&answer.body));
        }
        codes.sort();
        let expected: Vec<String> = (1..=20).map(|n| format!("P{n:04}")).collect();
        assert_eq!(codes, expected);

        // The serial rule prints serials as they are, so only letters and digits will do.
        enable_qr(&app, &admin, json!({ "kind": "serial" })).await;
        let slashed = add_device(&app, &admin, json!({ "name": "Pump", "serial_no": "SN/12?3" })).await;
        let plain = add_device(&app, &admin, json!({ "name": "Fan", "serial_no": "fan-0042" })).await;
        let refused = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [slashed] }), bearer(&admin)).await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.body["errors"][0]["code"], "serial_not_a_code");
        let made = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [plain] }), bearer(&admin)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        assert_eq!(made.body[0]["code"], "FAN0042");
        assert_eq!(made.body[0]["device_id"], plain.as_str());
    }
}

backend_tests! {
    async fn random_codes_have_the_length_and_the_unambiguous_alphabet(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        enable_qr(&app, &admin, json!({ "kind": "random", "length": 10 })).await;
        let generated = app.post("/api/v1/admin/qr-codes", &json!({ "count": 30 }), bearer(&admin)).await;
        assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
        let codes = codes_of(&generated.body);
        assert_eq!(codes.len(), 30);
        for code in &codes {
            assert_eq!(code.len(), 10, "{code}");
            assert!(code.chars().all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c)), "{code} has a character people misread");
        }
        let mut distinct = codes.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 30, "codes are unique");
        assert_eq!(generated.body[0]["device_id"], Value::Null);
        assert_eq!(generated.body[0]["url"], format!("https://acme.baoxiu.localhost/q/{}", codes[0]));
        // Such a code scans as blank.
        let scanned = app.get(&format!("/api/v1/scan/{}", codes[0]), bearer(&admin)).await;
        assert_eq!(scanned.body["kind"], "blank", "{}", scanned.text);
    }

    async fn serial_codes_are_the_serials_of_chosen_devices(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        enable_qr(&app, &admin, json!({ "kind": "serial" })).await;
        let first = add_device(&app, &admin, json!({ "name": "空压机", "serial_no": "sn-0001-a" })).await;
        let second = add_device(&app, &admin, json!({ "name": "冷水机", "serial_no": "ＣＨ ３" })).await;
        let no_serial = add_device(&app, &admin, json!({ "name": "无序列号" })).await;

        let generated = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [first, second] }), bearer(&admin)).await;
        assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
        assert_eq!(codes_of(&generated.body), ["SN0001A", "CH3"]);
        assert_eq!(generated.body[0]["device_id"], first.as_str());
        assert_eq!(generated.body[1]["device_id"], second.as_str());
        assert!(generated.body[0]["bound_at"].is_string(), "{}", generated.text);
        let scanned = app.get("/api/v1/scan/SN0001A", bearer(&admin)).await;
        assert_eq!(scanned.body["kind"], "device", "{}", scanned.text);
        assert_eq!(scanned.body["device"]["id"], first.as_str());
        // No blank codes, no code without a serial, and no code twice.
        let blank = app.post("/api/v1/admin/qr-codes", &json!({ "count": 1 }), bearer(&admin)).await;
        blank.problem(422, "validation-failed");
        assert_eq!(blank.error_fields(), ["count"]);
        let missing = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [no_serial] }), bearer(&admin)).await;
        missing.problem(422, "validation-failed");
        assert_eq!(missing.error_fields(), ["device_ids"]);
        app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [first] }), bearer(&admin)).await.problem(409, "conflict");
        assert_eq!(app.count_rows("qr_codes"), 2);
    }

    async fn qr_settings_refuse_stale_and_invalid_changes(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        let put = |body: Value, if_match: Option<&'static str>| {
            let app = &app;
            let admin = admin.clone();
            async move {
                app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&body), Opts { token: Some(&admin), if_match, ..Opts::default() }).await
            }
        };
        let read = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        assert_eq!(read.header("etag"), Some("\"0\""));
        let defaults = read.body.clone();
        let mut first = defaults.clone();
        first["enabled"] = json!(true);
        first["rule"] = json!({ "kind": "sequence", "prefix": "AC", "digits": 5 });
        let saved = put(first.clone(), Some("\"0\"")).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        assert_eq!(saved.header("etag"), Some("\"1\""));

        // Someone else's change was saved since "0" was read: 412, and nothing changes.
        let mut lost = defaults.clone();
        lost["rule"] = json!({ "kind": "random", "length": 8 });
        put(lost, Some("\"0\"")).await.problem(412, "precondition-failed");
        let now = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        assert_eq!(now.body, first);
        assert_eq!(now.header("etag"), Some("\"1\""));

        // Bad settings: every bad field named, and nothing changes.
        let mut bad = first.clone();
        bad["rule"] = json!({ "kind": "sequence", "prefix": "A-B", "digits": 2 });
        bad["url_template"] = json!("ftp://example.com/{code}");
        bad["landing_url_template"] = json!("https://example.com/no-code");
        bad["style"]["module_px"] = json!(0);
        bad["style"]["quiet_zone"] = json!(11);
        bad["style"]["foreground"] = json!("black");
        let refused = put(bad, Some("\"1\"")).await;
        refused.problem(422, "validation-failed");
        let mut fields = refused.error_fields();
        fields.sort();
        assert_eq!(fields, ["landing_url_template", "rule.digits", "rule.prefix", "style.foreground", "style.module_px", "style.quiet_zone", "url_template"]);
        let mut short = first.clone();
        short["rule"] = json!({ "kind": "random", "length": 5 });
        let refused = put(short, None).await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.error_fields(), ["rule.length"]);
        let now = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        assert_eq!(now.body, first);
        assert_eq!(now.header("etag"), Some("\"1\""));
        let generated = app.post("/api/v1/admin/qr-codes", &json!({ "count": 1 }), bearer(&admin)).await;
        assert_eq!(codes_of(&generated.body), ["AC00001"]);
    }

    async fn codes_for_chosen_devices_and_the_bound_filter(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        enable_qr(&app, &admin, json!({ "kind": "sequence", "prefix": "DV", "digits": 3 })).await;
        let first = add_device(&app, &admin, json!({ "name": "1号机" })).await;
        let second = add_device(&app, &admin, json!({ "name": "2号机" })).await;

        let for_devices = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [first, second] }), bearer(&admin)).await;
        assert_eq!(for_devices.status, StatusCode::CREATED, "{}", for_devices.text);
        assert_eq!(codes_of(&for_devices.body), ["DV001", "DV002"]);
        assert_eq!(for_devices.body[0]["device_id"], first.as_str());
        assert_eq!(for_devices.body[1]["device_id"], second.as_str());
        let blank = app.post("/api/v1/admin/qr-codes", &json!({ "count": 2 }), bearer(&admin)).await;
        assert_eq!(codes_of(&blank.body), ["DV003", "DV004"]);
        // An unknown device refuses the whole batch, and uses up no number.
        let unknown = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [first, "nope"] }), bearer(&admin)).await;
        unknown.problem(422, "validation-failed");
        assert_eq!(unknown.error_fields(), ["device_ids.1"]);

        let bound = app.get("/api/v1/admin/qr-codes?bound=true", bearer(&admin)).await;
        assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
        assert_eq!(codes_of(&bound.body), ["DV001", "DV002"]);
        assert_eq!(bound.body["items"][1]["device_id"], second.as_str());
        let blanks = app.get("/api/v1/admin/qr-codes?bound=false", bearer(&admin)).await;
        assert_eq!(codes_of(&blanks.body), ["DV003", "DV004"]);
        assert!(blanks.body["items"].as_array().unwrap().iter().all(|c| c["device_id"].is_null() && c["bound_at"].is_null()));
        let all = app.get("/api/v1/admin/qr-codes", bearer(&admin)).await;
        assert_eq!(codes_of(&all.body), ["DV001", "DV002", "DV003", "DV004"]);
        // Binding moves a code from one list to the other.
        let bound_now = app.post("/api/v1/scan/DV004/bind", &json!({ "device_id": first }), bearer(&admin)).await;
        assert_eq!(bound_now.status, StatusCode::OK, "{}", bound_now.text);
        let bound = app.get("/api/v1/admin/qr-codes?bound=true", bearer(&admin)).await;
        assert_eq!(codes_of(&bound.body), ["DV001", "DV002", "DV004"]);
        let blanks = app.get("/api/v1/admin/qr-codes?bound=false", bearer(&admin)).await;
        assert_eq!(codes_of(&blanks.body), ["DV003"]);
        let next = app.post("/api/v1/admin/qr-codes", &json!({ "count": 1 }), bearer(&admin)).await;
        assert_eq!(codes_of(&next.body), ["DV005"]);
    }

    async fn binding_creates_the_new_device_in_the_same_call(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        let (_, engineer) = app.add_staff(&admin, "acme", "13900139210", "engineer").await;
        enable_qr(&app, &admin, json!({ "kind": "sequence", "prefix": "NW", "digits": 3 })).await;
        app.post("/api/v1/admin/qr-codes", &json!({ "count": 2 }), bearer(&admin)).await;
        let account = app.post("/api/v1/admin/accounts", &json!({ "name": "甲公司" }), bearer(&admin)).await;
        let account_id = account.body["id"].as_str().unwrap().to_owned();

        // Both or neither of device_id and device, or a bad new device: refused, nothing made.
        let existing = add_device(&app, &admin, json!({ "name": "旧设备" })).await;
        let both = app
            .post("/api/v1/scan/NW001/bind", &json!({ "device_id": existing, "device": { "name": "新设备" } }), bearer(&engineer))
            .await;
        both.problem(422, "validation-failed");
        assert_eq!(both.error_fields(), ["device_id"]);
        app.post("/api/v1/scan/NW001/bind", &json!({}), bearer(&engineer)).await.problem(422, "validation-failed");
        let bad = app.post("/api/v1/scan/NW001/bind", &json!({ "device": { "name": "" } }), bearer(&engineer)).await;
        bad.problem(422, "validation-failed");
        assert_eq!(app.count_rows("devices"), 1);
        assert_eq!(app.get("/api/v1/scan/NW001", bearer(&engineer)).await.body["kind"], "blank");

        let bound = app
            .post(
                "/api/v1/scan/NW001/bind",
                &json!({ "device": { "name": "5号冷水机", "account_id": account_id, "serial_no": "CH-5", "brand": "开利" } }),
                bearer(&engineer),
            )
            .await;
        assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
        assert_eq!(bound.body["name"], "5号冷水机");
        assert_eq!(bound.body["account_id"], account_id.as_str());
        assert_eq!(bound.body["serial_no"], "CH-5");
        let device_id = bound.body["id"].as_str().unwrap().to_owned();
        let stored = app.get(&format!("/api/v1/admin/devices/{device_id}"), bearer(&admin)).await;
        assert_eq!(stored.body["brand"], "开利", "{}", stored.text);
        let scanned = app.get("/api/v1/scan/NW001", bearer(&admin)).await;
        assert_eq!(scanned.body["kind"], "device", "{}", scanned.text);
        assert_eq!(scanned.body["device"]["id"], device_id.as_str());
        assert_eq!(scanned.body["device"]["name"], "5号冷水机");
        let listed = app.get("/api/v1/admin/qr-codes?bound=true", bearer(&admin)).await;
        assert_eq!(listed.body["items"][0]["code"], "NW001");
        assert_eq!(listed.body["items"][0]["device_id"], device_id.as_str());
    }

    async fn a_terminal_role_with_register_blank_code_binds_codes(app: TestApp) {
        let admin = tenant_with_app(&app).await.access;
        add_method(&app, &admin, "openid_auto", false, "exact").await;
        let (account, _) = account_with_contact(&app, &admin, "甲公司", Some("13900139220")).await;
        let (other_account, _) = account_with_contact(&app, &admin, "乙公司", Some("13900139221")).await;
        let installer = app
            .post("/api/v1/admin/roles", &json!({ "key": "installer", "name": "安装员", "permissions": ["submit_work_order", "view_devices", "register_blank_code"] }), bearer(&admin))
            .await;
        assert_eq!(installer.status, StatusCode::CREATED, "{}", installer.text);
        let installer = installer.body["id"].as_str().unwrap().to_owned();
        let ivy = access_of(&wx_login(&app, "ivy").await);
        let ivy_view = register(&app, &ivy, "甲公司", "艾薇", "13900139220").await;
        assert_eq!(ivy_view.body["account_id"], account.as_str(), "{}", ivy_view.text);
        let given = app
            .patch(&format!("/api/v1/admin/terminal-users/{}", ivy_view.body["user_id"].as_str().unwrap()), &json!({ "role_ids": [installer] }), bearer(&admin))
            .await;
        assert_eq!(given.status, StatusCode::OK, "{}", given.text);
        let joe = access_of(&wx_login(&app, "joe").await);
        // A colleague joins the account with an invitation code issued for it.
        let invitation = app.post("/api/v1/admin/invitation-codes", &json!({ "max_uses": 1, "account_id": account }), bearer(&admin)).await;
        let invitation = invitation.body["code"].as_str().unwrap().to_owned();
        let joined = register_with(&app, &joe, "13900139223", json!({ "account_name": "甲公司", "contact_name": "乔", "invitation_code": invitation })).await;
        assert_eq!(joined.status, StatusCode::OK, "{}", joined.text);
        enable_qr(&app, &admin, json!({ "kind": "sequence", "prefix": "TB", "digits": 3 })).await;
        app.post("/api/v1/admin/qr-codes", &json!({ "count": 3 }), bearer(&admin)).await;
        let device = add_device(&app, &admin, json!({ "name": "2号电梯", "account_id": account })).await;

        // Without the permission: may not bind.
        let joe_scan = app.get("/api/v1/scan/TB001", bearer(&joe)).await;
        assert_eq!(joe_scan.body["kind"], "blank", "{}", joe_scan.text);
        assert_eq!(joe_scan.body["may_bind"], false);
        app.post("/api/v1/scan/TB001/bind", &json!({ "device_id": device }), bearer(&joe)).await.problem(403, "forbidden");
        // With it: may bind, to a device of the user's account.
        let ivy_scan = app.get("/api/v1/scan/TB001", bearer(&ivy)).await;
        assert_eq!(ivy_scan.body["kind"], "blank", "{}", ivy_scan.text);
        assert_eq!(ivy_scan.body["may_bind"], true);
        let bound = app.post("/api/v1/scan/TB001/bind", &json!({ "device_id": device }), bearer(&ivy)).await;
        assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
        assert_eq!(bound.body["id"], device.as_str());
        let seen = app.get("/api/v1/scan/TB001", bearer(&joe)).await;
        assert_eq!(seen.body["kind"], "device", "{}", seen.text);
        assert_eq!(seen.body["device"]["id"], device.as_str());
        // Not to another account's private device: the user cannot see it.
        let foreign = add_device(&app, &admin, json!({ "name": "乙的设备", "account_id": other_account })).await;
        let refused = app.post("/api/v1/scan/TB002/bind", &json!({ "device_id": foreign }), bearer(&ivy)).await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.error_fields(), ["device_id"]);
        assert_eq!(app.get("/api/v1/scan/TB002", bearer(&ivy)).await.body["kind"], "blank");
        // A new device made in the bind call: a terminal user says only what a customer may
        // say about a machine. Its owner, serial, warranty, status and who sees it are staff's.
        let devices_before = app.count_rows("devices");
        for (field, value) in [
            ("account_id", json!(other_account)),
            ("visibility", json!("public")),
            ("warranty_status", json!("in_warranty")),
            ("warranty_ends_on", json!("2036-12-31")),
            ("status", json!("retired")),
            ("serial_no", json!("SN-OF-SOMEONE-ELSE")),
        ] {
            let mut device = json!({ "name": "新装空调" });
            device[field] = value;
            let refused = app.post("/api/v1/scan/TB003/bind", &json!({ "device": device }), bearer(&ivy)).await;
            refused.problem(422, "validation-failed");
            assert_eq!(refused.error_fields(), [format!("device.{field}")], "{}", refused.text);
            assert_eq!(refused.body["errors"][0]["code"], "unknown_field");
        }
        assert_eq!(app.count_rows("devices"), devices_before, "nothing made");
        assert_eq!(app.get("/api/v1/scan/TB003", bearer(&ivy)).await.body["kind"], "blank");
        let created = app
            .post(
                "/api/v1/scan/TB003/bind",
                &json!({ "device": { "name": "新装空调", "brand": "格力", "category": "空调", "model": "KFR-35", "machine_no": "M-35",
                                     "install_address": "3 楼机房", "latitude": 22.5, "longitude": 114.0 } }),
                bearer(&ivy),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text);
        assert_eq!(created.body["name"], "新装空调");
        assert_eq!(created.body["mine"], true);
        assert_eq!(created.body["latitude"], 22.5);
        // It joined the user's account, private, with staff's defaults for the rest.
        let stored = app.get(&format!("/api/v1/admin/devices/{}", created.body["id"].as_str().unwrap()), bearer(&admin)).await;
        assert_eq!(stored.body["account_id"], account.as_str(), "{}", stored.text);
        assert_eq!(stored.body["visibility"], "private");
        assert_eq!(stored.body["warranty_status"], "out_of_warranty");
        assert_eq!(stored.body["warranty_ends_on"], Value::Null);
        assert_eq!(stored.body["status"], "running");
        assert_eq!(stored.body["serial_no"], Value::Null);
        assert_eq!(stored.body["machine_no"], "M-35");
        assert_eq!(stored.body["install_address"], "3 楼机房");
        let joe_sees = app.get("/api/v1/scan/TB003", bearer(&joe)).await;
        assert_eq!(joe_sees.body["device"]["name"], "新装空调", "{}", joe_sees.text);
    }
}

/// Saves QR settings as `admin`; answers the answer.
async fn put_settings(app: &TestApp, admin: &str, settings: &Value) -> Answer {
    app.call(
        reqwest::Method::PUT,
        "/api/v1/admin/qr-settings",
        Some(settings),
        bearer(admin),
    )
    .await
}

/// The largest style there is: 40 pixels a module, 10 modules of border, high correction.
fn largest_style() -> Value {
    json!({ "module_px": 40, "quiet_zone": 10, "error_correction": "high", "foreground": "#000000", "background": "#FFFFFF", "caption": "code" })
}

/// A URL template that `acme`'s codes of 8 characters fill to exactly `length` characters:
/// `{host}` (acme.baoxiu.localhost, 21 characters) as often as fits, then padding.
fn template_filling_to(length: usize) -> String {
    let base = "https://{host}/q/{code}?h=";
    let mut filled = "https://acme.baoxiu.localhost/q/AB000001?h=".len();
    let mut template = base.to_owned();
    while filled + 21 <= length {
        template.push_str("{host}");
        filled += 21;
    }
    template.push_str(&"x".repeat(length - filled));
    template
}

/// Fetches a PNG image; answers its bytes.
async fn png_of(app: &TestApp, admin: &str, code: &str) -> Vec<u8> {
    let answer = app
        .client
        .get(format!(
            "{}/api/v1/admin/qr-codes/{code}/image?format=png",
            app.base
        ))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.bytes().await.unwrap().to_vec()
}

backend_tests! {
    async fn the_url_in_a_code_and_its_image_have_bounded_sizes(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        enable_qr(&app, &admin, json!({ "kind": "sequence", "prefix": "AB", "digits": 6 })).await;
        let mut settings = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await.body;
        settings["style"] = largest_style();

        // A template of 300 characters is short, but each {host} becomes 21 of them: the URL
        // is counted as printed in the code, with the longest code the rule makes.
        let mut hosts = settings.clone();
        hosts["url_template"] = json!(format!("https://{}{{code}}", "{host}/".repeat(40)));
        assert!(hosts["url_template"].as_str().unwrap().len() <= 300);
        let refused = put_settings(&app, &admin, &hosts).await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.error_fields(), ["url_template"]);
        assert_eq!(refused.body["errors"][0]["code"], "too_long");
        let mut over = settings.clone();
        over["url_template"] = json!(template_filling_to(513));
        assert_eq!(put_settings(&app, &admin, &over).await.error_fields(), ["url_template"]);
        // The same for the landing page, whose URL goes into a Location header.
        let mut landing = settings.clone();
        landing["landing_url_template"] = json!(format!("https://{}{{code}}", "{host}/".repeat(40)));
        assert_eq!(put_settings(&app, &admin, &landing).await.error_fields(), ["landing_url_template"]);

        // The longest URL at the largest style: the PNG stays within 2048 pixels a side
        // (fewer pixels a module) and still reads as its URL.
        let mut longest = settings.clone();
        longest["url_template"] = json!(template_filling_to(512));
        let saved = put_settings(&app, &admin, &longest).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        let generated = app.post("/api/v1/admin/qr-codes", &json!({ "count": 1 }), bearer(&admin)).await;
        let url = generated.body[0]["url"].as_str().unwrap().to_owned();
        assert_eq!(url.len(), 512);
        let png = png_of(&app, &admin, "AB000001").await;

        // Settings saved before the rule existed are not rendered either: nothing is drawn,
        // and the answer names the template.
        app.execute_sql(&format!(
            "UPDATE qr_settings SET url_template = 'https://{}{{code}}'",
            "{host}/".repeat(40)
        ));
        let stale = app.get("/api/v1/admin/qr-codes/AB000001/image?format=png", bearer(&admin)).await;
        stale.problem(422, "validation-failed");
        assert_eq!(stale.error_fields(), ["url_template"]);
        let export = app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": ["AB000001"], "format": "png_zip" }), bearer(&admin)).await;
        export.problem(422, "validation-failed");
        assert_eq!(export.error_fields(), ["url_template"]);

        let image = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(image.width(), image.height());
        assert!(image.width() <= 2048, "{} pixels a side", image.width());
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        assert_eq!(grids[0].decode().unwrap().1, url);
    }

    async fn renders_beyond_the_per_process_limit_answer_503_at_once(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        enable_qr(&app, &admin, json!({ "kind": "sequence", "prefix": "RL", "digits": 3 })).await;
        app.post("/api/v1/admin/qr-codes", &json!({ "count": 2 }), bearer(&admin)).await;

        // Every render slot of the process is taken (by exports in flight, say).
        let slots = app.state.renders.available_permits();
        assert!(slots >= 1);
        let held = app.state.renders.clone().try_acquire_many_owned(slots as u32).unwrap();
        let busy = app.get("/api/v1/admin/qr-codes/RL001/image?format=png", bearer(&admin)).await;
        busy.problem(503, "service-unavailable");
        assert!(busy.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1, "{:?}", busy.headers);
        let svg = app.get("/api/v1/admin/qr-codes/RL001/image", bearer(&admin)).await;
        svg.problem(503, "service-unavailable");
        for format in ["label_sheet", "label_sheets_zip", "svg_zip", "png_zip"] {
            let export = app.post("/api/v1/admin/qr-codes/export", &json!({ "codes": ["RL001", "RL002"], "format": format }), bearer(&admin)).await;
            export.problem(503, "service-unavailable");
            assert!(export.header("retry-after").is_some());
        }
        // Everything else answers as usual meanwhile.
        assert_eq!(app.get("/healthz/live", Opts::default()).await.status, StatusCode::OK);
        assert_eq!(app.get("/api/v1/admin/qr-codes", bearer(&admin)).await.status, StatusCode::OK);

        // A slot free again: the image renders.
        drop(held);
        assert!(png_of(&app, &admin, "RL001").await.starts_with(b"\x89PNG"));
        assert_eq!(app.state.renders.available_permits(), slots, "every slot is given back");
    }
}

/// Opens `/q/{code}` with this Host header; answers (status, Location).
async fn open_code(app: &TestApp, path: &str, host: Option<&str>) -> (StatusCode, Option<String>) {
    let mut request = app.client.get(format!("{}{path}", app.base));
    if let Some(host) = host {
        request = request.header("Host", host);
    }
    let answer = request.send().await.unwrap();
    let location = answer
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (answer.status(), location)
}

backend_tests! {
    async fn codes_open_on_the_hosts_tenant_and_land_only_on_its_own_hosts(app: TestApp) {
        let app = TestApp::spawn_with(app.backend, |config| config.cors_origins = vec!["https://h5.example.com".into()]).await;
        let acme = app.sign_up("acme", "13800138000").await.access;
        let evil = app.sign_up("evil", "13800138001").await.access;
        for admin in [&acme, &evil] {
            enable_qr(&app, admin, json!({ "kind": "sequence", "prefix": "BX", "digits": 6 })).await;
            app.post("/api/v1/admin/qr-codes", &json!({ "count": 1 }), bearer(admin)).await;
        }
        let settings = app.get("/api/v1/admin/qr-settings", bearer(&evil)).await.body;

        // A landing page elsewhere than the tenant's own hosts is refused, however dressed up.
        for elsewhere in [
            "https://evil.example/phish/{code}",
            "https://evil.baoxiu.localhost@evil.example/{code}",
            "https://evil.baoxiu.localhost.evil.example/{code}",
            "https://evil.example\\@evil.baoxiu.localhost/{code}",
            "https://acme.baoxiu.localhost/h5/#/scan/{code}",
            "https://{code}.evil.example/",
            "javascript://evil.baoxiu.localhost/%0aalert(1)//{code}",
        ] {
            let mut landing = settings.clone();
            landing["landing_url_template"] = json!(elsewhere);
            let refused = put_settings(&app, &evil, &landing).await;
            refused.problem(422, "validation-failed");
            assert_eq!(refused.error_fields(), ["landing_url_template"], "{elsewhere}");
        }
        // Its own host will do.
        let mut own = settings.clone();
        own["landing_url_template"] = json!("https://{host}/phish/{code}");
        let saved = put_settings(&app, &evil, &own).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);

        // On acme's host, acme's code opens whatever ?t= or X-Tenant name.
        let on_acme = Some("acme.baoxiu.localhost");
        let acme_landing = Some("https://acme.baoxiu.localhost/h5/#/scan/BX000001".to_owned());
        assert_eq!(open_code(&app, "/q/BX000001?t=evil", on_acme).await, (StatusCode::FOUND, acme_landing.clone()));
        let by_header = app.client.get(format!("{}/q/BX000001", app.base)).header("Host", "acme.baoxiu.localhost").header("X-Tenant", "evil").send().await.unwrap();
        assert_eq!(by_header.headers().get("location").unwrap(), "https://acme.baoxiu.localhost/h5/#/scan/BX000001");
        // A host that names no tenant leaves it to ?t=.
        assert_eq!(
            open_code(&app, "/q/BX000001?t=evil", None).await,
            (StatusCode::FOUND, Some("https://evil.baoxiu.localhost/phish/BX000001".to_owned()))
        );
        assert_eq!(open_code(&app, "/q/BX000001", None).await.0, StatusCode::BAD_REQUEST);

        // A configured front-end origin is a landing page too.
        let mut front_end = app.get("/api/v1/admin/qr-settings", bearer(&acme)).await.body;
        front_end["landing_url_template"] = json!("https://h5.example.com/#/scan/{code}?t={slug}");
        let saved = put_settings(&app, &acme, &front_end).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        assert_eq!(
            open_code(&app, "/q/BX000001", on_acme).await,
            (StatusCode::FOUND, Some("https://h5.example.com/#/scan/BX000001?t=acme".to_owned()))
        );

        // A landing page saved before the rule existed sends nobody away: the tenant's
        // default landing page on its own host instead.
        app.execute_sql("UPDATE qr_settings SET landing_url_template = 'https://evil.example/phish/{code}'");
        assert_eq!(open_code(&app, "/q/BX000001", on_acme).await, (StatusCode::FOUND, acme_landing));
        assert_eq!(
            open_code(&app, "/q/BX000001", Some("evil.baoxiu.localhost")).await,
            (StatusCode::FOUND, Some("https://evil.baoxiu.localhost/h5/#/scan/BX000001".to_owned()))
        );
    }
}
