//! The staff export of work orders: a CSV file with the list's filters, streamed in keyset
//! batches of constant statements, formula cells guarded, only the tenant's own orders,
//! and only for admins and dispatchers.

use baoxiu_core::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::budgets::statements_of;
use crate::devices::add_device;
use crate::support::*;
use crate::terminal::account_with_contact;
use crate::work_orders::{customer, submit};

const HEADER: &str = "number,status,channel,service_type,created_at,device_id,serial_no,machine_no,brand,category,model,fault_description,warranty_status,appointment_at,contact_name,contact_phone,address,account_id,contact_id,engineer_id,engineer_name,response_due_at,resolution_due_at,about_to_breach,accepted_at,completed_at,closed_at,reject_reason,rating_stars,rating_comment,id";

/// The export for `query` as `token`: asserts a CSV file with the BOM and the header;
/// answers its data rows.
async fn export(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let answer = app
        .get(
            &format!("/api/v1/admin/work-orders/export?{query}"),
            bearer(token),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        answer
            .header("content-disposition")
            .unwrap()
            .contains("work-orders.csv")
    );
    let text = answer.text.strip_prefix('\u{feff}').expect("a BOM first");
    let mut lines = text.lines().map(str::to_owned);
    assert_eq!(lines.next().as_deref(), Some(HEADER));
    lines.collect()
}

/// The numbers of the rows (the first cell).
fn numbers(rows: &[String]) -> Vec<String> {
    rows.iter()
        .map(|r| r.split(',').next().unwrap().to_owned())
        .collect()
}

fn number_of(created: &Value) -> String {
    created["work_order"]["number"].as_str().unwrap().to_owned()
}

fn not_a_device() -> Value {
    json!({ "brand": "格力", "category": "空调", "model": "KFR-35", "fault_description": "不制冷", "contact_phone": "13900139999" })
}

backend_tests! {
    async fn the_export_honours_the_lists_filters_and_guards_formulas(app: TestApp) {
        let (admin, token, account) = customer(&app, "wo-export", "13900139601").await;
        let device = add_device(&app, &admin, json!({ "name": "1号空调", "account_id": account, "serial_no": "EX-1" })).await;
        let hostile = submit(&app, &token, json!({ "device_id": device, "fault_description": "=HYPERLINK(\"http://evil.example\",\"点我\")", "contact_name": "@SUM(1)" })).await;
        let plain = submit(&app, &token, not_a_device()).await;
        let taken = app.post("/api/v1/admin/work-orders", &json!({ "account_id": account, "order": { "brand": "美的", "category": "冰箱", "model": "BCD", "fault_description": "电话报修", "contact_phone": "020-1234567" } }), bearer(&admin)).await;
        assert_eq!(taken.status, StatusCode::CREATED, "{}", taken.text);
        let (hostile_no, plain_no, taken_no) = (number_of(&hostile), number_of(&plain), number_of(&taken.body));

        // Everything, newest first, one row each; the hostile cells come out as text.
        let all = export(&app, &admin, "").await;
        assert_eq!(numbers(&all), [taken_no.clone(), plain_no.clone(), hostile_no.clone()]);
        let row = all.iter().find(|r| r.starts_with(&hostile_no)).unwrap();
        assert!(row.contains(r#""'=HYPERLINK(""http://evil.example"",""点我"")""#), "{row}");
        assert!(row.contains(",'@SUM(1),"), "{row}");
        assert!(row.contains(",pending,api,repair,"), "{row}");
        assert!(row.contains(",EX-1,"), "{row}");
        assert!(!all.iter().any(|r| r.contains(",=") || r.contains(",\"=")), "{all:?}");

        // The filters and searches of the staff list.
        let by = |query: String| {
            let (app, admin) = (&app, admin.clone());
            async move { numbers(&export(app, &admin, &query).await) }
        };
        assert_eq!(by("channel=phone".into()).await, [taken_no.as_str()]);
        assert_eq!(by(format!("device_id={device}")).await, [hostile_no.as_str()]);
        assert_eq!(by("serial=ex1".into()).await, [hostile_no.as_str()]);
        assert_eq!(by(format!("number={}", plain_no.to_lowercase())).await, [plain_no.as_str()]);
        assert_eq!(by("q=不制冷".into()).await, [plain_no.as_str()]);
        assert_eq!(by(format!("account_id={account}")).await.len(), 3);
        assert_eq!(by("account_id=0190f0e0-0000-7000-8000-000000000000".into()).await, Vec::<String>::new());
        assert_eq!(by("status=accepted".into()).await, Vec::<String>::new());
        assert_eq!(by("about_to_breach=true".into()).await, Vec::<String>::new());
        let later = (app.clock.now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(by(format!("from={}", later.replace('+', "%2B"))).await, Vec::<String>::new());
        assert_eq!(by(format!("to={}", later.replace('+', "%2B"))).await.len(), 3);
        let (engineer_id, engineer) = app.add_staff(&admin, "acme", "13700137601", "engineer").await;
        let id = plain["work_order"]["id"].as_str().unwrap();
        for step in [json!({ "action": "accept" }), json!({ "action": "assign", "engineer_id": engineer_id })] {
            let moved = app.post(&format!("/api/v1/admin/work-orders/{id}/transitions"), &step, bearer(&admin)).await;
            assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
        }
        assert_eq!(by(format!("engineer_id={engineer_id}")).await, [plain_no.as_str()]);
        assert_eq!(by("status=assigned".into()).await, [plain_no.as_str()]);
        // A bad filter is named, as on the list.
        let bad = app.get("/api/v1/admin/work-orders/export?status=broken", bearer(&admin)).await;
        bad.problem(422, "validation-failed");
        assert_eq!(bad.error_fields(), ["status"]);

        // Another tenant's export holds its own orders only, and ours none of them.
        let other = app.sign_up("other", "13800138601").await;
        let (other_account, _) = account_with_contact(&app, &other.access, "乙公司", None).await;
        let theirs = app.post("/api/v1/admin/work-orders", &json!({ "account_id": other_account, "order": { "brand": "海尔", "category": "洗衣机", "model": "XQG", "fault_description": "漏水", "contact_phone": "020-7654321" } }), bearer(&other.access)).await;
        assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
        assert_eq!(numbers(&export(&app, &other.access, "").await), [number_of(&theirs.body)]);
        assert_eq!(export(&app, &admin, "").await.len(), 3);
        assert_eq!(by(format!("account_id={other_account}")).await, Vec::<String>::new());

        // Staff routes only: no token, a customer's token, an engineer's.
        let path = "/api/v1/admin/work-orders/export";
        app.get(path, Opts::default()).await.problem(401, "unauthenticated");
        app.get(path, bearer(&token)).await.problem(403, "forbidden");
        app.get(path, bearer(&engineer)).await.problem(403, "forbidden");
    }
}

/// Batches of two: each batch is one statement, whatever the rows in it.
async fn an_export_reads_in_batches_of_constant_statements(backend: baoxiu_store::Backend) {
    let app = TestApp::spawn_with(backend, |config| config.export_batch_rows = 2).await;
    let (admin, token, _) = customer(&app, "wo-export-batches", "13900139602").await;
    let send = || app.get("/api/v1/admin/work-orders/export", bearer(&admin));
    let mut numbers_seen = Vec::new();
    numbers_seen.push(number_of(&submit(&app, &token, not_a_device()).await));
    let one = statements_of(&app, send).await;
    numbers_seen.push(number_of(&submit(&app, &token, not_a_device()).await));
    let two = statements_of(&app, send).await;
    assert_eq!(two.len(), one.len(), "one batch, one or two rows: {two:#?}");
    for _ in 0..3 {
        numbers_seen.push(number_of(&submit(&app, &token, not_a_device()).await));
    }
    let five = statements_of(&app, send).await;
    assert_eq!(five.len(), one.len() + 2, "three batches: {five:#?}");
    // Every order once, newest first, across the batches.
    numbers_seen.reverse();
    assert_eq!(numbers(&export(&app, &admin, "").await), numbers_seen);
    // Batches follow the filter too.
    assert_eq!(export(&app, &admin, "status=pending").await.len(), 5);
}

#[actix_web::test]
async fn an_export_reads_in_batches_of_constant_statements_sqlite() {
    an_export_reads_in_batches_of_constant_statements(baoxiu_store::Backend::Sqlite).await;
}

#[actix_web::test]
async fn an_export_reads_in_batches_of_constant_statements_postgres() {
    an_export_reads_in_batches_of_constant_statements(baoxiu_store::Backend::Postgres).await;
}
