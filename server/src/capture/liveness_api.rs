//! The liveness step of the capture API: a server-issued challenge (random actions, nonce,
//! time window) kept sealed in the session, and exactly one answer per challenge.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, post, web};
use serde::Serialize;
use thirdfactor_engine::face::Embedding;
use thirdfactor_engine::liveness::{Action, Challenge, Frame};

use super::api::{analysis_slot, retain, upload_limits_for_frames};
use super::cookie::CaptureSession;
use super::flow;
use super::intake;
use crate::api::error::ApiError;
use crate::domain::Step;
use crate::startup::AppState;
use crate::store::now_ms;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(issue_challenge).service(answer_challenge);
}

#[derive(Serialize)]
struct ChallengeView {
    nonce: String,
    actions: Vec<Action>,
    window_ms: i64,
}

/// Issues a fresh challenge (an unanswered, unexpired one is returned again instead, so a
/// page reload does not mint nonces).
#[post("/api/capture/liveness/challenge")]
async fn issue_challenge(state: web::Data<AppState>, session: CaptureSession) -> Result<HttpResponse, ApiError> {
    let record = session.require_open()?.clone();
    flow::expect_step(&record, Step::Liveness)?;
    let mut flow_state = flow::open_state(&state.templates, &record)?;
    let now = now_ms();
    let current: Option<Challenge> = flow_state.challenge.clone().and_then(|v| serde_json::from_value(v).ok());
    let challenge = match current {
        Some(c) if !flow_state.challenge_answered && !c.is_expired(now, 0) => c,
        _ => {
            let c = state.challenges.issue(now).map_err(|e| ApiError::Internal(e.to_string()))?;
            flow_state.challenge = Some(serde_json::to_value(&c).map_err(|e| ApiError::Internal(e.to_string()))?);
            flow_state.challenge_answered = false;
            flow::save_progress(&state, &record, Step::Liveness, &flow::attempts(&record), &flow_state).await?;
            c
        }
    };
    Ok(HttpResponse::Ok().json(ChallengeView {
        nonce: challenge.nonce.clone(),
        actions: challenge.actions.clone(),
        window_ms: challenge.window_ms,
    }))
}

/// The frames captured while the user followed the challenge.
#[post("/api/capture/liveness")]
async fn answer_challenge(
    state: web::Data<AppState>,
    session: CaptureSession,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let record = session.require_open()?.clone();
    flow::expect_step(&record, Step::Liveness)?;
    let (meta, frames) = intake::read_burst(payload, upload_limits_for_frames(&state)).await?;
    if frames.len() < state.capture.min_frames {
        return Err(ApiError::bad_request(
            "too_few_frames",
            format!("send at least {} frames", state.capture.min_frames),
        ));
    }
    let mut flow_state = flow::open_state(&state.templates, &record)?;
    let challenge: Challenge = flow_state
        .challenge
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| ApiError::Conflict { code: "no_challenge", message: "request a challenge first".into() })?;
    if flow_state.challenge_answered {
        return Err(ApiError::Conflict {
            code: "challenge_already_answered",
            message: "this challenge was already answered; request a new one".into(),
        });
    }
    // The slot comes before spending the challenge: a shed answer (503) may be sent again.
    let slot = analysis_slot(&state).await?;
    // Spend the challenge before evaluating: a replayed or concurrent second answer loses the
    // versioned write and is refused.
    flow_state.challenge_answered = true;
    flow::save_progress(&state, &record, Step::Liveness, &flow::attempts(&record), &flow_state).await?;
    let record = state.store.session(&record.id).await?.ok_or(ApiError::SessionGone)?;
    retain(&state, &record.id, "liveness", &frames).await;

    let reference = flow_state.selfie.clone().and_then(Embedding::from_raw);
    let frames: Vec<Frame> =
        frames.into_iter().zip(meta.timestamps).map(|(jpeg, timestamp_ms)| Frame { jpeg, timestamp_ms }).collect();
    let decision = {
        let _slot = slot;
        let engine = state.liveness.clone();
        web::block(move || engine.evaluate(&challenge, &meta.nonce, &frames, reference.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(format!("analysis task: {e}")))?
    };
    flow_state
        .scores
        .insert("liveness".into(), serde_json::json!((f64::from(decision.score) * 1000.0).round() / 1000.0));
    let debug = Some(serde_json::to_value(&decision.details).unwrap_or_default());
    tracing::info!(session_id = %record.id, approved = decision.approved, score = decision.score, "liveness decided");
    if decision.approved {
        return Ok(flow::pass_step(&state, &record, Step::Liveness, flow_state, debug).await?.into_response());
    }
    let reasons = decision.reasons.iter().map(|r| r.code().to_string()).collect();
    Ok(flow::fail_step(&state, &record, Step::Liveness, flow_state, reasons, debug).await?.into_response())
}
