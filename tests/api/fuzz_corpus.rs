//! Replays the committed fuzz corpora (tests/fuzz/corpus/<target>/) through the same
//! harnesses the fuzzers run, on stable Rust: every input that once found new coverage (and
//! every past crash, once fixed) stays a regression test.

use crate::helpers::repo_root;

fn replay(target: &str, harness: fn(&[u8])) {
    let dir = repo_root().join("tests/fuzz/corpus").join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        harness(&std::fs::read(&path).expect("corpus file"));
        inputs += 1;
    }
    assert!(inputs > 0, "empty corpus {}", dir.display());
}

#[test]
fn mrz_corpus() {
    replay("mrz", thirdfactor::fuzzing::fuzz_mrz);
}

#[test]
fn session_request_corpus() {
    replay("session_request", thirdfactor::fuzzing::fuzz_session_request);
}

#[test]
fn image_intake_corpus() {
    replay("image_intake", thirdfactor::fuzzing::fuzz_image_intake);
}

#[test]
fn multipart_intake_corpus() {
    replay("multipart_intake", thirdfactor::fuzzing::fuzz_multipart_intake);
}
