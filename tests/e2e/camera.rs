//! Fake-camera files for Chromium (`--use-file-for-fake-video-capture`): raw Y4M clips made
//! with ffmpeg from images the tests generate (a photographed ID card, fixture portraits,
//! head-turn frames). Chromium plays the file from its first frame when the page opens the
//! camera, and loops it.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::RgbImage;
use thirdfactor_engine::face::FaceEngine;
use thirdfactor_engine::liveness::Action;

use crate::cardgen::{self, CardFields};
use crate::headturn;
use crate::helpers::repo_root;

/// A card lying on a desk, filling most of a 1280×960 (4:3) rear-camera picture with a
/// slight turn and perspective, as a steady hand would hold a phone over it.
pub fn card_photo(fields: &CardFields) -> RgbImage {
    let corners = cardgen::card_corners(640.0, 480.0, 1040.0, 1.5, 0.97);
    cardgen::photograph(&cardgen::render_card_with(fields), &corners, 1280, 960)
}

/// A fixture portrait as a 480×640 front-camera picture: the top 3:4 part of the photo (the
/// fixtures are head-and-shoulders shots with the head in the upper part).
pub fn selfie_frame(photo: &str) -> RgbImage {
    let path = repo_root().join("fixtures/fetched").join(photo);
    let img = image::open(&path).unwrap_or_else(|e| panic!("{}: {e} (scripts/setup fetches it)", path.display()));
    headturn::front_camera_frame(&img.to_rgb8(), 480)
}

/// A still picture as a short clip (it loops, so the camera shows it for as long as needed).
pub fn still(image: &RgbImage, out: &Path) -> PathBuf {
    clip(std::slice::from_ref(image), 5, 1.0, false, out)
}

/// `frames` at `fps`, the first held for `hold_first_secs` (time for the page to show the
/// challenge before the head moves), the last held for a second. `live`: played at 10 fps
/// with temporal sensor noise, as a camera delivers it. Without it the held frames are
/// byte-identical, and a busy machine lets the page grab one frame twice: the movement
/// check rightly refuses exact duplicates as a replay (`frames_invalid`).
pub fn clip(frames: &[RgbImage], fps: u32, hold_first_secs: f64, live: bool, out: &Path) -> PathBuf {
    let dir = out.with_extension("frames");
    std::fs::create_dir_all(&dir).expect("frame dir");
    for (i, frame) in frames.iter().enumerate() {
        frame.save(dir.join(format!("{i:04}.png"))).expect("write frame");
    }
    let filter = format!(
        "tpad=start_mode=clone:start_duration={hold_first_secs}:stop_mode=clone:stop_duration=1,\
         fps={fps},format=yuv420p{}",
        if live { ",fps=10,noise=alls=3:allf=t" } else { "" }
    );
    let status = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-framerate", &fps.to_string(), "-i"])
        .arg(dir.join("%04d.png"))
        .args(["-vf", &filter, "-f", "yuv4mpegpipe"])
        .arg(out)
        .status()
        .unwrap_or_else(|e| panic!("run ffmpeg (scripts/install-deps installs it): {e}"));
    assert!(status.success(), "ffmpeg failed making {}", out.display());
    std::fs::remove_dir_all(&dir).ok();
    out.to_path_buf()
}

/// The page's timing of a challenge (web/app.js `performChallenge`): "get ready" for
/// `PAGE_LEAD_MS`, then each action shown for `window · 0.8 / n` ms (at least 1.2 s).
pub const PAGE_LEAD_MS: i64 = 600;

pub fn page_ms_per_action(window_ms: i64, actions: usize) -> i64 {
    (window_ms * 8 / 10 / actions.max(1) as i64).max(1200)
}

/// A live head performing `actions` (a depth-warped mesh of the fixture photo, so the 3-D
/// test sees real parallax), timed to the page's prompts: neutral while the page asks for
/// the challenge and says "get ready", then each movement about half a second after its
/// prompt appears, peaking, and back to neutral before the next prompt.
pub fn head_turn_clip(photo: &RgbImage, face: &FaceEngine, actions: &[Action], window_ms: i64, out: &Path) -> PathBuf {
    let landmarks = headturn::landmarks_of(face, photo).expect("a face in the fixture photo");
    let per_action = page_ms_per_action(window_ms, actions.len());
    let mut script = headturn::Script::new(actions);
    script.fps = 5.0;
    script.move_ms = per_action / 5;
    script.peak_ms = per_action * 3 / 10;
    script.hold_ms = per_action - 2 * script.move_ms - script.peak_ms;
    let frames = headturn::head_turn(photo, &landmarks, &script).expect("turns and look-ups can be rendered");
    let images: Vec<RgbImage> = frames.into_iter().map(|f| f.image).collect();
    // The script starts with `hold_ms` of neutral already; a little more covers the
    // challenge request so the first movement follows the first prompt.
    let lead_secs = (PAGE_LEAD_MS as f64 + 300.0 - script.hold_ms as f64).max(0.2) / 1000.0;
    clip(&images, 5, lead_secs, true, out)
}
