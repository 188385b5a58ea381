//! Integration tests: the real server on a free port, real models, a real SQLite file and a
//! real PostgreSQL (started by scripts/test; its URL in THIRDFACTOR_TEST_PG_URL).

mod helpers;
mod receiver;

mod admission;
mod audit;
mod branding;
mod capture_link;
mod capture_steps;
mod cli;
mod enrollments;
mod faults;
mod fuzz_corpus;
mod health;
mod hostile;
mod migrations;
mod multi_instance;
mod rate_limits;
mod retention;
mod server_process;
mod sessions;
mod startup;
mod webhooks;
