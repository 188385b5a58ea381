//! The capture cookie: the link's token is exchanged once for a random secret carried in a
//! short-lived HttpOnly, Secure, SameSite=Strict cookie; the page's API calls authenticate
//! with it, and the token leaves the address bar.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::api::error::ApiError;
use crate::domain::{CaptureToken, SessionStatus};
use crate::startup::AppState;
use crate::store::sessions::SessionRecord;

pub const COOKIE_NAME: &str = "tf_capture";
/// A capture should take minutes; the cookie never outlives this (nor the session).
pub const MAX_COOKIE_SECS: i64 = 20 * 60;

pub fn capture_cookie(secret: &str, session_expires_at_ms: i64, now_ms: i64) -> Cookie<'static> {
    let remaining = ((session_expires_at_ms - now_ms) / 1000).clamp(1, MAX_COOKIE_SECS);
    Cookie::build(COOKIE_NAME, secret.to_string())
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(remaining))
        .finish()
}

/// The session of the request's capture cookie (possibly ended: the page still shows its
/// result). Steps that change it call `require_open`.
pub struct CaptureSession(pub SessionRecord);

impl CaptureSession {
    pub fn require_open(&self) -> Result<&SessionRecord, ApiError> {
        if SessionStatus::parse(&self.0.status).is_none_or(|s| s.is_final()) {
            return Err(ApiError::SessionGone);
        }
        Ok(&self.0)
    }
}

impl FromRequest for CaptureSession {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let secret = req.cookie(COOKIE_NAME).map(|c| c.value().to_string());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("app state missing".into()))?;
            let secret = secret.and_then(|s| CaptureToken::parse(&s)).ok_or(ApiError::CaptureUnauthorized)?;
            let record = state
                .store
                .session_by_capture_secret_hash(&secret.hash())
                .await?
                .ok_or(ApiError::CaptureUnauthorized)?;
            let record = state.sessions.expire_if_due(record).await?;
            Ok(CaptureSession(record))
        })
    }
}
