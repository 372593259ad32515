//! Browsers on a tenant's portal host may call the API; other origins get no CORS headers.

use reqwest::{Method, StatusCode};

use crate::backend_tests;

const PORTAL: &str = "https://acme.baoxiu.localhost";

backend_tests! {
    async fn portal_hosts_may_call_the_api_and_other_origins_may_not(app: TestApp) {
        let preflight = |origin: &'static str| {
            app.client
                .request(Method::OPTIONS, format!("{}/api/v1/auth/staff/login", app.base))
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type, x-tenant")
                .send()
        };
        let allowed = preflight(PORTAL).await.unwrap();
        assert_eq!(allowed.status(), StatusCode::OK);
        let headers = allowed.headers();
        assert_eq!(headers["access-control-allow-origin"], PORTAL);
        let allow_headers = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
        assert!(allow_headers.contains("x-tenant") && allow_headers.contains("content-type"), "{allow_headers}");
        assert!(headers.get("access-control-allow-credentials").is_none(), "tokens, not cookies");

        let refused = preflight("https://evil.example").await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.headers().get("access-control-allow-origin").is_none());
        assert!(refused.headers()["content-type"].to_str().unwrap().starts_with("application/problem+json"));
        assert!(refused.text().await.unwrap().contains("this origin may not call the API"));
        let refused = preflight("https://acme.baoxiu.localhost.evil.example").await.unwrap();
        assert!(refused.headers().get("access-control-allow-origin").is_none());

        // An error answer is readable by the portal page: the problem and its request id.
        let problem = app
            .client
            .get(format!("{}/api/v1/me", app.base))
            .header("Origin", PORTAL)
            .send()
            .await
            .unwrap();
        assert_eq!(problem.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(problem.headers()["access-control-allow-origin"], PORTAL);
        let exposed = problem.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
        assert!(exposed.contains("x-request-id") && exposed.contains("etag"), "{exposed}");
        assert!(problem.headers()["content-type"].to_str().unwrap().starts_with("application/problem+json"));

        // Another origin's request is still answered, without the header the browser needs.
        let foreign = app
            .client
            .get(format!("{}/healthz/live", app.base))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(foreign.status(), StatusCode::OK);
        assert!(foreign.headers().get("access-control-allow-origin").is_none());
    }
}
