//! `GET /ui` and everything under it: the embedded dashboard of [`crate::ui`]. The page and
//! its assets are public (no scope: they hold no data and no secret); the screens read the
//! public API from the browser with the user's key. `GET` and `HEAD` only (`405` otherwise);
//! `If-None-Match` with the asset's `ETag` answers `304`; every answer is `no-cache` (names
//! are fixed, so the browser revalidates) with `nosniff` and a same-origin content policy.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::SharedState;
use super::error::ApiError;
use crate::ui::{self, Asset, Target};

/// Only the server itself: scripts, styles, images and API calls.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
     style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// The dashboard routes, merged into the server's router.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/ui", any(ui_get))
        .route("/ui/", any(ui_get))
        .route("/ui/{*rest}", any(ui_get))
}

/// The page, an asset, or `404` for an unknown asset name.
pub async fn ui_get(req: Request) -> Response {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return ApiError::method_not_allowed("GET, HEAD").into_response();
    }
    let asset = match ui::resolve(req.uri().path()) {
        Target::Asset(a) => a,
        Target::Page => ui::page(),
        Target::Missing => return ApiError::not_found("not found").into_response(),
    };
    asset_response(asset, req.headers(), head)
}

/// `200` with the bytes (none for `HEAD`), or `304` when the client holds this version.
fn asset_response(asset: &'static Asset, headers: &HeaderMap, head: bool) -> Response {
    let etag = asset.etag();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| ui::etag_matches(v, etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if head {
        StatusCode::OK.into_response()
    } else {
        (StatusCode::OK, asset.body).into_response()
    };
    let h = resp.headers_mut();
    if !fresh {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        if head {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
        }
    }
    h.insert(header::ETAG, HeaderValue::from_static(etag));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut b = Request::builder().uri(path);
        if let Some(t) = if_none_match {
            b = b.header(header::IF_NONE_MATCH, t);
        }
        let req = b.body(axum::body::Body::empty()).unwrap();
        futures::executor::block_on(ui_get(req))
    }

    fn header_of(r: &Response, name: header::HeaderName) -> &str {
        r.headers().get(name).unwrap().to_str().unwrap()
    }

    #[test]
    fn pages_and_assets_carry_type_etag_and_cache_headers() {
        for (path, ty) in [
            ("/ui", "text/html; charset=utf-8"),
            ("/ui/incidents/inc_1", "text/html; charset=utf-8"),
            ("/ui/assets/app.js", "text/javascript; charset=utf-8"),
            ("/ui/assets/app.css", "text/css; charset=utf-8"),
            ("/ui/assets/favicon.svg", "image/svg+xml"),
        ] {
            let r = get(path, None);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&r, header::CONTENT_TYPE), ty, "{path}");
            assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache");
            let etag = header_of(&r, header::ETAG).to_string();
            let again = get(path, Some(&etag));
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
            assert_eq!(header_of(&again, header::ETAG), etag);
        }
        assert_eq!(
            get("/ui/assets/missing.js", None).status(),
            StatusCode::NOT_FOUND
        );
    }
}
