//! Devices in and out of CSV: 10,000 rows import; a file with bad rows names every one and
//! imports nothing unless a partial import is asked for; exports read back in.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;
use crate::terminal::account_with_contact;

const IMPORT: &str = "/api/v1/admin/devices/import";

async fn import(app: &TestApp, token: &str, query: &str, file: &str) -> Answer {
    app.post_raw(
        &format!("{IMPORT}{query}"),
        "text/csv",
        file.as_bytes().to_vec(),
        bearer(token),
    )
    .await
}

async fn device_count(app: &TestApp, token: &str) -> usize {
    let export = app.get("/api/v1/admin/devices/export", bearer(token)).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    export.text.lines().count() - 1
}

backend_tests! {
    async fn ten_thousand_devices_import(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        let mut file = String::from("\u{feff}serial_no,name,brand,model,visibility,latitude,longitude\n");
        for i in 0..10_000 {
            file.push_str(&format!("SN-{i:05},空压机 {i},阿特拉斯,GA{},public,22.5,114.05\n", i % 90));
        }
        let imported = import(&app, &admin, "", &file).await;
        assert_eq!(imported.status, StatusCode::OK, "{}", &imported.text[..imported.text.len().min(500)]);
        assert_eq!(imported.body["rows"], 10_000);
        assert_eq!(imported.body["imported"], 10_000);
        assert_eq!(imported.body["rejected"], json!([]));
        assert_eq!(device_count(&app, &admin).await, 10_000);
        let found = app.get("/api/v1/admin/devices?q=sn09999", bearer(&admin)).await;
        assert_eq!(found.body["items"][0]["name"], "空压机 9999");
        assert_eq!(found.body["items"][0]["visibility"], "public");
        // Importing the same file again: every serial is taken, nothing changes.
        let again = import(&app, &admin, "", &file).await;
        again.problem(422, "validation-failed");
        assert_eq!(again.body["errors"].as_array().unwrap().len(), 10_000);
        assert_eq!(again.body["errors"][0]["field"], "rows.2.serial_no");
        assert_eq!(again.body["errors"][0]["code"], "taken");
        assert_eq!(device_count(&app, &admin).await, 10_000);
    }

    async fn bad_rows_are_named_and_nothing_is_imported(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        let other = app.sign_up("other", "13900139000").await.access;
        let (account, _) = account_with_contact(&app, &other, "别家公司", None).await;
        let file = format!(
            "name,serial_no,status,warranty_ends_on,latitude,longitude,account_id\n\
             好设备,OK-1,running,2027-01-31,22.5,114.0,\n\
             ,NO-NAME,,,,,\n\
             坏状态,BAD-2,exploded,,,,\n\
             坏日期,BAD-3,,31/01/2027,,,\n\
             重复,ok-1,,,,,\n\
             越界,BAD-5,,,95,114,\n\
             别家账户,BAD-6,,,,,{account}\n\
             好设备二,OK-2,fault,,,,\n"
        );
        let rejected = import(&app, &admin, "", &file).await;
        rejected.problem(422, "validation-failed");
        let fields = rejected.error_fields();
        for expected in [
            "rows.3.name",
            "rows.4.status",
            "rows.5.warranty_ends_on",
            "rows.6.serial_no",
            "rows.7.latitude",
            "rows.8.account_id",
        ] {
            assert!(fields.contains(&expected.to_owned()), "{expected} in {fields:?}");
        }
        assert!(!fields.iter().any(|f| f.starts_with("rows.2.") || f.starts_with("rows.9.")), "{fields:?}");
        assert_eq!(device_count(&app, &admin).await, 0, "nothing imported");

        // A dry run reports the same, and writes nothing either.
        let dry = import(&app, &admin, "?partial=true&dry_run=true", &file).await;
        assert_eq!(dry.status, StatusCode::OK, "{}", dry.text);
        assert_eq!(dry.body["imported"], 2);
        assert_eq!(dry.body["dry_run"], true);
        assert_eq!(device_count(&app, &admin).await, 0);

        // Asked for, a partial import keeps the good rows and lists the others.
        let partial = import(&app, &admin, "?partial=true", &file).await;
        assert_eq!(partial.status, StatusCode::OK, "{}", partial.text);
        assert_eq!(partial.body["rows"], 8);
        assert_eq!(partial.body["imported"], 2);
        let rows: Vec<u64> = partial.body["rejected"].as_array().unwrap().iter().map(|r| r["row"].as_u64().unwrap()).collect();
        assert_eq!(rows, [3, 4, 5, 6, 7, 8]);
        assert_eq!(partial.body["rejected"][3]["errors"][0]["code"], "duplicate");
        assert_eq!(device_count(&app, &admin).await, 2);
        let audit = app.get("/api/v1/admin/audit-log?action=device.import", bearer(&admin)).await;
        assert_eq!(audit.body["items"][0]["after"]["imported"], 2, "{}", audit.text);
    }

    async fn files_that_are_not_device_lists_are_refused(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        // Excel's default "CSV" in China is GBK: 名称 in GBK is not UTF-8.
        let gbk = app.post_raw(IMPORT, "text/csv", b"\xc3\xfb\xb3\xc6\n\xbf\xd5\xd1\xb9\xbb\xfa\n".to_vec(), bearer(&admin)).await;
        gbk.problem(422, "validation-failed");
        assert_eq!(gbk.body["errors"][0]["field"], "file");
        assert_eq!(gbk.body["errors"][0]["code"], "encoding");
        let unknown = import(&app, &admin, "", "name,colour\nx,red\n").await;
        unknown.problem(422, "validation-failed");
        assert_eq!(unknown.error_fields(), ["header.2"]);
        let no_name = import(&app, &admin, "", "serial_no\nA1\n").await;
        assert_eq!(no_name.error_fields(), ["header"]);
        import(&app, &admin, "", "").await.problem(422, "validation-failed");
        import(&app, &admin, "", "name\n").await.problem(422, "validation-failed");
        let json = app.post(IMPORT, &json!({ "name": "x" }), bearer(&admin)).await;
        json.problem(415, "unsupported-media-type");
        // Larger than the upload limit.
        let small = TestApp::spawn_with(app.backend, |config| config.max_upload_bytes = 1024).await;
        let token = small.sign_up("acme", "13800138000").await.access;
        let big = format!("name\n{}", "设备\n".repeat(200));
        import(&small, &token, "", &big).await.problem(413, "payload-too-large");
        // Not staff, not signed in.
        app.post_raw(IMPORT, "text/csv", b"name\nx\n".to_vec(), Opts::default()).await.problem(401, "unauthenticated");
        assert_eq!(device_count(&app, &admin).await, 0);
    }

    async fn exports_read_back_in(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        // Chinese headers, a BOM, CRLF line ends, a quoted cell with a comma and a formula.
        let file = "\u{feff}序列号,名称,安装地址,保修状态,保修截止日期,可见性\r\n\
                    A-1,\"冷水机, 1号\",深圳市南山区,in_warranty,2027/06/30,public\r\n\
                    A-2,=HYPERLINK(\"http://evil\"),@SUM(1),contract,,private\r\n";
        let imported = import(&app, &admin, "", file).await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text);
        let one = app.get("/api/v1/admin/devices?q=A-1", bearer(&admin)).await;
        assert_eq!(one.body["items"][0]["name"], "冷水机, 1号");
        assert_eq!(one.body["items"][0]["warranty_ends_on"], "2027-06-30");

        let export = app.get("/api/v1/admin/devices/export", bearer(&admin)).await;
        assert_eq!(export.header("content-type"), Some("text/csv; charset=utf-8"));
        assert!(export.header("content-disposition").unwrap().contains("devices.csv"));
        assert!(export.text.starts_with("\u{feff}serial_no,machine_no,name,"), "{}", export.text);
        // Cells a spreadsheet would run as formulas are quoted with a leading '.
        assert!(export.text.contains("'=HYPERLINK"), "{}", export.text);
        assert!(export.text.contains("'@SUM(1)"), "{}", export.text);
        let only_public = app.get("/api/v1/admin/devices/export?visibility=public", bearer(&admin)).await;
        assert_eq!(only_public.text.lines().count(), 2);

        // The export imports into another tenant as the same devices.
        let other = app.sign_up("other", "13900139000").await.access;
        let again = import(&app, &other, "", export.text.trim_start_matches('\u{feff}')).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body["imported"], 2);
        let copied = app.get("/api/v1/admin/devices?q=A-2", bearer(&other)).await;
        assert_eq!(copied.body["items"][0]["name"], "=HYPERLINK(\"http://evil\")");
        assert_eq!(copied.body["items"][0]["install_address"], "@SUM(1)");
        assert_eq!(copied.body["items"][0]["warranty_status"], "contract");
        let back = app.get("/api/v1/admin/devices/export", bearer(&other)).await;
        let sorted = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines.sort();
            lines
        };
        assert_eq!(sorted(&back.text), sorted(&export.text), "the same file out again");
    }
}

/// A file of `rows` devices with serials `{prefix}-00000`...; the last row's serial is `last`.
fn devices_file(prefix: &str, rows: usize, last: &str) -> String {
    let mut file = String::from("serial_no,name\n");
    for i in 0..rows - 1 {
        file.push_str(&format!("{prefix}-{i:05},设备 {i}\n"));
    }
    file.push_str(&format!("{last},最后一台\n"));
    file
}

backend_tests! {
    async fn an_import_checks_its_file_while_another_write_holds_the_writer(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        // A long write elsewhere in the process holds the database's writer (SQLite has one).
        let (release, released) = std::sync::mpsc::channel::<()>();
        let db = app.state.db.clone();
        let holder = std::thread::spawn(move || {
            db.write(|_| -> Result<(), baoxiu_core::DomainError> {
                let _ = released.recv();
                Ok(())
            })
        });
        let good = devices_file("HW", 3_000, "HW-LAST");
        let bad = format!("{good}BAD-1,\n");
        let answered = |query: &'static str, file: String| {
            let app = &app;
            let admin = admin.clone();
            async move {
                // Without the fix this waits for the writer as long as it is held.
                tokio::time::timeout(std::time::Duration::from_secs(60), import(app, &admin, query, &file))
                    .await
                    .expect("answered while the writer is held elsewhere")
            }
        };
        // Reading and checking the file needs no writer: a dry run and a file with bad rows answer.
        let dry = answered("?dry_run=true", good.clone()).await;
        assert_eq!(dry.status, StatusCode::OK, "{}", dry.text);
        assert_eq!(dry.body["imported"], 3_000);
        let refused = answered("", bad).await;
        refused.problem(422, "validation-failed");
        assert_eq!(refused.error_fields(), ["rows.3002.name"]);
        release.send(()).unwrap();
        holder.join().unwrap().unwrap();
        // Once it is free, the file imports, in batches, whole.
        let imported = import(&app, &admin, "", &good).await;
        assert_eq!(imported.status, StatusCode::OK, "{}", &imported.text[..imported.text.len().min(300)]);
        assert_eq!(imported.body["imported"], 3_000);
        assert_eq!(device_count(&app, &admin).await, 3_000);
    }

    async fn two_imports_racing_for_one_serial_leave_one_whole_file(app: TestApp) {
        let admin = app.sign_up("acme", "13800138000").await.access;
        // Several batches each, and the same serial in the last row of both.
        let first = devices_file("RA", 2_500, "SHARED-1");
        let second = devices_file("RB", 2_500, "SHARED-1");
        let (a, b) = futures_util::join!(import(&app, &admin, "", &first), import(&app, &admin, "", &second));
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 422], "{} / {}", &a.text[..a.text.len().min(300)], &b.text[..b.text.len().min(300)]);
        let loser = if a.status == StatusCode::OK { &b } else { &a };
        assert_eq!(loser.error_fields(), ["rows.2501.serial_no"], "{}", loser.text);
        assert_eq!(loser.body["errors"][0]["code"], "taken");
        // All of one file, none of the other, and one import in the audit log.
        assert_eq!(device_count(&app, &admin).await, 2_500);
        let export = app.get("/api/v1/admin/devices/export", bearer(&admin)).await;
        let ra = export.text.matches("RA-").count();
        let rb = export.text.matches("RB-").count();
        assert!((ra, rb) == (2_499, 0) || (ra, rb) == (0, 2_499), "{ra} + {rb}");
        let audit = app.get("/api/v1/admin/audit-log?action=device.import", bearer(&admin)).await;
        assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{}", audit.text);
    }
}
