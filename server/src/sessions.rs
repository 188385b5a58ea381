//! Capture sessions: creation from an integrator's request, the status machine
//! (created → in_progress → approved | rejected | cancelled | expired), and the result
//! payload that the API and the webhook share.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::domain::{
    Branding, CaptureToken, FieldError, Language, MerchantRef, RedirectUrl, SessionConfig, SessionKind, SessionStatus,
    Step, WebhookUrl,
};
use crate::store::enrollments::NewEnrollment;
use crate::store::merchants::Merchant;
use crate::store::sessions::{SessionEnd, SessionRecord};
use crate::store::webhooks::NewDelivery;
use crate::store::{Store, StoreError, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("merchant_id {0:?} is not the merchant of this API key")]
    MerchantMismatch(String),
    #[error("merchant_ref {0:?} has no enrollment; start an enrollment session first")]
    NotEnrolled(String),
    #[error(
        "branding {0:?} is not a profile of this merchant; create it with `thirdfactor merchant branding set` \
         or leave branding out for the default look"
    )]
    UnknownBranding(String),
    #[error("session not found")]
    NotFound,
    #[error("session has already ended with status {0}")]
    Ended(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `POST /api/v1/sessions` body, as integrators already send it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The merchant's id; must be the API key's merchant.
    #[schema(example = "1")]
    pub merchant_id: String,
    /// Comma-separated flags: `enrollment`, `liveness`, `debug`. Without `enrollment` the
    /// session is a verification against the stored template.
    #[schema(example = "enrollment,liveness,debug")]
    pub config: String,
    /// Branding profile for the capture page.
    #[schema(example = "3fatesting")]
    #[serde(default)]
    pub branding: Option<String>,
    /// Capture page language: en, de, fr, es or hr.
    #[schema(example = "en")]
    #[serde(default)]
    pub language: Option<String>,
    /// Webhook target under the merchant's registered base; `{{sessionId}}` is replaced.
    #[schema(example = "https://api.client.example/webhook/{{sessionId}}")]
    pub backend_url: String,
    #[schema(example = "https://client.example/done")]
    pub return_url: String,
    #[schema(example = "https://client.example/cancel")]
    pub cancel_url: String,
    /// The end user's id within the merchant.
    #[schema(example = "user-4711")]
    pub merchant_ref: String,
}

/// The request after parsing: every field valid.
#[derive(Debug)]
struct ValidSessionRequest {
    config: SessionConfig,
    branding: Option<Branding>,
    language: Language,
    backend_url: WebhookUrl,
    return_url: RedirectUrl,
    cancel_url: RedirectUrl,
    merchant_ref: MerchantRef,
}

impl SessionRequest {
    fn parse(&self, merchant: &Merchant) -> Result<ValidSessionRequest, SessionError> {
        if self.merchant_id != merchant.id {
            return Err(SessionError::MerchantMismatch(self.merchant_id.chars().take(64).collect()));
        }
        Ok(ValidSessionRequest {
            config: SessionConfig::parse(&self.config)?,
            branding: self.branding.as_deref().filter(|b| !b.is_empty()).map(Branding::parse).transpose()?,
            language: self
                .language
                .as_deref()
                .filter(|l| !l.is_empty())
                .map(Language::parse)
                .transpose()?
                .unwrap_or(Language::En),
            backend_url: WebhookUrl::parse_under(&self.backend_url, &merchant.webhook_base)?,
            return_url: RedirectUrl::parse(&self.return_url, "return_url")?,
            cancel_url: RedirectUrl::parse(&self.cancel_url, "cancel_url")?,
            merchant_ref: MerchantRef::parse(&self.merchant_ref)?,
        })
    }
}

/// A new session and its one-time capture token (only ever returned here).
#[derive(Debug)]
pub struct CreatedSession {
    pub record: SessionRecord,
    pub token: CaptureToken,
}

/// Policy knobs for session creation.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    pub ttl: Duration,
    pub allow_private_targets: bool,
}

/// The session service: storage, policy, and the webhook worker's wake-up.
#[derive(Clone)]
pub struct Sessions {
    pub store: Store,
    pub policy: SessionPolicy,
    pub webhook_wake: Arc<Notify>,
}

/// How a session ends.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reasons: Vec<String>,
    pub scores: serde_json::Map<String, Value>,
    pub data: Option<Value>,
    /// An approved enrollment's template, stored with the session's end or not at all.
    pub template: Option<NewEnrollment>,
}

impl Sessions {
    pub async fn create(&self, merchant: &Merchant, request: &SessionRequest) -> Result<CreatedSession, SessionError> {
        create(&self.store, &self.policy, merchant, request).await
    }

    /// Loads a session of `merchant`; another merchant's session is reported as not found.
    pub async fn load_for_merchant(&self, merchant: &Merchant, id: &str) -> Result<SessionRecord, SessionError> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(SessionError::NotFound);
        }
        let record =
            self.store.session(id).await?.filter(|s| s.merchant_id == merchant.id).ok_or(SessionError::NotFound)?;
        self.expire_if_due(record).await
    }

    /// Ends a session whose time is up, so every reader sees `expired` at once (the sweeper
    /// does the same in the background).
    pub async fn expire_if_due(&self, record: SessionRecord) -> Result<SessionRecord, SessionError> {
        let open = SessionStatus::parse(&record.status).is_some_and(|s| !s.is_final());
        if open && record.expires_at <= now_ms() {
            self.finish(&record, SessionStatus::Expired, Outcome::default()).await?;
            return self.store.session(&record.id).await?.ok_or(SessionError::NotFound);
        }
        Ok(record)
    }

    pub async fn cancel(&self, merchant: &Merchant, id: &str) -> Result<SessionRecord, SessionError> {
        let record = self.load_for_merchant(merchant, id).await?;
        self.cancel_record(&record).await?;
        tracing::info!(session_id = %id, "session cancelled");
        self.store.session(id).await?.ok_or(SessionError::NotFound)
    }

    /// Cancels an open session (by the integrator or the user).
    pub async fn cancel_record(&self, record: &SessionRecord) -> Result<(), SessionError> {
        if let Some(status) = SessionStatus::parse(&record.status).filter(|s| s.is_final()) {
            return Err(SessionError::Ended(status.as_str()));
        }
        if !self.finish(record, SessionStatus::Cancelled, Outcome::default()).await? {
            let now = self.store.session(&record.id).await?.ok_or(SessionError::NotFound)?;
            let status = SessionStatus::parse(&now.status).unwrap_or(SessionStatus::Expired);
            return Err(SessionError::Ended(status.as_str()));
        }
        Ok(())
    }

    /// Ends the session with `status` and queues its webhook; false if another writer ended
    /// it first.
    pub async fn finish(
        &self,
        record: &SessionRecord,
        status: SessionStatus,
        outcome: Outcome,
    ) -> Result<bool, SessionError> {
        let mut ended = record.clone();
        ended.status = status.as_str().to_string();
        ended.reasons = serde_json::to_string(&outcome.reasons).unwrap_or_else(|_| "[]".into());
        let mut result = SessionResult::of(&ended);
        result.scores = outcome.scores;
        result.data = outcome.data;
        let payload = serde_json::to_string(&result).unwrap_or_default();
        let now = now_ms();
        let delivery = NewDelivery {
            id: uuid::Uuid::new_v4().to_string(),
            session_id: record.id.clone(),
            merchant_id: record.merchant_id.clone(),
            url: WebhookUrl::fill(&record.backend_url, &record.id),
            body: payload.clone(),
            created_at: now,
        };
        let end =
            SessionEnd { id: &record.id, status: status.as_str(), reasons: &ended.reasons, result: &payload, now };
        let changed = self.store.end_session(&end, &delivery, outcome.template.as_ref()).await?;
        if changed {
            metrics::counter!("thirdfactor_sessions_ended_total", "status" => status.as_str()).increment(1);
            self.webhook_wake.notify_one();
        }
        Ok(changed)
    }

    /// Marks overdue open sessions `expired`; returns how many.
    pub async fn sweep_expired(&self) -> Result<usize, SessionError> {
        let mut count = 0;
        for record in self.store.overdue_sessions(now_ms(), 500).await? {
            if self.finish(&record, SessionStatus::Expired, Outcome::default()).await? {
                count += 1;
            }
        }
        if count > 0 {
            tracing::info!(count, "sessions expired");
        }
        Ok(count)
    }

    pub async fn lookup_capture(&self, raw_token: &str) -> Result<CaptureLookup, SessionError> {
        let Some(token) = CaptureToken::parse(raw_token) else {
            return Ok(CaptureLookup::Unknown);
        };
        let Some(record) = self.store.session_by_token_hash(&token.hash()).await? else {
            return Ok(CaptureLookup::Unknown);
        };
        let record = self.expire_if_due(record).await?;
        let ended = SessionStatus::parse(&record.status).is_none_or(|s| s.is_final());
        Ok(if ended { CaptureLookup::Ended(record) } else { CaptureLookup::Open(record) })
    }
}

async fn create(
    store: &Store,
    policy: &SessionPolicy,
    merchant: &Merchant,
    request: &SessionRequest,
) -> Result<CreatedSession, SessionError> {
    let valid = request.parse(merchant)?;
    if !policy.allow_private_targets {
        check_public_target(&valid.backend_url).await?;
    }
    if let Some(branding) = &valid.branding
        && !store.branding_exists(&merchant.id, branding.as_str()).await?
    {
        return Err(SessionError::UnknownBranding(branding.as_str().to_string()));
    }
    let kind = valid.config.kind();
    if kind == SessionKind::Verification && !store.enrollment_exists(&merchant.id, valid.merchant_ref.as_str()).await? {
        return Err(SessionError::NotEnrolled(valid.merchant_ref.as_str().to_string()));
    }
    let token = CaptureToken::generate();
    let now = now_ms();
    let record = SessionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        merchant_id: merchant.id.clone(),
        merchant_ref: valid.merchant_ref.as_str().to_string(),
        kind: kind.as_str().to_string(),
        config: valid.config.to_string(),
        branding: valid.branding.map(|b| b.as_str().to_string()),
        language: valid.language.as_str().to_string(),
        backend_url: valid.backend_url.template().to_string(),
        return_url: valid.return_url.as_str().to_string(),
        cancel_url: valid.cancel_url.as_str().to_string(),
        status: SessionStatus::Created.as_str().to_string(),
        step: first_step(kind).as_str().to_string(),
        token_hash: token.hash(),
        reasons: "[]".into(),
        result: None,
        created_at: now,
        updated_at: now,
        expires_at: now + policy.ttl.as_millis() as i64,
        ended_at: None,
        capture_secret_hash: None,
        token_used_at: None,
        attempts: "{}".into(),
        state: None,
        state_key_id: None,
        version: 0,
    };
    store.insert_session(&record).await?;
    metrics::counter!("thirdfactor_sessions_created_total", "type" => kind.as_str()).increment(1);
    tracing::info!(session_id = %record.id, merchant_id = %record.merchant_id, kind = kind.as_str(), "session created");
    Ok(CreatedSession { record, token })
}

fn first_step(kind: SessionKind) -> Step {
    match kind {
        SessionKind::Enrollment => Step::Document,
        SessionKind::Verification => Step::Selfie,
    }
}

/// SSRF guard: the webhook host must not resolve to an internal address.
async fn check_public_target(url: &WebhookUrl) -> Result<(), SessionError> {
    let lookup = tokio::time::timeout(Duration::from_secs(3), tokio::net::lookup_host((url.host(), url.port()))).await;
    let addrs: Vec<_> = match lookup {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => {
            return Err(FieldError::new(
                "backend_url_unresolvable",
                format!("backend_url host {} does not resolve", url.host()),
            )
            .into());
        }
    };
    if addrs.is_empty() || addrs.iter().any(|a| crate::domain::is_internal_address(a.ip())) {
        return Err(FieldError::new(
            "backend_url_private",
            "backend_url resolves to a loopback or private address; the server does not send webhooks there",
        )
        .into());
    }
    Ok(())
}

/// The result of an ended session: the webhook body, and `result` in `GET /sessions/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResult {
    pub session_id: String,
    pub merchant_id: String,
    pub merchant_ref: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub reasons: Vec<String>,
    pub scores: serde_json::Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl SessionResult {
    pub fn of(record: &SessionRecord) -> Self {
        Self {
            session_id: record.id.clone(),
            merchant_id: record.merchant_id.clone(),
            merchant_ref: record.merchant_ref.clone(),
            kind: record.kind.clone(),
            status: record.status.clone(),
            reasons: serde_json::from_str(&record.reasons).unwrap_or_default(),
            scores: serde_json::Map::new(),
            data: None,
        }
    }
}

/// `GET /api/v1/sessions/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub merchant_id: String,
    pub merchant_ref: String,
    #[serde(rename = "type")]
    #[schema(example = "enrollment")]
    pub kind: String,
    #[schema(example = "enrollment,liveness,debug")]
    pub config: String,
    pub status: SessionStatus,
    pub step: Step,
    pub language: String,
    pub branding: Option<String>,
    #[schema(example = "2026-11-27T16:00:00Z")]
    pub created_at: String,
    pub expires_at: String,
    pub ended_at: Option<String>,
    pub reasons: Vec<String>,
    /// The same payload the webhook carries, once the session has ended.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
}

impl SessionView {
    pub fn of(record: &SessionRecord) -> Self {
        Self {
            session_id: record.id.clone(),
            merchant_id: record.merchant_id.clone(),
            merchant_ref: record.merchant_ref.clone(),
            kind: record.kind.clone(),
            config: record.config.clone(),
            status: SessionStatus::parse(&record.status).unwrap_or(SessionStatus::Expired),
            step: Step::parse(&record.step).unwrap_or(Step::Done),
            language: record.language.clone(),
            branding: record.branding.clone(),
            created_at: rfc3339(record.created_at),
            expires_at: rfc3339(record.expires_at),
            ended_at: record.ended_at.map(rfc3339),
            reasons: serde_json::from_str(&record.reasons).unwrap_or_default(),
            result: record.result.as_deref().and_then(|r| serde_json::from_str(r).ok()),
        }
    }
}

/// Unix milliseconds as RFC 3339 UTC with second precision.
pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// What a capture link leads to.
pub enum CaptureLookup {
    Unknown,
    Ended(SessionRecord),
    Open(SessionRecord),
}
