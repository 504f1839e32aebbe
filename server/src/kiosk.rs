//! The kiosk page (`/kiosk/`): the files under `server/kiosk/`, built into the binary, so
//! a kiosk needs nothing but this server (no CDN, no network beyond it).
//!
//! The page talks to `/ws/terminal` (docs/terminal-protocol.md). Its token comes in the
//! URL fragment (`/kiosk/#token=...&terminal=gs-3`), which browsers never send to a
//! server, so these routes need no token: they serve the same public files to everyone.
//!
//! Every response carries a Content-Security-Policy that allows only this origin: no
//! inline script or style, no other host, no frames. The page's own files honour it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// The policy every kiosk file is served with: scripts, styles, the audio worklet and the
/// WebSocket from this origin only (`'self'` covers `ws:`/`wss:` to the same host).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; media-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// One built-in file: its path under `/kiosk/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../kiosk/index.html"),
    },
    Asset {
        path: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../kiosk/index.html"),
    },
    Asset {
        path: "kiosk.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../kiosk/kiosk.css"),
    },
    Asset {
        path: "kiosk.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../kiosk/kiosk.js"),
    },
    Asset {
        path: "capture-worklet.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../kiosk/capture-worklet.js"),
    },
    Asset {
        path: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../kiosk/favicon.svg"),
    },
];

/// The kiosk's routes: `/kiosk` (redirected to `/kiosk/`, the fragment kept by the
/// browser), `/kiosk/` and its files.
pub(crate) fn routes() -> Router {
    let mut r = Router::new().route("/kiosk", get(|| async { Redirect::permanent("/kiosk/") }));
    for a in ASSETS {
        r = r.route(
            &format!("/kiosk/{}", a.path),
            get(move || async move { asset(a) }),
        );
    }
    r
}

fn asset(a: &'static Asset) -> Response {
    let mut res = (StatusCode::OK, a.body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // a new server version brings a new page: revalidate rather than keep an old one
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("microphone=(self), camera=(), geolocation=()"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower_service::Service;

    async fn get(path: &str) -> Response {
        let mut app = routes();
        app.call(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body(res: Response) -> String {
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_page_and_its_files_are_served_with_their_types_and_the_policy() {
        for (path, ty) in [
            ("/kiosk/", "text/html"),
            ("/kiosk/kiosk.css", "text/css"),
            ("/kiosk/kiosk.js", "text/javascript"),
            ("/kiosk/capture-worklet.js", "text/javascript"),
            ("/kiosk/favicon.svg", "image/svg+xml"),
        ] {
            let res = get(path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let h = res.headers();
            assert!(
                h[header::CONTENT_TYPE].to_str().unwrap().starts_with(ty),
                "{path}"
            );
            let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
            assert!(
                !csp.contains("unsafe") && !csp.contains('*'),
                "{path}: {csp}"
            );
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
            assert!(!body(res).await.is_empty(), "{path}");
        }
        let res = get("/kiosk").await;
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(res.headers()[header::LOCATION], "/kiosk/");
    }

    #[tokio::test]
    async fn the_page_is_chinese_and_loads_nothing_from_elsewhere() {
        let html = body(get("/kiosk/").await).await;
        assert!(html.contains(r#"<html lang="zh-CN">"#));
        assert!(html.contains("说话") && html.contains("数字键盘"));
        for file in [
            "/kiosk/",
            "/kiosk/kiosk.js",
            "/kiosk/kiosk.css",
            "/kiosk/capture-worklet.js",
        ] {
            let text = body(get(file).await).await;
            // no absolute URL to another host; the WebSocket URL is built from the page's own
            for scheme in ["http://", "https://", "//cdn", "ws://", "wss://"] {
                assert!(!text.contains(scheme), "{file} names {scheme}");
            }
            // no inline script or style the policy would block
            assert!(
                !text.contains("<script>") && !text.contains("style="),
                "{file}"
            );
            assert!(!text.contains(" onclick="), "{file}");
        }
    }
}
