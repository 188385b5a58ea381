//! The capture flow the user sees: the link from the SMS (`/c/{token}`), exchanged once for
//! a capture cookie; the page (`/capture`, compiled-in assets, no third-party resources); and
//! the page's API (`/api/capture/*`, in `api`).

mod api;
mod branding_api;
pub mod challenge;
pub mod cookie;
mod flow;
pub mod intake;
mod liveness_api;
mod texts;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::api::error::ApiError;
use crate::domain::{CaptureToken, Language};
use crate::sessions::CaptureLookup;
use crate::startup::AppState;
use crate::store::now_ms;
use crate::store::sessions::SessionRecord;
use texts::texts;

const PAGE: &str = include_str!("../../../web/page.html");
const CAPTURE_HTML: &str = include_str!("../../../web/capture.html");
const APP_CSS: &str = include_str!("../../../web/app.css");
const APP_JS: &str = include_str!("../../../web/app.js");
const I18N_JS: &str = include_str!("../../../web/i18n.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(open_link).service(capture_page).service(static_css).service(static_js).service(static_i18n);
    api::configure(cfg);
    liveness_api::configure(cfg);
    branding_api::configure(cfg);
}

/// The SMS link: exchanges the token for the capture cookie once and sends the browser to
/// `/capture`, so the token leaves the address bar and history.
#[get("/c/{token}")]
async fn open_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = match state.sessions.lookup_capture(&token).await? {
        CaptureLookup::Unknown => {
            let lang = accepted_language(&req);
            let t = texts(lang);
            return Ok(message_page(StatusCode::NOT_FOUND, lang, t.not_found_title, t.not_found_body));
        }
        CaptureLookup::Ended(record) => {
            let lang = session_language(&record);
            let t = texts(lang);
            return Ok(message_page(StatusCode::GONE, lang, t.ended_title, t.ended_body));
        }
        CaptureLookup::Open(record) => record,
    };
    if record.token_used_at.is_some() {
        return Ok(reopen(&req, &record));
    }
    let secret = CaptureToken::generate();
    if !state.store.exchange_token(&record.id, &secret.hash(), now_ms()).await? {
        return Ok(reopen(&req, &record));
    }
    tracing::info!(session_id = %record.id, "capture link opened");
    Ok(HttpResponse::SeeOther()
        .cookie(cookie::capture_cookie(secret.expose(), record.expires_at, now_ms()))
        .insert_header((header::LOCATION, "/capture"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// A used link opened again: back to the page in the browser that holds the cookie, a
/// friendly refusal anywhere else.
fn reopen(req: &HttpRequest, record: &SessionRecord) -> HttpResponse {
    let holds_cookie = req
        .cookie(cookie::COOKIE_NAME)
        .and_then(|c| CaptureToken::parse(c.value()))
        .is_some_and(|secret| record.capture_secret_hash.as_deref() == Some(secret.hash().as_str()));
    if holds_cookie {
        return HttpResponse::SeeOther().insert_header((header::LOCATION, "/capture")).finish();
    }
    let lang = session_language(record);
    let t = texts(lang);
    message_page(StatusCode::GONE, lang, t.used_title, t.used_body)
}

/// The capture page shell; the script loads the session's state with the cookie.
#[get("/capture")]
async fn capture_page(req: HttpRequest) -> HttpResponse {
    let lang = accepted_language(&req);
    html(StatusCode::OK, CAPTURE_HTML.replace("{{lang}}", lang.as_str()))
}

fn session_language(record: &SessionRecord) -> Language {
    Language::parse(&record.language).unwrap_or(Language::En)
}

fn message_page(status: StatusCode, lang: Language, title: &str, body: &str) -> HttpResponse {
    let content = format!(
        "<div class=\"icon\" aria-hidden=\"true\">&#9888;</div>\n<h1>{}</h1>\n<p class=\"notice\" role=\"status\">{}</p>",
        escape(title),
        escape(body)
    );
    let page = PAGE
        .replace("{{lang}}", lang.as_str())
        .replace("{{title}}", &escape(title))
        .replace("{{body_class}}", "state-ended")
        .replace("{{content}}", &content);
    html(status, page)
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        // Capture pages are per-user and short-lived: never cache them.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// The first supported language in Accept-Language, else English.
fn accepted_language(req: &HttpRequest) -> Language {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(|part| Language::parse(part.split(';').next()?.trim()).ok()))
        .unwrap_or(Language::En)
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[get("/static/app.css")]
async fn static_css() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

#[get("/static/app.js")]
async fn static_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

#[get("/static/i18n.js")]
async fn static_i18n() -> HttpResponse {
    asset("text/javascript; charset=utf-8", I18N_JS)
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn every_language_renders_complete_message_pages() {
        for lang in Language::ALL {
            let t = texts(lang);
            for (title, body) in
                [(t.not_found_title, t.not_found_body), (t.ended_title, t.ended_body), (t.used_title, t.used_body)]
            {
                let response = message_page(StatusCode::GONE, lang, title, body);
                assert_eq!(response.status(), StatusCode::GONE);
                assert!(!title.is_empty() && !body.is_empty(), "{lang:?}");
            }
        }
        assert!(!CAPTURE_HTML.contains("<script>"), "no inline scripts (CSP)");
    }
}
