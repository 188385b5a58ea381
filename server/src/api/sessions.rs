//! `/api/v1/sessions`: open a capture session, read it, cancel it.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::AuthMerchant;
use super::error::{ApiError, ErrorBody};
use crate::sessions::{self, SessionRequest, SessionView};
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct CreatedResponse {
    pub session_id: String,
    #[schema(example = "created")]
    pub status: String,
    #[schema(example = "2026-11-27T16:15:00Z")]
    pub expires_at: String,
    pub info: LinkInfo,
}

#[derive(Serialize, ToSchema)]
pub struct LinkInfo {
    /// The one-time capture link to send to the user by SMS.
    #[schema(example = "https://id.example.com/c/3q2-7wEjRkW0mJ3c2kG7xQ0y9nH1bU8vA4tS6pL5oE0")]
    pub url: String,
}

/// Open a session and get the capture link.
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    request_body = SessionRequest,
    responses(
        (status = 201, description = "Session created", body = CreatedResponse),
        (status = 400, description = "Invalid field (unknown_config_flag, invalid_url, backend_url_not_allowed, backend_url_private, invalid_merchant_ref, unsupported_language, unknown_branding, invalid_json, …)", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "merchant_id is not the key's merchant", body = ErrorBody),
        (status = 409, description = "Verification for a merchant_ref with no enrollment (not_enrolled)", body = ErrorBody),
        (status = 429, description = "Rate limit of the API key or client IP (rate_limited); see Retry-After", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/api/v1/sessions")]
pub async fn create_session(
    state: web::Data<AppState>,
    merchant: AuthMerchant,
    body: web::Json<SessionRequest>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    crate::audit::note_reference(&req, &body.merchant_ref);
    let created = state.sessions.create(&merchant.0, &body).await?;
    let url = format!("{}/c/{}", state.public_url.trim_end_matches('/'), created.token.expose());
    let response = CreatedResponse {
        session_id: created.record.id.clone(),
        status: created.record.status.clone(),
        expires_at: sessions::rfc3339(created.record.expires_at),
        info: LinkInfo { url },
    };
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/sessions/{}", created.record.id)))
        .json(response))
}

/// Status and, once ended, the result (the same payload as the webhook).
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "The session", body = SessionView),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such session for this merchant", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/api/v1/sessions/{id}")]
pub async fn get_session(
    state: web::Data<AppState>,
    merchant: AuthMerchant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = state.sessions.load_for_merchant(&merchant.0, &id).await?;
    Ok(HttpResponse::Ok().json(SessionView::of(&record)))
}

/// Cancel an open session; its link stops working.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/cancel",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "Cancelled", body = SessionView),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such session for this merchant", body = ErrorBody),
        (status = 409, description = "The session has already ended (session_ended)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/api/v1/sessions/{id}/cancel")]
pub async fn cancel_session(
    state: web::Data<AppState>,
    merchant: AuthMerchant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = state.sessions.cancel(&merchant.0, &id).await?;
    Ok(HttpResponse::Ok().json(SessionView::of(&record)))
}
