//! Staff management: add, list with paging, change, disable, remove; one admin always stays.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::support::*;

backend_tests! {
    async fn staff_lifecycle(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = bearer(&provider.access);
        let (engineer_id, engineer_token) = app.add_staff(&provider.access, "acme", "13900139000", "engineer").await;

        // The same mobile twice.
        let dup = app.post("/api/v1/admin/staff", &json!({ "mobile": "139 0013 9000", "name": "Again", "role": "dispatcher" }), admin.clone()).await;
        dup.problem(422, "validation-failed");
        assert_eq!(dup.body["errors"][0]["code"], "taken");

        // Change the engineer with If-Match.
        let current = app.get(&format!("/api/v1/admin/staff/{engineer_id}"), admin.clone()).await;
        let etag = current.header("etag").unwrap().to_owned();
        let changed = app
            .patch(
                &format!("/api/v1/admin/staff/{engineer_id}"),
                &json!({ "name": "王工", "role": "dispatcher" }),
                Opts { token: Some(&provider.access), if_match: Some(&etag), ..Opts::default() },
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        assert_eq!(changed.body["name"], "王工");
        assert_eq!(changed.body["role"], "dispatcher");
        // Their token still named the engineer role: it ends, and a new login carries the new role.
        app.get("/api/v1/me", bearer(&engineer_token)).await.problem(401, "unauthenticated");
        let relogin = app.login("acme", "13900139000", PASSWORD).await;
        let engineer_token = relogin.body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(app.get("/api/v1/me", bearer(&engineer_token)).await.body["roles"], json!(["dispatcher"]));
        app.patch(
            &format!("/api/v1/admin/staff/{engineer_id}"),
            &json!({ "name": "Stale" }),
            Opts { token: Some(&provider.access), if_match: Some(&etag), ..Opts::default() },
        )
        .await
        .problem(412, "precondition-failed");

        // Disabling ends their sessions at once and stops logins.
        let disabled = app.patch(&format!("/api/v1/admin/staff/{engineer_id}"), &json!({ "disabled": true }), admin.clone()).await;
        assert_eq!(disabled.body["disabled"], true);
        app.get("/api/v1/me", bearer(&engineer_token)).await.problem(401, "unauthenticated");
        app.login("acme", "13900139000", PASSWORD).await.problem(401, "invalid-credentials");

        // The last admin can be neither demoted, disabled nor deleted; nor can one delete oneself.
        let demoted = app.patch(&format!("/api/v1/admin/staff/{}", provider.admin_id), &json!({ "role": "engineer" }), admin.clone())
            .await;
        // The type says what kind of problem; the code says which conflict, for a client to branch on.
        assert_eq!(demoted.problem(409, "conflict")["code"], "last-admin", "{}", demoted.text);
        app.patch(&format!("/api/v1/admin/staff/{}", provider.admin_id), &json!({ "disabled": true }), admin.clone())
            .await
            .problem(409, "conflict");
        let deleted = app.delete(&format!("/api/v1/admin/staff/{}", provider.admin_id), admin.clone()).await;
        assert_eq!(deleted.problem(409, "conflict")["code"], "self-delete", "{}", deleted.text);

        // Delete the other one: gone from reads and lists, and its mobile is free again.
        assert_eq!(app.delete(&format!("/api/v1/admin/staff/{engineer_id}"), admin.clone()).await.status, StatusCode::NO_CONTENT);
        app.get(&format!("/api/v1/admin/staff/{engineer_id}"), admin.clone()).await.problem(404, "not-found");
        let again = app.post("/api/v1/admin/staff", &json!({ "mobile": "13900139000", "name": "New", "role": "engineer" }), admin.clone()).await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
        assert_eq!(again.body["has_password"], false);
    }

    async fn concurrent_changes_never_both_win(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = bearer(&provider.access);

        // Eight changes of one staff user, all made against the same ETag: one wins, the
        // others are told the object changed, and the version moved exactly once.
        let (engineer_id, _) = app.add_staff(&provider.access, "acme", "13900139000", "engineer").await;
        let path = format!("/api/v1/admin/staff/{engineer_id}");
        let etag = app.get(&path, admin.clone()).await.header("etag").unwrap().to_owned();
        let bodies: Vec<_> = (0..8).map(|i| json!({ "name": format!("Name {i}") })).collect();
        let changes = bodies.iter().map(|body| {
            app.patch(&path, body, Opts { token: Some(&provider.access), if_match: Some(&etag), ..Opts::default() })
        });
        let answers = futures_util::future::join_all(changes).await;
        let won = answers.iter().filter(|a| a.status == StatusCode::OK).count();
        assert_eq!(won, 1, "{:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
        for lost in answers.iter().filter(|a| a.status != StatusCode::OK) {
            lost.problem(412, "precondition-failed");
        }
        let after = app.get(&path, admin.clone()).await;
        assert_ne!(after.header("etag").unwrap(), etag);
        let winner = answers.iter().find(|a| a.status == StatusCode::OK).unwrap();
        assert_eq!(after.body["name"], winner.body["name"]);

        // Two admins demoting each other at the same moment: the tenant keeps an admin.
        let (second_id, second_token) = app.add_staff(&provider.access, "acme", "13700137000", "admin").await;
        let demote = json!({ "role": "engineer" });
        let (second_path, first_path) = (format!("/api/v1/admin/staff/{second_id}"), format!("/api/v1/admin/staff/{}", provider.admin_id));
        let demote_second = app.patch(&second_path, &demote, admin.clone());
        let demote_first = app.patch(&first_path, &demote, bearer(&second_token));
        let (a, b) = futures_util::join!(demote_second, demote_first);
        let statuses = [a.status, b.status];
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
        let mut roles = Vec::new();
        for mobile in ["13800138000", "13700137000"] {
            let login = app.login("acme", mobile, PASSWORD).await;
            let token = login.body["access_token"].as_str().unwrap().to_owned();
            roles.push(app.get("/api/v1/me", bearer(&token)).await.body["roles"][0].clone());
        }
        assert_eq!(roles.iter().filter(|r| **r == "admin").count(), 1, "{roles:?}");
    }

    async fn staff_list_pages_with_cursors(app: TestApp) {
        let provider = app.sign_up("acme", "13800138000").await;
        let admin = bearer(&provider.access);
        for i in 0..5 {
            let role = if i % 2 == 0 { "engineer" } else { "dispatcher" };
            let created = app
                .post("/api/v1/admin/staff", &json!({ "mobile": format!("1390013900{i}"), "name": format!("S{i}"), "role": role }), admin.clone())
                .await;
            assert_eq!(created.status, StatusCode::CREATED);
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/admin/staff?limit=2&cursor={c}"),
                None => "/api/v1/admin/staff?limit=2".to_owned(),
            };
            let page = app.get(&path, admin.clone()).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            let items = page.body["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().map(|s| s["name"].as_str().unwrap().to_owned()));
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, ["Admin", "S0", "S1", "S2", "S3", "S4"]);
        let engineers = app.get("/api/v1/admin/staff?role=engineer", admin.clone()).await;
        let names: Vec<&str> = engineers.body["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["S0", "S2", "S4"]);
    }
}
