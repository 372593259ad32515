//! QR codes end to end: 3 blank codes → a customer without the permission scans one →
//! an engineer binds it → the customer sees the device with "report a fault" → a guest
//! scans a private device (404) and a public one; images, label sheet and `/q/{code}`.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::{
    access_of, account_with_contact, add_method, put_policy, register, tenant_with_app, wx_login,
};

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
        let settings = app.get("/api/v1/admin/qr-settings", bearer(&admin)).await;
        let mut body = settings.body.clone();
        body["enabled"] = json!(true);
        body["rule"] = json!({ "kind": "sequence", "prefix": "P", "digits": 4 });
        let saved = app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&body), bearer(&admin)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        let batch = json!({ "count": 5 });
        let batches = (0..4).map(|_| app.post("/api/v1/admin/qr-codes", &batch, bearer(&admin)));
        let answers = futures_util::future::join_all(batches).await;
        let mut codes = Vec::new();
        for answer in &answers {
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
            codes.extend(answer.body.as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_owned()));
        }
        codes.sort();
        let expected: Vec<String> = (1..=20).map(|n| format!("P{n:04}")).collect();
        assert_eq!(codes, expected);

        // The serial rule prints serials as they are, so only letters and digits will do.
        body["rule"] = json!({ "kind": "serial" });
        let etag = saved.header("etag").unwrap().to_owned();
        let serial = app.call(reqwest::Method::PUT, "/api/v1/admin/qr-settings", Some(&body), Opts { token: Some(&admin), if_match: Some(&etag), ..Opts::default() }).await;
        assert_eq!(serial.status, StatusCode::OK, "{}", serial.text);
        let slashed = app.post("/api/v1/admin/devices", &json!({ "name": "Pump", "serial_no": "SN/12?3" }), bearer(&admin)).await;
        let plain = app.post("/api/v1/admin/devices", &json!({ "name": "Fan", "serial_no": "fan-0042" }), bearer(&admin)).await;
        let refused = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [slashed.body["id"]] }), bearer(&admin)).await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.body["errors"][0]["code"], "serial_not_a_code");
        let made = app.post("/api/v1/admin/qr-codes", &json!({ "device_ids": [plain.body["id"]] }), bearer(&admin)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        assert_eq!(made.body[0]["code"], "FAN0042");
        assert_eq!(made.body[0]["device_id"], plain.body["id"]);
    }
}
