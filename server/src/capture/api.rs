//! The capture page's API, authenticated by the capture cookie: the session's state for the
//! page, and cancelling. Upload steps join here as the engines land.

use actix_web::{HttpResponse, get, post, web};
use serde::Serialize;

use super::cookie::CaptureSession;
use crate::api::error::ApiError;
use crate::branding::PageBranding;
use actix_multipart::Multipart;
use thirdfactor_engine::document::{DocumentError, DocumentReading};
use thirdfactor_engine::face::{Embedding, FaceAnalysis, FaceError, MatchKind};
use thirdfactor_engine::imaging::{ImageError, IntakeLimits};

use super::flow;
use super::intake::{self, UploadLimits};
use crate::domain::{ConfigFlag, SessionConfig, SessionKind, SessionStatus, Step};
use crate::startup::AppState;
use crate::store::now_ms;
use crate::store::sessions::SessionRecord;
use crate::templates::load_template;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(capture_state).service(capture_cancel).service(upload_document).service(upload_selfie);
}

/// NIST SP 800-63B-4 throttling of verification attempts per enrolled reference.
pub const THROTTLE_AFTER_FAILURES: i64 = 5;
pub const THROTTLE_DELAY_MS: i64 = 30_000;
pub const DISABLE_AFTER_FAILURES: i64 = 50;

fn image_limits(state: &AppState) -> IntakeLimits {
    IntakeLimits {
        max_bytes: state.capture.max_image_bytes,
        max_side: state.capture.max_image_side,
        max_pixels: state.capture.max_image_pixels,
    }
}

fn upload_limits(state: &AppState) -> UploadLimits {
    UploadLimits { max_part_bytes: state.capture.max_image_bytes, max_parts: 1 }
}

pub(super) fn upload_limits_for_frames(state: &AppState) -> UploadLimits {
    UploadLimits { max_part_bytes: state.capture.max_frame_bytes, max_parts: state.capture.max_frames }
}

/// A slot for CPU-heavy analysis (`crate::admission`): may wait in a bounded queue; when that is
/// full the client is told to retry (503 + Retry-After).
pub(super) async fn analysis_slot(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    state.admission.enter().await
}

/// Keeps a sealed copy of raw uploads when `capture.retain_images_for` is set; by default
/// this does nothing and the upload is dropped after its analysis (see `crate::retention`).
/// A failure is logged, not shown to the user: the capture does not depend on it.
pub(super) async fn retain(state: &AppState, session_id: &str, kind: &'static str, images: &[Vec<u8>]) {
    if !state.retention.enabled() {
        return;
    }
    let (retention, id, images) = (state.retention.clone(), session_id.to_string(), images.to_vec());
    match web::block(move || retention.keep(&id, kind, &images, now_ms())).await {
        Ok(Ok(paths)) => tracing::info!(session_id, kind, files = paths.len(), "raw images retained"),
        Ok(Err(e)) => tracing::error!(session_id, kind, error = %e, "retaining raw images failed"),
        Err(e) => tracing::error!(session_id, kind, error = %e, "retaining raw images failed"),
    }
}

/// The selfie: one face, good enough quality, matching the ID portrait (enrollment) or the
/// enrolled template (verification).
#[post("/api/capture/selfie")]
async fn upload_selfie(
    state: web::Data<AppState>,
    session: CaptureSession,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let record = session.require_open()?.clone();
    flow::expect_step(&record, Step::Selfie)?;
    let kind = SessionConfig::parse(&record.config).unwrap_or_default().kind();
    if kind == SessionKind::Verification
        && let Some(reply) = throttle(&state, &record).await?
    {
        return Ok(reply.into_response());
    }
    let bytes = intake::read_single_image(payload, upload_limits(&state)).await?;
    retain(&state, &record.id, "selfie", std::slice::from_ref(&bytes)).await;
    let analysis = analyze_face(&state, bytes).await?;
    let mut flow_state = flow::open_state(&state.templates, &record)?;
    let debug = Some(face_debug(&analysis));
    let embedding = match analysis.usable_embedding() {
        Ok(e) => e.clone(),
        Err(reasons) => {
            let reasons = reasons.iter().map(|r| r.code().to_string()).collect();
            return Ok(flow::fail_step(&state, &record, Step::Selfie, flow_state, reasons, debug)
                .await?
                .into_response());
        }
    };
    let (reference, match_kind) = match kind {
        SessionKind::Enrollment => (flow_state.portrait.clone(), MatchKind::SelfieVsPortrait),
        SessionKind::Verification => {
            let template = load_template(&state.store, &state.templates, &record.merchant_id, &record.merchant_ref)
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            (template.map(|(t, _)| t), MatchKind::SelfieVsTemplate)
        }
    };
    let reference = reference
        .and_then(Embedding::from_raw)
        .ok_or_else(|| ApiError::Internal("no reference embedding for the selfie".into()))?;
    let decision = state.face.verify(&embedding, &reference, match_kind);
    flow_state.scores.insert("face_match".into(), serde_json::json!(round3(decision.score)));
    if !decision.matched {
        if kind == SessionKind::Verification {
            state.store.record_failed_verification(&record.merchant_id, &record.merchant_ref, now_ms()).await?;
        }
        let reasons = vec!["face_mismatch".to_string()];
        return Ok(flow::fail_step(&state, &record, Step::Selfie, flow_state, reasons, debug).await?.into_response());
    }
    flow_state.selfie = Some(embedding.as_slice().to_vec());
    Ok(flow::pass_step(&state, &record, Step::Selfie, flow_state, debug).await?.into_response())
}

/// The ID card photo: card found and readable, document checks pass, portrait found. The
/// data read off the card goes to the webhook; the portrait's embedding waits (sealed) for
/// the selfie.
#[post("/api/capture/document")]
async fn upload_document(
    state: web::Data<AppState>,
    session: CaptureSession,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let record = session.require_open()?.clone();
    flow::expect_step(&record, Step::Document)?;
    let bytes = intake::read_single_image(payload, upload_limits(&state)).await?;
    retain(&state, &record.id, "document", std::slice::from_ref(&bytes)).await;
    let (reading, portrait) = read_document(&state, bytes).await?;
    let mut flow_state = flow::open_state(&state.templates, &record)?;
    let debug = Some(serde_json::json!({
        "corners": reading.corners.as_ref().map(|q| format!("{q:?}")),
        "quality": reading.quality.as_ref().map(|q| serde_json::to_value(q).unwrap_or_default()),
        "mrz_valid": reading.mrz.as_ref().map(|m| m.valid),
        "timings_ms": serde_json::to_value(reading.timings).unwrap_or_default(),
        "portrait_faces": portrait.as_ref().map(|p| p.detections.len()),
    }));
    let mut reasons: Vec<String> = reading.reason_codes().iter().map(|c| c.to_string()).collect();
    let portrait_embedding = portrait.as_ref().and_then(|p| p.face.as_ref()).map(|f| f.embedding.as_slice().to_vec());
    if reasons.is_empty() && portrait_embedding.is_none() {
        reasons.push("portrait_not_found".into());
    }
    if !reasons.is_empty() {
        return Ok(flow::fail_step(&state, &record, Step::Document, flow_state, reasons, debug).await?.into_response());
    }
    flow_state.document = Some(webhook_data(&reading));
    flow_state.portrait = portrait_embedding;
    Ok(flow::pass_step(&state, &record, Step::Document, flow_state, debug).await?.into_response())
}

/// Reads the card and analyses its portrait, off the async runtime.
async fn read_document(
    state: &web::Data<AppState>,
    bytes: Vec<u8>,
) -> Result<(DocumentReading, Option<FaceAnalysis>), ApiError> {
    let _slot = analysis_slot(state).await?;
    let (document, face, limits) = (state.document.clone(), state.face.clone(), image_limits(state));
    let result = web::block(move || {
        let reading = document.read(&bytes, &limits)?;
        // The portrait is small and printed: its face is used even where a selfie's quality
        // gate would complain; only "no face at all" fails the step.
        let portrait = reading.portrait_crop().map(|crop| face.analyze(&crop)).transpose().ok().flatten();
        Ok::<_, DocumentError>((reading, portrait))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("analysis task: {e}")))?;
    result.map_err(|e| match e {
        DocumentError::Image(img) => image_error(img),
        other => ApiError::Internal(other.to_string()),
    })
}

/// SPEC §2 `data`: normalised fields, the MRZ, and every field as read (`dataOnIDcard`).
fn webhook_data(reading: &DocumentReading) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    let mut sources = serde_json::Map::new();
    for (key, field) in &reading.data {
        // The engine's field names, renamed where SPEC §2 names them differently.
        let name = match key.as_str() {
            "given_names" => "name",
            "date_of_expiry" => "expiry_date",
            other => other,
        };
        data.insert(name.to_string(), serde_json::json!(field.value));
        sources.insert(name.to_string(), serde_json::to_value(field.source).unwrap_or_default());
    }
    if let Some(mrz) = &reading.mrz {
        data.entry("issuing_country").or_insert_with(|| serde_json::json!(mrz.fields.issuing_state));
        let doc_type = if mrz.fields.document_code.starts_with('P') { "P" } else { "ID" };
        data.entry("document_type").or_insert_with(|| serde_json::json!(doc_type));
        data.insert("mrz".into(), serde_json::json!({ "lines": mrz.lines, "valid": mrz.valid }));
    }
    data.insert("sources".into(), serde_json::Value::Object(sources));
    data.insert("dataOnIDcard".into(), serde_json::to_value(&reading.data_on_id_card).unwrap_or_default());
    serde_json::Value::Object(data)
}

/// Decodes and analyses an uploaded face photo off the async runtime.
async fn analyze_face(state: &web::Data<AppState>, bytes: Vec<u8>) -> Result<FaceAnalysis, ApiError> {
    let _slot = analysis_slot(state).await?;
    let face = state.face.clone();
    let limits = image_limits(state);
    let result = web::block(move || face.analyze_bytes(&bytes, &limits))
        .await
        .map_err(|e| ApiError::Internal(format!("analysis task: {e}")))?;
    result.map_err(|e| match e {
        FaceError::Image(img) => image_error(img),
        other => ApiError::Internal(other.to_string()),
    })
}

pub fn image_error(e: ImageError) -> ApiError {
    match e {
        ImageError::TooManyBytes { max, .. } => ApiError::PayloadTooLarge(max),
        ImageError::UnsupportedFormat => ApiError::UnsupportedUpload,
        other => ApiError::bad_request(other.code(), other.to_string()),
    }
}

fn face_debug(analysis: &FaceAnalysis) -> serde_json::Value {
    serde_json::json!({
        "faces_detected": analysis.detections.len(),
        "image": [analysis.image_width, analysis.image_height],
        "quality_reasons": analysis.reason_codes(),
        "measures": analysis.face.as_ref().map(|f| serde_json::to_value(f.measures).unwrap_or_default()),
    })
}

fn round3(v: f32) -> f64 {
    (f64::from(v) * 1000.0).round() / 1000.0
}

/// After 5 consecutive failures at least 30 s between attempts; after 50, verification is
/// disabled for the reference until it is enrolled again.
async fn throttle(state: &AppState, record: &SessionRecord) -> Result<Option<flow::StepReply>, ApiError> {
    let Some(enrollment) = state.store.enrollment(&record.merchant_id, &record.merchant_ref).await? else {
        return Ok(None);
    };
    if enrollment.failed_verifications >= DISABLE_AFTER_FAILURES {
        let flow_state = flow::open_state(&state.templates, record)?;
        let reasons = vec!["verification_disabled".to_string()];
        return flow::fail_step_final(state, record, Step::Selfie, flow_state, reasons).await.map(Some);
    }
    let since = now_ms() - enrollment.last_failed_at.unwrap_or(0);
    if enrollment.failed_verifications >= THROTTLE_AFTER_FAILURES && since < THROTTLE_DELAY_MS {
        return Err(ApiError::Throttled { retry_after_secs: ((THROTTLE_DELAY_MS - since) / 1000 + 1) as u64 });
    }
    Ok(None)
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
    /// The merchant's profile named by `branding` (colours, name, logo URL); absent for the
    /// default look.
    pub branding_profile: Option<PageBranding>,
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
    let branding_profile = match &record.branding {
        Some(name) => state.store.branding(&record.merchant_id, name).await?.map(|p| p.page_view()),
        None => None,
    };
    let body = CaptureState {
        kind: config.kind().as_str(),
        status: record.status.clone(),
        step: record.step.clone(),
        language: record.language.clone(),
        branding: record.branding.clone(),
        branding_profile,
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
