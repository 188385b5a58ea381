//! `/api/v1/enrollments/{merchant_ref}`: whether a user is enrolled, and erasure.

use actix_web::{HttpResponse, delete, get, web};

use super::auth::AuthMerchant;
use super::error::{ApiError, ErrorBody};
use crate::domain::MerchantRef;
use crate::sessions::rfc3339;
use crate::startup::AppState;
use crate::templates::EnrollmentInfo;

/// Whether `merchant_ref` is enrolled, since when, with which model. Never the template.
#[utoipa::path(
    get,
    path = "/api/v1/enrollments/{merchant_ref}",
    params(("merchant_ref" = String, Path, description = "The end user's id within the merchant")),
    responses(
        (status = 200, description = "Enrolled", body = EnrollmentInfo),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "Not enrolled (not_enrolled)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/api/v1/enrollments/{merchant_ref}")]
pub async fn get_enrollment(
    state: web::Data<AppState>,
    merchant: AuthMerchant,
    merchant_ref: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let merchant_ref = MerchantRef::parse(&merchant_ref)?;
    let record = state.store.enrollment(&merchant.0.id, merchant_ref.as_str()).await?.ok_or_else(not_enrolled)?;
    Ok(HttpResponse::Ok().json(EnrollmentInfo {
        merchant_ref: record.merchant_ref,
        enrolled: true,
        model_version: record.model_version,
        created_at: rfc3339(record.created_at),
        updated_at: rfc3339(record.updated_at),
    }))
}

/// Erases the template of `merchant_ref` (right to erasure); later verifications get 409.
#[utoipa::path(
    delete,
    path = "/api/v1/enrollments/{merchant_ref}",
    params(("merchant_ref" = String, Path, description = "The end user's id within the merchant")),
    responses(
        (status = 204, description = "Erased"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "Not enrolled (not_enrolled)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[delete("/api/v1/enrollments/{merchant_ref}")]
pub async fn delete_enrollment(
    state: web::Data<AppState>,
    merchant: AuthMerchant,
    merchant_ref: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let merchant_ref = MerchantRef::parse(&merchant_ref)?;
    if !state.store.delete_enrollment(&merchant.0.id, merchant_ref.as_str()).await? {
        return Err(not_enrolled());
    }
    tracing::info!(merchant_id = %merchant.0.id, merchant_ref = merchant_ref.as_str(), "enrollment erased");
    Ok(HttpResponse::NoContent().finish())
}

fn not_enrolled() -> ApiError {
    ApiError::NotFoundCode { code: "not_enrolled", message: "this merchant_ref has no enrollment".into() }
}
