//! Multipart uploads (single image and liveness burst) as the capture endpoints read them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use thirdfactor::fuzzing::fuzz_multipart_intake;

fuzz_target!(|data: &[u8]| fuzz_multipart_intake(data));
