//! MRZ parsing, check digits and the OCR repair path on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use thirdfactor::fuzzing::fuzz_mrz;

fuzz_target!(|data: &[u8]| fuzz_mrz(data));
