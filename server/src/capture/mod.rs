//! The capture page the user opens from the SMS link, and its static assets (compiled in:
//! the server is one binary and the page loads nothing from elsewhere).

mod texts;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::api::error::ApiError;
use crate::domain::{Language, SessionKind};
use crate::sessions::CaptureLookup;
use crate::startup::AppState;
use texts::texts;

const PAGE: &str = include_str!("../../../web/page.html");
const APP_CSS: &str = include_str!("../../../web/app.css");
const APP_JS: &str = include_str!("../../../web/app.js");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(capture_page).service(static_css).service(static_js);
}

#[get("/c/{token}")]
async fn capture_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let page = match state.sessions.lookup_capture(&token).await? {
        CaptureLookup::Unknown => {
            let t = texts(accepted_language(&req));
            message_page(StatusCode::NOT_FOUND, accepted_language(&req), t.not_found_title, t.not_found_body)
        }
        CaptureLookup::Ended(record) => {
            let lang = Language::parse(&record.language).unwrap_or(Language::En);
            let t = texts(lang);
            message_page(StatusCode::GONE, lang, t.ended_title, t.ended_body)
        }
        CaptureLookup::Open(record) => {
            let lang = Language::parse(&record.language).unwrap_or(Language::En);
            let kind = SessionKind::parse(&record.kind).unwrap_or(SessionKind::Verification);
            welcome_page(lang, kind)
        }
    };
    Ok(page)
}

fn welcome_page(lang: Language, kind: SessionKind) -> HttpResponse {
    let t = texts(lang);
    let (intro, steps) = match kind {
        SessionKind::Enrollment => (t.intro_enrollment, vec![t.step_document, t.step_selfie, t.step_liveness]),
        SessionKind::Verification => (t.intro_verification, vec![t.step_selfie, t.step_liveness]),
    };
    let items: String = steps.iter().map(|s| format!("<li>{}</li>", escape(s))).collect();
    let content = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<ol class=\"steps\">{}</ol>\n<button class=\"button\" id=\"start\" type=\"button\">{}</button>",
        escape(t.title),
        escape(intro),
        items,
        escape(t.start)
    );
    html(StatusCode::OK, render(lang, t.title, "state-open", &content))
}

fn message_page(status: StatusCode, lang: Language, title: &str, body: &str) -> HttpResponse {
    let content = format!(
        "<div class=\"icon\" aria-hidden=\"true\">&#9888;</div>\n<h1>{}</h1>\n<p class=\"notice\" role=\"status\">{}</p>",
        escape(title),
        escape(body)
    );
    html(status, render(lang, title, "state-ended", &content))
}

fn render(lang: Language, title: &str, body_class: &str, content: &str) -> String {
    PAGE.replace("{{lang}}", lang.as_str())
        .replace("{{title}}", &escape(title))
        .replace("{{body_class}}", body_class)
        .replace("{{content}}", content)
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
    fn every_language_renders_a_complete_page() {
        for lang in Language::ALL {
            let page = render(lang, texts(lang).title, "state-open", "x");
            assert!(!page.contains("{{"), "{lang:?}");
            assert!(page.contains(&format!("lang=\"{}\"", lang.as_str())));
        }
    }
}
