//! `Authorization: Bearer <API key>` → the merchant it belongs to.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::error::ApiError;
use crate::audit::AuditActor;
use crate::domain::ApiKey;
use crate::startup::AppState;
use crate::store::merchants::Merchant;

/// The authenticated merchant of a request.
pub struct AuthMerchant(pub Merchant);

impl FromRequest for AuthMerchant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req.headers().get(header::AUTHORIZATION).map(|v| v.to_str().map(str::to_owned));
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("app state missing".into()))?;
            let value = match header {
                None => return Err(ApiError::MissingApiKey),
                Some(Err(_)) => return Err(ApiError::InvalidApiKey),
                Some(Ok(v)) => v,
            };
            let raw = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .ok_or(ApiError::MissingApiKey)?;
            let key = ApiKey::parse(raw).ok_or(ApiError::InvalidApiKey)?;
            let hash = key.hash();
            let merchant = state.store.merchant_by_key_hash(&hash).await?.ok_or(ApiError::InvalidApiKey)?;
            // Counted only for valid keys: invented keys cannot fill the table (the per-IP
            // limit covers guessing).
            state.rate_limits.check_api_key(&hash)?;
            req.extensions_mut().insert(AuditActor(merchant.id.clone()));
            Ok(AuthMerchant(merchant))
        })
    }
}
