//! Liveness (`/healthz`), readiness (`/readyz`) and Prometheus metrics (`/metrics`).

use std::sync::OnceLock;

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::startup::AppState;
use crate::store::now_ms;
use crate::telemetry;

/// The process is up.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// This process's row in `readiness_probe` (instances sharing a database write their own).
fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| uuid::Uuid::new_v4().to_string())
}

/// Ready to serve: the database accepts writes and the models are loaded.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.store.probe_write(instance_id(), now_ms()).await;
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
