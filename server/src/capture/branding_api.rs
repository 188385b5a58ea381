//! The session's branding logo, for the page's header (capture cookie; same origin, so the
//! CSP's `img-src 'self'` allows it).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};

use super::cookie::CaptureSession;
use crate::api::error::ApiError;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(logo);
}

#[get("/api/capture/branding/logo")]
async fn logo(req: HttpRequest, state: web::Data<AppState>, session: CaptureSession) -> Result<HttpResponse, ApiError> {
    let record = session.0;
    let name = record.branding.as_deref().ok_or(ApiError::NotFound("logo"))?;
    let profile = state.store.branding(&record.merchant_id, name).await?.ok_or(ApiError::NotFound("logo"))?;
    let logo = profile.logo.ok_or(ApiError::NotFound("logo"))?;
    let etag = format!("\"{}\"", logo.version());
    let fresh = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str());
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    // The type was sniffed and the image decoded when the profile was saved; with the global
    // `nosniff` the browser treats it as that image type only.
    response.insert_header((header::ETAG, etag)).insert_header((header::CACHE_CONTROL, "private, max-age=3600"));
    if fresh {
        return Ok(response.finish());
    }
    Ok(response.content_type(logo.content_type).body(logo.bytes))
}
