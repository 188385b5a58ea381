//! Liveness (`/healthz`), readiness (`/readyz`) and Prometheus metrics (`/metrics`).

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::startup::AppState;
use crate::telemetry;

/// The process is up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready to serve: database reachable and models loaded.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.store.ping().await;
    let models = state.models.names().count();
    let ready = database.is_ok() && models > 0;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "database": match &database { Ok(()) => "ok".to_string(), Err(e) => e.to_string() },
            "models": models,
        }
    });
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

#[get("/metrics")]
pub async fn metrics() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(telemetry::render_metrics())
}
