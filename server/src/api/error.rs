//! Every error a handler returns, mapped to HTTP in this one place. The body is always
//! `{"error": {"code": "...", "message": "..."}}` with a stable code.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldError;
use crate::sessions::SessionError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("missing API key: send Authorization: Bearer <key>")]
    MissingApiKey,
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    NotFoundCode { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("uploads must be JPEG, PNG or WebP images")]
    UnsupportedUpload,
    #[error("no capture session: open the link from your message again")]
    CaptureUnauthorized,
    #[error("this session has ended")]
    SessionGone,
    #[error("too many failed verifications; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("service unavailable, retry later")]
    Unavailable,
    #[error("too many analyses in progress; retry in {retry_after_secs} s")]
    Overloaded { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `unknown_config_flag`.
    #[schema(example = "unknown_config_flag")]
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    pub fn code(&self) -> &str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::NotFoundCode { code, .. } => code,
            ApiError::MissingApiKey => "missing_api_key",
            ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::Forbidden(_) => "merchant_mismatch",
            ApiError::NotFound(_) => "not_found",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::UnsupportedUpload => "unsupported_image_format",
            ApiError::Unavailable => "unavailable",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::Throttled { .. } => "verification_throttled",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::CaptureUnauthorized => "capture_unauthorized",
            ApiError::SessionGone => "session_ended",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::MissingApiKey | ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NotFoundCode { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType | ApiError::UnsupportedUpload => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable | ApiError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Throttled { .. } | ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::CaptureUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::SessionGone => StatusCode::GONE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            // The detail goes to the log only; clients learn nothing about internals.
            tracing::error!(error = %detail, "internal error");
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code().to_string(), message: self.to_string() } };
        let mut response = HttpResponse::build(self.status_code()).json(body);
        match self {
            ApiError::MissingApiKey | ApiError::InvalidApiKey => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::Throttled { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs }
            | ApiError::Overloaded { retry_after_secs } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::BadRequest { code: e.code, message: e.message }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            // The client gets a bare 503; the operator needs the cause.
            tracing::warn!(error = %e, "database unavailable");
            ApiError::Unavailable
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Field(f) => f.into(),
            SessionError::MerchantMismatch(_) => ApiError::Forbidden(e.to_string()),
            SessionError::NotEnrolled(_) => ApiError::Conflict { code: "not_enrolled", message: e.to_string() },
            SessionError::UnknownBranding(_) => ApiError::bad_request("unknown_branding", e.to_string()),
            SessionError::NotFound => ApiError::NotFound("session"),
            SessionError::Ended(_) => ApiError::Conflict { code: "session_ended", message: e.to_string() },
            SessionError::Store(s) => s.into(),
        }
    }
}

/// Turns actix's JSON extractor failures into our error shape.
pub fn json_error(err: actix_web::error::JsonPayloadError, limit: usize) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::OverflowKnownLength { .. } | J::Overflow { .. } => ApiError::PayloadTooLarge(limit),
        J::ContentType => ApiError::UnsupportedMediaType,
        J::Deserialize(e) if e.is_data() => ApiError::bad_request("invalid_request", e.to_string()),
        J::Deserialize(e) => ApiError::bad_request("invalid_json", format!("malformed JSON: {e}")),
        other => ApiError::bad_request("invalid_json", other.to_string()),
    };
    api.into()
}

/// Unknown routes under /api get the JSON error shape too.
pub async fn api_not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}
