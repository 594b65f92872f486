//! The operator endpoints — `/metrics`, `/stats`, `/rooms` and the `/console` page — and where
//! they are served: on the game port, or with `--admin-bind` on a port of their own, so the game
//! port can face the internet while this one stays private. `--admin-token` puts their data
//! behind a bearer token wherever they are: `/metrics`, `/stats` and `/rooms` answer 401 without
//! it. The console's page and modules hold no data (a browser opening a page sends no bearer
//! header); the page takes the token from its URL fragment (`#token=…`, never sent to a server
//! or written to a log) and presents it on every request for data.
//!
//! The console's files (`web-client/console/`) are compiled into the binary: the page works from
//! any working directory and in a container without the web root.

use crate::net::http::{AppState, metrics, rooms, stats};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

/// The console's page, modules and style, as built into the binary: code, no data.
const CONSOLE_FILES: [(&str, &str, &str); 5] = [
    ("/console", "text/html; charset=utf-8", include_str!("../../../web-client/console/index.html")),
    ("/console/", "text/html; charset=utf-8", include_str!("../../../web-client/console/index.html")),
    ("/console/console.js", "text/javascript; charset=utf-8", include_str!("../../../web-client/console/console.js")),
    ("/console/model.js", "text/javascript; charset=utf-8", include_str!("../../../web-client/console/model.js")),
    ("/console/console.css", "text/css; charset=utf-8", include_str!("../../../web-client/console/console.css")),
];

/// The operator routes: `/metrics`, `/stats` and `/rooms` behind the admin token if one is set;
/// the console's files open.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let guarded = Router::new()
        .route("/metrics", get(metrics))
        .route("/stats", get(stats))
        .route("/rooms", get(rooms))
        .route_layer(middleware::from_fn_with_state(state, require_token));
    let mut open = Router::new();
    for (path, content_type, body) in CONSOLE_FILES {
        open = open.route(
            path,
            get(move || async move {
                ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
            }),
        );
    }
    guarded.merge(open)
}

/// Whether `presented` is the admin token, compared in constant time.
fn token_matches(expected: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// The token a request presents: `Authorization: Bearer …`, else `?token=…`.
fn presented_token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    bearer.or_else(|| query?.split('&').find_map(|pair| pair.strip_prefix("token=")))
}

/// Lets a request through if no admin token is set or it presents the right one; else 401.
async fn require_token(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(expected) = &state.admin_token else {
        return next.run(request).await;
    };
    let ok = presented_token(request.headers(), request.uri().query()).is_some_and(|t| token_matches(expected, t));
    if ok {
        next.run(request).await
    } else {
        state.stats.count_refusal("admin_token");
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, "Bearer realm=\"arena-admin\"")
            .body(Body::from("this endpoint needs the admin token (Authorization: Bearer …)\n"))
            .unwrap_or_else(|_| StatusCode::UNAUTHORIZED.into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_bearer_header_or_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_token(&headers, Some("a=1&token=xyz")), Some("xyz"));
        assert_eq!(presented_token(&headers, Some("a=1")), None);
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().expect("a header value"));
        assert_eq!(presented_token(&headers, Some("token=xyz")), Some("abc"), "the header wins");
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd") && !token_matches("abc", "ab") && !token_matches("abc", ""));
    }
}
