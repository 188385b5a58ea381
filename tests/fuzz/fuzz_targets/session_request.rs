//! `POST /api/v1/sessions` bodies: JSON, then every field parser (flags, URLs, names).
#![no_main]

use libfuzzer_sys::fuzz_target;
use thirdfactor::fuzzing::fuzz_session_request;

fuzz_target!(|data: &[u8]| fuzz_session_request(data));
