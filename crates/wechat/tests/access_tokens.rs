//! The access-token cache against a fake WeChat on loopback: cached, one fetch at a time
//! per app, renewed five minutes early, dropped on `invalidate`, errors mapped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use baoxiu_wechat::wechat::{AccessTokenCache, AppCredentials, WechatError};
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn app(id: &str) -> AppCredentials {
    AppCredentials {
        app_id: id.into(),
        secret: "the-secret".into(),
    }
}

async fn token_server(expires_in: u64, expected_fetches: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({ "grant_type": "client_credential", "appid": "wx1", "secret": "the-secret", "force_refresh": false })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(json!({ "access_token": "TOKEN-1", "expires_in": expires_in }).to_string())
                .set_delay(std::time::Duration::from_millis(50)),
        )
        .expect(expected_fetches)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn tokens_are_cached_per_app() {
    let server = token_server(7200, 1).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    assert_eq!(cache.get(&app("wx1")).await.unwrap(), "TOKEN-1");
    assert_eq!(cache.get(&app("wx1")).await.unwrap(), "TOKEN-1");
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let server = token_server(7200, 1).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    let calls = (0..10).map(|_| {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get(&app("wx1")).await.unwrap() })
    });
    for call in calls {
        assert_eq!(call.await.unwrap(), "TOKEN-1");
    }
}

#[tokio::test]
async fn invalidate_forces_a_new_fetch() {
    let server = token_server(7200, 2).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    cache.get(&app("wx1")).await.unwrap();
    cache.invalidate("wx1");
    cache.get(&app("wx1")).await.unwrap();
}

#[tokio::test]
async fn tokens_are_renewed_five_minutes_early() {
    // A token that lives exactly five minutes is due for renewal at once.
    let server = token_server(300, 2).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    cache.get(&app("wx1")).await.unwrap();
    cache.get(&app("wx1")).await.unwrap();
}

#[tokio::test]
async fn errors_are_mapped_and_never_show_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            json!({ "errcode": 40001, "errmsg": "invalid credential" }).to_string(),
        ))
        .mount(&server)
        .await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    let error = cache.get(&app("wx1")).await.unwrap_err();
    assert!(matches!(error, WechatError::InvalidCredential));
    assert!(!error.to_string().contains("the-secret"));
    assert!(!format!("{:?}", app("wx1")).contains("the-secret"));

    let down = AccessTokenCache::new(reqwest::Client::new(), "http://127.0.0.1:9");
    let error = down.get(&app("wx1")).await.unwrap_err();
    assert!(matches!(error, WechatError::Unavailable(_)));
    assert!(!error.to_string().contains("the-secret"));
}
