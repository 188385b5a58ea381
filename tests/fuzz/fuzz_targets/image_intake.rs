//! Image intake: format sniffing, bounded decode, EXIF orientation, DCT-scaled decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use thirdfactor::fuzzing::fuzz_image_intake;

fuzz_target!(|data: &[u8]| fuzz_image_intake(data));
