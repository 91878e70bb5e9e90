//! The desk's web page, served by the daemon's HTTP listener at `/`: one HTML page, its script,
//! its style sheet and its icon, embedded in the binary (no CDN, no build step, nothing fetched
//! at run time). The page is a client of the public API like any other (`app.js` calls
//! `/search`, `/queries`, `/alerts/stream`, `/status`, `/metrics`), so it has no route of its
//! own beyond its files, and those carry no data: they are served without the token, with a
//! Content-Security-Policy that allows only them (no inline script, no other origin).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// What the page may load and run: its own script, style and images, requests to its own
/// origin; no inline script or style, no frames, no plugins, no form posts elsewhere, and it
/// may not be framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 4] = [
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("assets/index.html"),
    },
    Asset {
        path: "/assets/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/app.css"),
    },
    Asset {
        path: "/assets/icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("assets/icon.svg"),
    },
];

/// Whether `path` is one of the page's files (answered without the token: they hold no data).
pub fn is_page_file(path: &str) -> bool {
    ASSETS.iter().any(|asset| asset.path == path)
}

/// The page's routes, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS
        .iter()
        .enumerate()
        .fold(Router::new(), |router, (index, asset)| {
            router.route(
                asset.path,
                get(move |request: HeaderMap| async move { serve(&ASSETS[index], &request) }),
            )
        })
}

/// The file, or 304 when the browser holds this version (its ETag is the content's hash).
fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = format!(
        "\"{}\"",
        &blake3::hash(asset.body.as_bytes()).to_hex()[..20]
    );
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    // Always asked again (a 304 when unchanged), so that a new binary's page is the one shown.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_runs_no_inline_script_and_loads_nothing_from_elsewhere() {
        let page = ASSETS[0].body;
        // Every <script> has a src on this origin, and there is no inline handler.
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(tag.contains("src=\"/assets/"), "{tag}");
            assert!(script[script.find('>').unwrap() + 1..].starts_with("</script>"));
        }
        for asset in &ASSETS {
            let lower = asset.body.to_lowercase();
            for forbidden in [
                "http://",
                "https://",
                " onclick=",
                " onload=",
                "javascript:",
                "style=\"",
            ] {
                // The SVG's namespace is a name, not a request.
                if forbidden == "http://" && lower.contains("xmlns=\"http://www.w3.org/2000/svg\"")
                {
                    continue;
                }
                assert!(
                    !lower.contains(forbidden) || asset.path == "/assets/app.js",
                    "{} holds {forbidden}",
                    asset.path
                );
            }
        }
        // The script builds elements, never HTML from text.
        let script = ASSETS[1].body;
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!script.contains(forbidden), "app.js uses {forbidden}");
        }
    }

    #[test]
    fn a_file_is_served_with_its_policy_and_revalidated_by_etag() {
        let response = serve(&ASSETS[1], &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let etag = headers[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve(&ASSETS[1], &again).status(), StatusCode::NOT_MODIFIED);
        assert!(is_page_file("/") && is_page_file("/assets/app.js"));
        assert!(!is_page_file("/search") && !is_page_file("/assets/other.js"));
    }
}
