//! Fake-camera files for Chromium (`--use-file-for-fake-video-capture`): raw Y4M clips made
//! with ffmpeg from images the tests generate (a photographed ID card, fixture portraits,
//! head-turn frames). Chromium plays the file from its first frame when the page opens the
//! camera, and loops it.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{RgbImage, imageops};

use crate::cardgen::{self, CardFields};
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
    let img = img.to_rgb8();
    let (w, h) = img.dimensions();
    let crop_h = (w * 4 / 3).min(h);
    let crop_w = crop_h * 3 / 4;
    let top = imageops::crop_imm(&img, (w - crop_w) / 2, 0, crop_w, crop_h).to_image();
    imageops::resize(&top, 480, 640, imageops::FilterType::Lanczos3)
}

/// A still picture as a short clip (it loops, so the camera shows it for as long as needed).
pub fn still(image: &RgbImage, out: &Path) -> PathBuf {
    clip(std::slice::from_ref(image), 5, 1.0, out)
}

/// `frames` at `fps`, the first held for `hold_first_secs` (time for the page to show the
/// challenge before the head moves), the last held for a second.
pub fn clip(frames: &[RgbImage], fps: u32, hold_first_secs: f64, out: &Path) -> PathBuf {
    let dir = out.with_extension("frames");
    std::fs::create_dir_all(&dir).expect("frame dir");
    for (i, frame) in frames.iter().enumerate() {
        frame.save(dir.join(format!("{i:04}.png"))).expect("write frame");
    }
    let filter = format!(
        "tpad=start_mode=clone:start_duration={hold_first_secs}:stop_mode=clone:stop_duration=1,\
         fps={fps},format=yuv420p"
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
