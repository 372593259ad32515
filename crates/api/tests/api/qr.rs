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
        // A new device made in the bind call joins the user's account, whatever it names.
        let created = app
            .post("/api/v1/scan/TB003/bind", &json!({ "device": { "name": "新装空调", "account_id": other_account } }), bearer(&ivy))
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text);
        assert_eq!(created.body["account_id"], account.as_str());
        let joe_sees = app.get("/api/v1/scan/TB003", bearer(&joe)).await;
        assert_eq!(joe_sees.body["device"]["name"], "新装空调", "{}", joe_sees.text);
    }
}
