//! The server side of the capture steps: bounded attempts, the sealed intermediate state that
//! carries results from one step to the next (instances keep nothing in memory), and how a
//! session ends (template stored, webhook queued).

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::error::ApiError;
use crate::domain::{ConfigFlag, SessionConfig, SessionKind, SessionStatus, Step};
use crate::sessions::Outcome;
use crate::startup::AppState;
use crate::store::now_ms;
use crate::store::sessions::{ProgressUpdate, SessionRecord};
use crate::templates::{Sealed, TemplateKeys, seal_template};

/// What earlier steps produced, sealed with the template key between requests.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FlowState {
    /// Webhook `data` read off the ID card.
    pub document: Option<Value>,
    /// Embedding of the ID portrait (enrollment).
    pub portrait: Option<Vec<f32>>,
    /// Embedding of the accepted selfie.
    pub selfie: Option<Vec<f32>>,
    pub scores: serde_json::Map<String, Value>,
    /// The issued liveness challenge, and whether it has been answered (one answer each).
    pub challenge: Option<Value>,
    pub challenge_answered: bool,
    /// Per-step diagnostics, returned only for sessions with the `debug` flag.
    pub debug: serde_json::Map<String, Value>,
}

fn state_aad(session_id: &str) -> Vec<u8> {
    [b"thirdfactor-session-state-v1:".as_slice(), session_id.as_bytes()].concat()
}

pub fn open_state(keys: &TemplateKeys, record: &SessionRecord) -> Result<FlowState, ApiError> {
    let (Some(blob), Some(key_id)) = (&record.state, &record.state_key_id) else {
        return Ok(FlowState::default());
    };
    let sealed = Sealed { key_id: key_id.clone(), blob: blob.clone() };
    let plain = keys.open(&sealed, &state_aad(&record.id)).map_err(|e| ApiError::Internal(e.to_string()))?;
    serde_json::from_slice(&plain).map_err(|e| ApiError::Internal(format!("session state: {e}")))
}

/// Step → attempts used.
pub fn attempts(record: &SessionRecord) -> BTreeMap<String, u32> {
    serde_json::from_str(&record.attempts).unwrap_or_default()
}

/// The steps of a session, in order.
pub fn steps(record: &SessionRecord) -> Vec<Step> {
    let config = SessionConfig::parse(&record.config).unwrap_or_default();
    let mut steps = Vec::new();
    if config.kind() == SessionKind::Enrollment {
        steps.push(Step::Document);
    }
    steps.push(Step::Selfie);
    if config.has(ConfigFlag::Liveness) {
        steps.push(Step::Liveness);
    }
    steps
}

fn next_step(record: &SessionRecord, done: Step) -> Option<Step> {
    let all = steps(record);
    all.iter().position(|s| *s == done).and_then(|i| all.get(i + 1)).copied()
}

/// Refuses uploads for any step but the current one.
pub fn expect_step(record: &SessionRecord, step: Step) -> Result<(), ApiError> {
    if record.step == step.as_str() {
        Ok(())
    } else {
        Err(ApiError::Conflict {
            code: "wrong_step",
            message: format!("this session is at step {}, not {}", record.step, step.as_str()),
        })
    }
}

/// What the page gets back from a step.
#[derive(Debug, Serialize)]
pub struct StepReply {
    pub accepted: bool,
    pub reasons: Vec<String>,
    pub attempts_left: u32,
    pub next_step: Option<&'static str>,
    pub session_ended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<Value>,
}

impl StepReply {
    pub fn into_response(self) -> HttpResponse {
        if self.accepted { HttpResponse::Ok().json(self) } else { HttpResponse::UnprocessableEntity().json(self) }
    }
}

/// The step passed: store the new state and move on, or end the session approved.
pub async fn pass_step(
    app: &AppState,
    record: &SessionRecord,
    step: Step,
    mut state: FlowState,
    debug: Option<Value>,
) -> Result<StepReply, ApiError> {
    if let Some(d) = &debug {
        state.debug.insert(step.as_str().to_string(), d.clone());
    }
    let attempts = attempts(record);
    let left = app.capture.max_attempts_per_step.saturating_sub(attempts.get(step.as_str()).copied().unwrap_or(0));
    match next_step(record, step) {
        Some(next) => {
            save_progress(app, record, next, &attempts, &state).await?;
            Ok(StepReply {
                accepted: true,
                reasons: vec![],
                attempts_left: left,
                next_step: Some(next.as_str()),
                session_ended: false,
                debug: debug_if_allowed(record, debug),
            })
        }
        None => {
            approve(app, record, state).await?;
            Ok(StepReply {
                accepted: true,
                reasons: vec![],
                attempts_left: left,
                next_step: None,
                session_ended: true,
                debug: debug_if_allowed(record, debug),
            })
        }
    }
}

/// The step failed: count the attempt; at the limit the session ends rejected.
pub async fn fail_step(
    app: &AppState,
    record: &SessionRecord,
    step: Step,
    mut state: FlowState,
    reasons: Vec<String>,
    debug: Option<Value>,
) -> Result<StepReply, ApiError> {
    let mut attempts = attempts(record);
    let used = attempts.entry(step.as_str().to_string()).or_insert(0);
    *used += 1;
    let left = app.capture.max_attempts_per_step.saturating_sub(*used);
    if let Some(d) = &debug {
        state.debug.insert(format!("{}_attempt_{}", step.as_str(), used), d.clone());
    }
    tracing::info!(session_id = %record.id, step = step.as_str(), ?reasons, attempts_left = left, "capture step failed");
    if left == 0 {
        let mut final_reasons = reasons.clone();
        final_reasons.push("too_many_attempts".into());
        reject(app, record, &state, final_reasons).await?;
        return Ok(StepReply {
            accepted: false,
            reasons,
            attempts_left: 0,
            next_step: None,
            session_ended: true,
            debug: debug_if_allowed(record, debug),
        });
    }
    save_progress(app, record, step, &attempts, &state).await?;
    Ok(StepReply {
        accepted: false,
        reasons,
        attempts_left: left,
        next_step: Some(step.as_str()),
        session_ended: false,
        debug: debug_if_allowed(record, debug),
    })
}

/// Ends the session rejected at once (no retry can help, e.g. verification disabled).
pub async fn fail_step_final(
    app: &AppState,
    record: &SessionRecord,
    step: Step,
    state: FlowState,
    reasons: Vec<String>,
) -> Result<StepReply, ApiError> {
    tracing::info!(session_id = %record.id, step = step.as_str(), ?reasons, "capture step refused");
    reject(app, record, &state, reasons.clone()).await?;
    Ok(StepReply { accepted: false, reasons, attempts_left: 0, next_step: None, session_ended: true, debug: None })
}

fn debug_if_allowed(record: &SessionRecord, debug: Option<Value>) -> Option<Value> {
    SessionConfig::parse(&record.config).ok().filter(|c| c.has(ConfigFlag::Debug)).and(debug)
}

pub async fn save_progress(
    app: &AppState,
    record: &SessionRecord,
    step: Step,
    attempts: &BTreeMap<String, u32>,
    state: &FlowState,
) -> Result<(), ApiError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(state).map_err(|e| ApiError::Internal(e.to_string()))?);
    let sealed = app.templates.seal(&plain, &state_aad(&record.id));
    let attempts = serde_json::to_string(attempts).unwrap_or_else(|_| "{}".into());
    let written = app
        .store
        .update_progress(&ProgressUpdate {
            id: &record.id,
            expected_version: record.version,
            step: step.as_str(),
            attempts: &attempts,
            state: Some(&sealed.blob),
            state_key_id: Some(&sealed.key_id),
            now: now_ms(),
        })
        .await?;
    if written {
        Ok(())
    } else {
        Err(ApiError::Conflict {
            code: "concurrent_update",
            message: "another upload for this session was processed at the same time; reload".into(),
        })
    }
}

/// Ends the session approved: stores the template (enrollment) and queues the webhook.
async fn approve(app: &AppState, record: &SessionRecord, state: FlowState) -> Result<(), ApiError> {
    let config = SessionConfig::parse(&record.config).unwrap_or_default();
    // The template is written with the session's end (one transaction): never for a session
    // that another request or instance ended meanwhile.
    let template = if config.kind() == SessionKind::Enrollment {
        let selfie = state.selfie.as_deref().ok_or_else(|| ApiError::Internal("approved without a selfie".into()))?;
        Some(seal_template(
            &app.templates,
            &record.merchant_id,
            &record.merchant_ref,
            &app.face.embedding_version(),
            selfie,
            &record.id,
        ))
    } else {
        app.store.reset_failed_verifications(&record.merchant_id, &record.merchant_ref).await?;
        None
    };
    let outcome = Outcome { reasons: vec![], scores: state.scores, data: state.document, template };
    end(app, record, SessionStatus::Approved, outcome).await
}

async fn reject(
    app: &AppState,
    record: &SessionRecord,
    state: &FlowState,
    reasons: Vec<String>,
) -> Result<(), ApiError> {
    let outcome = Outcome { reasons, scores: state.scores.clone(), data: state.document.clone(), template: None };
    end(app, record, SessionStatus::Rejected, outcome).await
}

async fn end(app: &AppState, record: &SessionRecord, status: SessionStatus, outcome: Outcome) -> Result<(), ApiError> {
    if app.sessions.finish(record, status, outcome).await? {
        tracing::info!(session_id = %record.id, status = status.as_str(), "session decided");
        Ok(())
    } else {
        Err(ApiError::SessionGone)
    }
}
