//! The access-token cache against a fake WeChat on loopback: cached, one fetch at a time
//! per app, renewed five minutes early, dropped on `invalidate`, renewed once when WeChat
//! refuses it, errors mapped.

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

/// A call WeChat answers with `errcode` while the token is `TOKEN-1`, and success after.
async fn call_with(token: String, errcode: i64) -> Result<String, WechatError> {
    if token == "TOKEN-1" {
        Err(WechatError::from_errcode(errcode, "refused".into()))
    } else {
        Ok(token)
    }
}

/// A token server that gives TOKEN-1 first and TOKEN-2 after.
async fn rotating_token_server(expected_fetches: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                json!({ "access_token": "TOKEN-1", "expires_in": 7200 }).to_string(),
            ),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                json!({ "access_token": "TOKEN-2", "expires_in": 7200 }).to_string(),
            ),
        )
        .expect(expected_fetches - 1)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_refused_token_is_renewed_and_the_call_retried_once() {
    for errcode in [40001, 42001, 40014] {
        let server = rotating_token_server(2).await;
        let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
        let answer = cache
            .with_token(&app("wx1"), |token| call_with(token, errcode))
            .await;
        assert_eq!(answer.unwrap(), "TOKEN-2", "errcode {errcode}");
        // The new token stays cached.
        assert_eq!(cache.get(&app("wx1")).await.unwrap(), "TOKEN-2");
    }
}

#[tokio::test]
async fn a_token_refused_twice_is_not_renewed_again() {
    let server = rotating_token_server(2).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    let calls = std::sync::atomic::AtomicU32::new(0);
    let answer: Result<(), _> = cache
        .with_token(&app("wx1"), |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Err(WechatError::InvalidCredential) }
        })
        .await;
    assert!(matches!(answer, Err(WechatError::InvalidCredential)));
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one retry, no loop"
    );
}

#[tokio::test]
async fn other_errors_keep_the_token() {
    let server = rotating_token_server(1).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    let answer = cache
        .with_token(&app("wx1"), |token| call_with(token, 47003))
        .await;
    assert!(matches!(
        answer,
        Err(WechatError::Other { errcode: 47003, .. })
    ));
    assert_eq!(cache.get(&app("wx1")).await.unwrap(), "TOKEN-1");
}

#[tokio::test]
async fn callers_refused_together_fetch_one_new_token() {
    let server = rotating_token_server(2).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    cache.get(&app("wx1")).await.unwrap();
    let calls = (0..8).map(|_| {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .with_token(&app("wx1"), |token| call_with(token, 42001))
                .await
                .unwrap()
        })
    });
    for call in calls {
        assert_eq!(call.await.unwrap(), "TOKEN-2");
    }
}

/// A token server that is busy (`-1`) `busy` times, then gives TOKEN-1.
async fn busy_token_server(busy: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(json!({ "errcode": -1, "errmsg": "system error" }).to_string()),
        )
        .up_to_n_times(busy)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                json!({ "access_token": "TOKEN-1", "expires_in": 7200 }).to_string(),
            ),
        )
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn busy_is_tried_once_more_then_unavailable() {
    // Busy once: the second call gets the token.
    let server = busy_token_server(1).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    assert_eq!(cache.get(&app("wx1")).await.unwrap(), "TOKEN-1");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    // Busy twice: unavailable, and no third call.
    let server = busy_token_server(2).await;
    let cache = AccessTokenCache::new(reqwest::Client::new(), &server.uri());
    let error = cache.get(&app("wx1")).await.unwrap_err();
    assert!(matches!(error, WechatError::Unavailable(_)), "{error:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
