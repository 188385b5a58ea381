//! Synthetic head-turn sequences from one frontal photo, for the liveness tests (engine, API,
//! browser). The face is given depth — an ellipsoid head with a nose ridge, placed from the
//! photo's 68 landmarks — and each frame rotates that surface (yaw about the vertical axis,
//! pitch about the horizontal one) and projects it back orthographically. The picture is
//! rendered as a fine triangle mesh, forward-mapped and drawn far-to-near, so the nose moves
//! more than the face outline: real parallax that no homography explains. Around the head the
//! motion fades out over a ring, and the background stays still.
//!
//! ```ignore
//! #[path = "../../server/engine/tests/support/headturn.rs"] // from tests/api; engine: support::headturn
//! mod headturn;
//! use thirdfactor_engine::liveness::Action;
//!
//! let photo = thirdfactor_engine::imaging::fit_within(&fixture("obama.jpg"), 480);
//! let landmarks = headturn::landmarks_of(&face_engine, &photo).expect("a face");
//! let script = headturn::Script::new(&[Action::TurnLeft, Action::TurnRight]); // 10 fps, 30° turns
//! let frames = headturn::head_turn(&photo, &landmarks, &script)?; // Vec<TimedFrame>
//! // frames[i].image: RgbImage, frames[i].timestamp_ms: script.start_ms + i·100,
//! // frames[i].yaw / .pitch: the rendered pose (engine convention, see below)
//! headturn::write_frames(&frames, dir, "png")?; // dir/000.png, 001.png, … ("jpg" also works)
//! ```
//!
//! Script (`Script::new` defaults): hold the neutral pose `hold_ms` (200), then per action move
//! to the peak in `move_ms` (300, eased), stay `peak_ms` (100), move back in `move_ms`, hold
//! neutral `hold_ms`. Two actions at 10 fps are 21 frames. On top: a small sway (±1.5° yaw, ±1°
//! pitch), a 1–2 px camera shake and ±2-level sensor noise, so no two frames are identical.
//! Turns peak at `turn_degrees` (30°; the engine's landmark pose reads 30–40°), look-up at
//! `look_up_degrees` (30°; the landmark pose reads about half of that as pitch, enough for the
//! 12° threshold). `flat: true` renders the same motion with zero depth: a rotated flat picture
//! (an affine map), the planar control the 3-D test must reject.
//!
//! Directions are the subject's own on unmirrored frames, like the engine: `TurnLeft` moves the
//! nose to the image right (engine yaw < 0); `LookUp` raises the chin (pitch > 0). `Blink` is not
//! supported (no eyelid synthesis): `head_turn` returns `Unsupported(Blink)`.
//!
//! To feed the frames to Chromium as a fake camera (`--use-fake-device-for-media-stream
//! --use-file-for-fake-video-capture=OUT.y4m`), write them with `write_frames(.., "png")`, then
//! (first frame held 1 s for the prompt, last frame held 1 s, 30 fps I420):
//!
//! ```sh
//! ffmpeg -y -framerate 10 -i DIR/%03d.png \
//!   -vf "tpad=start_mode=clone:start_duration=1:stop_mode=clone:stop_duration=1,fps=30,scale=640:480:flags=lanczos,format=yuv420p" \
//!   -f yuv4mpegpipe OUT.y4m
//! ```
//!
//! (`-framerate` must equal the script's fps; pad the photo to 4:3 first, or drop `scale=` and
//! use even dimensions, to avoid stretching.)

#![allow(dead_code)]

use std::path::Path;

use image::{Rgb, RgbImage};
use thirdfactor_engine::face::FaceEngine;
use thirdfactor_engine::face::landmarks::Landmarks68;
use thirdfactor_engine::liveness::Action;

/// What to render: the actions in order, their timing and amplitude.
#[derive(Debug, Clone)]
pub struct Script {
    pub actions: Vec<Action>,
    pub fps: f32,
    /// Timestamp of the first frame (ms).
    pub start_ms: i64,
    pub turn_degrees: f32,
    pub look_up_degrees: f32,
    pub move_ms: i64,
    pub peak_ms: i64,
    pub hold_ms: i64,
    /// Zero depth: the same motion of a flat picture (planar control).
    pub flat: bool,
}

impl Script {
    pub fn new(actions: &[Action]) -> Self {
        Self {
            actions: actions.to_vec(),
            fps: 10.0,
            start_ms: 0,
            turn_degrees: 30.0,
            look_up_degrees: 30.0,
            move_ms: 300,
            peak_ms: 100,
            hold_ms: 200,
            flat: false,
        }
    }

    /// Length of the whole script (ms).
    pub fn duration_ms(&self) -> i64 {
        self.hold_ms + self.actions.len() as i64 * (2 * self.move_ms + self.peak_ms + self.hold_ms)
    }

    /// Engine-convention pose (yaw > 0: nose to the image left; pitch > 0: chin up) at `t` ms
    /// from the start.
    pub fn pose_at(&self, t: i64) -> (f32, f32) {
        let cycle = 2 * self.move_ms + self.peak_ms + self.hold_ms;
        let t = t - self.hold_ms;
        if t < 0 || cycle <= 0 {
            return (0.0, 0.0);
        }
        let Some(&action) = self.actions.get((t / cycle) as usize) else { return (0.0, 0.0) };
        let u = t % cycle;
        let m = self.move_ms.max(1) as f32;
        let level = if u < self.move_ms {
            ease(u as f32 / m)
        } else if u < self.move_ms + self.peak_ms {
            1.0
        } else if u < 2 * self.move_ms + self.peak_ms {
            1.0 - ease((u - self.move_ms - self.peak_ms) as f32 / m)
        } else {
            0.0
        };
        match action {
            Action::TurnLeft => (-self.turn_degrees * level, 0.0),
            Action::TurnRight => (self.turn_degrees * level, 0.0),
            Action::LookUp => (0.0, self.look_up_degrees * level),
            Action::Blink => (0.0, 0.0),
        }
    }

    /// The scripted pose plus the small sway of a person holding still (±1.5° yaw, ±1° pitch).
    pub fn pose_with_sway(&self, t: i64) -> (f32, f32) {
        let (yaw, pitch) = self.pose_at(t);
        let s = t as f32 / 1000.0;
        let tau = std::f32::consts::TAU;
        (yaw + 1.5 * (tau * s / 1.3).sin(), pitch + (tau * s / 1.7 + 1.0).sin())
    }
}

/// Cosine ease-in-out on [0, 1].
fn ease(x: f32) -> f32 {
    (1.0 - (std::f32::consts::PI * x.clamp(0.0, 1.0)).cos()) / 2.0
}

#[derive(Debug, Clone)]
pub struct TimedFrame {
    pub image: RgbImage,
    pub timestamp_ms: i64,
    /// The rendered pose, degrees, engine convention.
    pub yaw: f32,
    pub pitch: f32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HeadTurnError {
    #[error("{0:?} cannot be synthesised from a photo")]
    Unsupported(Action),
    #[error("fps must be positive")]
    BadFps,
}

/// A fixture portrait as a `width`×(4/3 `width`) front-camera picture: the top 3:4 part of the
/// photo (the fixtures are head-and-shoulders shots with the head in the upper part), so the
/// face is as large in the frame as the capture page's oval makes it.
pub fn front_camera_frame(photo: &RgbImage, width: u32) -> RgbImage {
    let (w, h) = photo.dimensions();
    let crop_h = (w * 4 / 3).min(h);
    let crop_w = crop_h * 3 / 4;
    let top = image::imageops::crop_imm(photo, (w - crop_w) / 2, 0, crop_w, crop_h).to_image();
    image::imageops::resize(&top, width, width * 4 / 3, image::imageops::FilterType::Lanczos3)
}

/// The 68 landmarks of the main face of `photo` (the face engine's own detector and landmark
/// model), or None without a usable face.
pub fn landmarks_of(engine: &FaceEngine, photo: &RgbImage) -> Option<Landmarks68> {
    engine.analyze(photo).ok()?.face.map(|f| f.landmarks)
}

/// Renders `script` from `photo` and its `landmarks`: one frame every 1/fps s over the script.
pub fn head_turn(photo: &RgbImage, landmarks: &Landmarks68, script: &Script) -> Result<Vec<TimedFrame>, HeadTurnError> {
    if let Some(a) = script.actions.iter().find(|a| **a == Action::Blink) {
        return Err(HeadTurnError::Unsupported(*a));
    }
    if script.fps <= 0.0 || !script.fps.is_finite() {
        return Err(HeadTurnError::BadFps);
    }
    let head = HeadShape::from_landmarks(landmarks, script.flat);
    let step_ms = 1000.0 / script.fps;
    let count = (script.duration_ms() as f32 / step_ms).floor() as usize + 1;
    Ok((0..count)
        .map(|i| {
            let t = (i as f32 * step_ms).round() as i64;
            let (yaw, pitch) = script.pose_with_sway(t);
            let turned = render(photo, &head, yaw, pitch);
            // A hand-held phone: the camera shakes by a pixel or two, and the sensor is noisy.
            let s = t as f32 / 1000.0;
            let shake = (1.5 * (s * 7.0).sin(), 1.0 * (s * 5.0 + 0.5).cos());
            let image = sensor_noise(&shifted(&turned, shake), i as u32);
            TimedFrame { image, timestamp_ms: script.start_ms + t, yaw, pitch }
        })
        .collect())
}

/// Writes `dir/000.EXT`, `001.EXT`, … (`ext` "png" or "jpg"), creating `dir`.
pub fn write_frames(frames: &[TimedFrame], dir: &Path, ext: &str) -> image::ImageResult<()> {
    std::fs::create_dir_all(dir)?;
    for (i, f) in frames.iter().enumerate() {
        f.image.save(dir.join(format!("{i:03}.{ext}")))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Depth model and rendering.

/// An ellipsoid head (centre, half-width `a`, half-height `b`, depth `depth`) with a nose ridge
/// ending at the nose tip; depth in pixels, towards the camera.
struct HeadShape {
    cx: f32,
    cy: f32,
    a: f32,
    b: f32,
    depth: f32,
    nose: (f32, f32),
    nasion: (f32, f32),
    nose_height: f32,
    nose_width: f32,
}

impl HeadShape {
    fn from_landmarks(lm: &Landmarks68, flat: bool) -> Self {
        let p = |i: usize| lm.0.get(i).map(|q| (q.x, q.y)).unwrap_or_default();
        let (jaw_l, jaw_r, chin, brow_l, brow_r) = (p(0), p(16), p(8), p(19), p(24));
        let a = ((jaw_r.0 - jaw_l.0) / 2.0).abs().max(1.0) * 1.1;
        let brow_y = (brow_l.1 + brow_r.1) / 2.0;
        // The skull reaches about a brow-to-chin distance above the brows' half-way point.
        let b = (chin.1 - brow_y).abs().max(1.0) * 0.85;
        let cx = (jaw_l.0 + jaw_r.0) / 2.0;
        let cy = chin.1 - b;
        let depth_scale = if flat { 0.0 } else { 1.0 };
        Self {
            cx,
            cy,
            a,
            b,
            depth: 0.85 * a * depth_scale,
            nose: p(30),
            nasion: p(27),
            nose_height: 0.40 * a * depth_scale,
            nose_width: 0.13 * a,
        }
    }

    /// Normalised radius in the head ellipse.
    fn radius(&self, x: f32, y: f32) -> f32 {
        (((x - self.cx) / self.a).powi(2) + ((y - self.cy) / self.b).powi(2)).sqrt()
    }

    /// Height of the surface over the ellipse's centre plane at (x, y) (0 outside the head).
    fn z(&self, x: f32, y: f32) -> f32 {
        let r = self.radius(x, y);
        if r >= 1.0 {
            return 0.0;
        }
        self.depth * (1.0 - r * r).sqrt() + self.nose_ridge(x, y)
    }

    /// A ridge from the nasion (low) to the nose tip (high), Gaussian across.
    fn nose_ridge(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = (self.nose.0 - self.nasion.0, self.nose.1 - self.nasion.1);
        let len2 = (dx * dx + dy * dy).max(1.0);
        let s = (((x - self.nasion.0) * dx + (y - self.nasion.1) * dy) / len2).clamp(-0.2, 1.15);
        let (px, py) = (self.nasion.0 + s * dx, self.nasion.1 + s * dy);
        let across2 = (x - px).powi(2) + (y - py).powi(2);
        // Falls off below the tip (s > 1) and above the nasion (s < 0).
        let along = if s > 1.0 { 1.0 - (s - 1.0) / 0.15 } else { 0.35 + 0.65 * s.max(0.0) };
        let along = if s < 0.0 { along * (1.0 + s / 0.2) } else { along };
        self.nose_height * along.max(0.0) * (-across2 / (2.0 * self.nose_width.powi(2))).exp()
    }

    /// Where (x, y) goes and its depth after the rotation; the motion fades out between
    /// radius 1 and 1.6 so the background stays put.
    fn project(&self, x: f32, y: f32, yaw: f32, pitch: f32) -> (f32, f32, f32) {
        let r = self.radius(x, y);
        let fade = 1.0 - smoothstep(1.0, 1.6, r);
        if fade <= 0.0 {
            return (x, y, -1e6);
        }
        let (sy, cy) = yaw.to_radians().sin_cos();
        let (sp, cp) = pitch.to_radians().sin_cos();
        let (x0, y0, z0) = (x - self.cx, y - self.cy, self.z(x, y));
        // Yaw > 0 moves the nose (z > 0) to the image left; pitch > 0 moves it up (y down).
        let (x1, z1) = (x0 * cy - z0 * sy, x0 * sy + z0 * cy);
        let (y1, z2) = (y0 * cp - z1 * sp, y0 * sp + z1 * cp);
        let (nx, ny) = (self.cx + x1, self.cy + y1);
        let depth = if r < 1.0 { z2 } else { z2 - 1e3 * (r - 1.0) };
        (x + (nx - x) * fade, y + (ny - y) * fade, depth)
    }
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A source triangle, where it lands, and its mean depth after the rotation.
type MappedTriangle = ([(f32, f32); 3], [(f32, f32); 3], f32);

/// Mesh spacing in pixels: fine enough that the piecewise-affine rendering looks smooth.
const CELL: u32 = 4;

/// Forward-maps a CELL-spaced mesh of `photo` and draws its triangles far-to-near.
fn render(photo: &RgbImage, head: &HeadShape, yaw: f32, pitch: f32) -> RgbImage {
    let (w, h) = photo.dimensions();
    let (nx, ny) = (w.div_ceil(CELL) + 1, h.div_ceil(CELL) + 1);
    let vertex = |i: u32, j: u32| ((i * CELL).min(w - 1) as f32, (j * CELL).min(h - 1) as f32);
    let mapped: Vec<(f32, f32, f32)> = (0..ny)
        .flat_map(|j| (0..nx).map(move |i| (i, j)))
        .map(|(i, j)| {
            let (x, y) = vertex(i, j);
            head.project(x, y, yaw, pitch)
        })
        .collect();
    let mut triangles: Vec<MappedTriangle> = Vec::new();
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let ids = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let src = ids.map(|(a, b)| vertex(a, b));
            let dst = ids.map(|(a, b)| mapped[(b * nx + a) as usize]);
            if dst.iter().all(|d| d.2 <= -1e6) {
                continue; // background: the copied photo already shows it
            }
            for [p, q, r] in [[0, 1, 2], [0, 2, 3]] {
                let z = (dst[p].2 + dst[q].2 + dst[r].2) / 3.0;
                let d = [dst[p], dst[q], dst[r]].map(|v| (v.0, v.1));
                triangles.push(([src[p], src[q], src[r]], d, z));
            }
        }
    }
    triangles.sort_by(|a, b| a.2.total_cmp(&b.2));
    let mut out = photo.clone();
    for (src, dst, _) in &triangles {
        draw_triangle(photo, &mut out, src, dst);
    }
    out
}

/// Fills `dst` in `out` with the matching `src` triangle of `photo` (affine, bilinear).
fn draw_triangle(photo: &RgbImage, out: &mut RgbImage, src: &[(f32, f32); 3], dst: &[(f32, f32); 3]) {
    let [(x0, y0), (x1, y1), (x2, y2)] = *dst;
    let det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0);
    if det.abs() < 1e-6 {
        return;
    }
    let (w, h) = out.dimensions();
    let min_x = x0.min(x1).min(x2).floor().max(0.0) as u32;
    let max_x = (x0.max(x1).max(x2).ceil().max(0.0) as u32).min(w - 1);
    let min_y = y0.min(y1).min(y2).floor().max(0.0) as u32;
    let max_y = (y0.max(y1).max(y2).ceil().max(0.0) as u32).min(h - 1);
    for y in min_y..=max_y {
        for x in min_x..=max_x {
            let (px, py) = (x as f32, y as f32);
            let b1 = ((px - x0) * (y2 - y0) - (x2 - x0) * (py - y0)) / det;
            let b2 = ((x1 - x0) * (py - y0) - (px - x0) * (y1 - y0)) / det;
            let b0 = 1.0 - b1 - b2;
            const EPS: f32 = -1e-4;
            if b0 < EPS || b1 < EPS || b2 < EPS {
                continue;
            }
            let sx = b0 * src[0].0 + b1 * src[1].0 + b2 * src[2].0;
            let sy = b0 * src[0].1 + b1 * src[1].1 + b2 * src[2].1;
            out.put_pixel(x, y, bilinear(photo, sx, sy));
        }
    }
}

/// `image` moved by `(dx, dy)` pixels (edges repeated).
fn shifted(image: &RgbImage, (dx, dy): (f32, f32)) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| bilinear(image, x as f32 - dx, y as f32 - dy))
}

/// Adds deterministic ±2-level noise (a hash of the pixel position and `seed`).
fn sensor_noise(image: &RgbImage, seed: u32) -> RgbImage {
    let mut out = image.clone();
    for (x, y, p) in out.enumerate_pixels_mut() {
        let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77) ^ seed.wrapping_mul(0xC2B2_AE3D);
        h ^= h >> 15;
        h = h.wrapping_mul(0x2C1B_3C6D);
        h ^= h >> 12;
        for (k, v) in p.0.iter_mut().enumerate() {
            let n = ((h >> (8 * k)) % 5) as i16 - 2;
            *v = (*v as i16 + n).clamp(0, 255) as u8;
        }
    }
    out
}

fn bilinear(image: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = image.dimensions();
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let (a, b, c, d) =
        (image.get_pixel(x0, y0).0, image.get_pixel(x1, y0).0, image.get_pixel(x0, y1).0, image.get_pixel(x1, y1).0);
    Rgb(std::array::from_fn(|k| {
        let top = a[k] as f32 * (1.0 - fx) + b[k] as f32 * fx;
        let bottom = c[k] as f32 * (1.0 - fx) + d[k] as f32 * fx;
        (top * (1.0 - fy) + bottom * fy).round() as u8
    }))
}
