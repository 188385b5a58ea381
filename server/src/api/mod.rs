//! The integrator's HTTP API and operational endpoints. Handlers parse input into domain
//! types and call one module (`sessions`, …); errors map to HTTP in `error`.

pub mod auth;
pub mod enrollments;
pub mod error;
pub mod health;
pub mod sessions;

use actix_web::{HttpResponse, get, web};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "ThirdFactor API", description = "Self-hosted biometric verification: the third login factor."),
    paths(
        sessions::create_session,
        sessions::get_session,
        sessions::cancel_session,
        enrollments::get_enrollment,
        enrollments::delete_enrollment
    ),
    components(schemas(error::ErrorBody, crate::sessions::SessionResult)),
    modifiers(&BearerAuth),
    tags((name = "sessions", description = "Capture sessions"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

#[get("/api/openapi.json")]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(openapi_json)
        .service(sessions::create_session)
        .service(sessions::get_session)
        .service(sessions::cancel_session)
        .service(enrollments::get_enrollment)
        .service(enrollments::delete_enrollment)
        .service(utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi-ui.json", ApiDoc::openapi()));
}
