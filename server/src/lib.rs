//! ThirdFactor: self-hosted biometric verification server.
//!
//! Layout: `api` (HTTP handlers, errors → HTTP), `capture` (the user's page), `sessions`
//! (the session state machine), `domain` (validated request types), `store` (SQL),
//! `config`, `tls`, `telemetry`, `startup` (wiring), `cli`. The ML engines live in the
//! `thirdfactor-engine` crate and know nothing of HTTP or SQL.

pub mod admission;
pub mod api;
pub mod audit;
pub mod branding;
pub mod capture;
pub mod cli;
mod cli_branding;
pub mod config;
pub mod domain;
pub mod eval;
#[doc(hidden)]
pub mod fuzzing;
pub mod ratelimit;
pub mod retention;
pub mod sessions;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod templates;
pub mod tls;
pub mod webhooks;
