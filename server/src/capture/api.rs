//! The capture page's API, authenticated by the capture cookie: the session's state for the
//! page, and cancelling. Upload steps join here as the engines land.

use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;

use super::cookie::CaptureSession;
use crate::api::error::ApiError;
use crate::domain::{ConfigFlag, SessionConfig, SessionKind, SessionStatus};
use crate::startup::AppState;
use crate::store::sessions::SessionRecord;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(capture_state).service(capture_cancel);
}

/// What the page needs to render the current step.
#[derive(Serialize)]
pub struct CaptureState {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: String,
    pub step: String,
    pub language: String,
    pub branding: Option<String>,
    /// Steps of this session in order.
    pub steps: Vec<&'static str>,
    pub attempts: serde_json::Value,
    pub max_attempts_per_step: u32,
    pub expires_at: String,
    /// Reason codes once the session has ended.
    pub reasons: Vec<String>,
    /// Where the page goes once the session has ended: return_url, or cancel_url if cancelled.
    pub redirect_url: Option<String>,
}

pub fn steps_of(record: &SessionRecord) -> Vec<&'static str> {
    let config = SessionConfig::parse(&record.config).unwrap_or_default();
    let mut steps = Vec::new();
    if config.kind() == SessionKind::Enrollment {
        steps.push("document");
    }
    steps.push("selfie");
    if config.has(ConfigFlag::Liveness) {
        steps.push("liveness");
    }
    steps
}

#[get("/api/capture/state")]
async fn capture_state(state: web::Data<AppState>, session: CaptureSession) -> Result<HttpResponse, ApiError> {
    let record = session.0;
    let config = SessionConfig::parse(&record.config).unwrap_or_default();
    let body = CaptureState {
        kind: config.kind().as_str(),
        status: record.status.clone(),
        step: record.step.clone(),
        language: record.language.clone(),
        branding: record.branding.clone(),
        steps: steps_of(&record),
        attempts: serde_json::from_str(&record.attempts).unwrap_or_default(),
        max_attempts_per_step: state.capture.max_attempts_per_step,
        expires_at: crate::sessions::rfc3339(record.expires_at),
        reasons: serde_json::from_str(&record.reasons).unwrap_or_default(),
        redirect_url: redirect_url(&record),
    };
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(body))
}

fn redirect_url(record: &SessionRecord) -> Option<String> {
    match SessionStatus::parse(&record.status)? {
        SessionStatus::Created | SessionStatus::InProgress => None,
        SessionStatus::Cancelled => Some(record.cancel_url.clone()),
        SessionStatus::Approved | SessionStatus::Rejected | SessionStatus::Expired => Some(record.return_url.clone()),
    }
}

#[derive(Serialize)]
struct Redirect {
    redirect_url: String,
}

/// The user gives up: the session ends as cancelled and the page goes to `cancel_url`.
#[post("/api/capture/cancel")]
async fn capture_cancel(state: web::Data<AppState>, session: CaptureSession) -> Result<HttpResponse, ApiError> {
    state.sessions.cancel_record(session.require_open()?).await?;
    tracing::info!(session_id = %session.0.id, "session cancelled by the user");
    Ok(HttpResponse::Ok().json(Redirect { redirect_url: session.0.cancel_url }))
}
