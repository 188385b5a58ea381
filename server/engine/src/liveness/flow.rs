//! The image half of the 3-D test. [`geometry`](super::geometry) trusts the landmark model,
//! which can be fooled both ways: a beard, head roll and motion blur make a real turn's
//! landmarks nearly planar, and a steep tilt of a flat photo makes its landmarks non-planar.
//! Here the picture itself is measured. Corner features of the reference face are tracked
//! (pyramidal Lucas–Kanade, forward–backward checked) into a turned frame after that frame has
//! been warped back onto the reference by the landmarks' homography. A flat picture then lines
//! up again up to a small homography, which a second fit removes; a head leaves parallax (nose
//! against cheeks, glasses against eyes, hair against face) that no homography explains.
//! Residuals are in reference-frame pixels: tracking noise is sub-pixel at any face size.

use image::{GenericImageView, GrayImage, RgbImage};
use rayon::prelude::*;
use serde::Serialize;

use nalgebra::Matrix3;

use super::geometry::{apply_h, fit_homography};
use crate::face::geometry::Point;
use crate::face::landmarks::Landmarks68;

/// How far the tracked texture departs from one plane, at the view where it departs most.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FlowParallax {
    /// Median distance (reference pixels) of the tracked features from the best homography.
    pub median_px: f32,
    /// Their RMS distance (diagnostic: a few mistracked features inflate it).
    pub rms_px: f32,
    /// Features that survived the forward–backward check in that view.
    pub features: usize,
    /// The view's frame index in the burst.
    pub frame: usize,
}

/// One frame as the test needs it.
#[derive(Debug, Clone, Copy)]
pub struct FlowView<'a> {
    pub index: usize,
    pub grey: &'a FaceGrey,
    pub landmarks: &'a Landmarks68,
}

/// The grey picture around a face: all the test samples of a frame. Converting only this
/// region, rather than the whole frame, keeps the per-frame cost off the analysis pass.
#[derive(Debug, Clone)]
pub struct FaceGrey {
    pub pixels: GrayImage,
    /// Where `pixels` starts in the frame.
    pub origin: (u32, u32),
}

impl FaceGrey {
    /// The landmarks' extent with half its size and 48 px on every side: room for the
    /// reference crop's margin and for a view's face moving or growing against the reference.
    pub fn around(image: &RgbImage, landmarks: &Landmarks68) -> Self {
        let (x1, y1, x2, y2) = extent(landmarks);
        let margin = 0.5 * (x2 - x1).max(y2 - y1) + 48.0;
        let clamp = |v: f32, max: u32| v.clamp(0.0, max as f32) as u32;
        let (left, top) = (clamp((x1 - margin).floor(), image.width()), clamp((y1 - margin).floor(), image.height()));
        let (right, bottom) = (clamp((x2 + margin).ceil(), image.width()), clamp((y2 + margin).ceil(), image.height()));
        let pixels = image::imageops::grayscale(&*image.view(left, top, right - left, bottom - top));
        Self { pixels, origin: (left, top) }
    }

    /// Frame pixels → `pixels` pixels.
    fn frame_to_pixels(&self) -> Matrix3<f64> {
        Matrix3::new(1.0, 0.0, -(self.origin.0 as f64), 0.0, 1.0, -(self.origin.1 as f64), 0.0, 0.0, 1.0)
    }
}

/// Tracking parameters; the defaults are what the measurements in the docs used.
#[derive(Debug, Clone, Copy)]
pub struct FlowParams {
    pub max_features: usize,
    /// Features the first pass tracks: it only has to find the plane to warp by.
    pub plane_features: usize,
    /// Lucas–Kanade window half-size (pixels) and pyramid levels.
    pub half_window: i32,
    pub levels: usize,
    /// Largest forward–backward disagreement of a kept track (pixels).
    pub max_round_trip_px: f32,
    /// Fewest tracks for a measurement.
    pub min_tracks: usize,
    /// Gauss–Newton steps per pyramid level.
    pub iterations: usize,
}

impl Default for FlowParams {
    fn default() -> Self {
        Self {
            max_features: 120,
            plane_features: 120,
            half_window: 5,
            levels: 2,
            max_round_trip_px: 1.0,
            min_tracks: 12,
            iterations: 30,
        }
    }
}

/// The largest departure from planarity over `views`; `None` when no view gave enough tracks.
/// Measuring stops once a view reaches `enough_px`: depth is proven by one view, flatness needs
/// them all. So the first view (the caller's best candidate) is measured alone — a live user
/// usually pays for that one — and the rest in batches of one per worker thread.
pub fn flow_parallax(
    reference: FlowView,
    views: &[FlowView],
    params: &FlowParams,
    enough_px: f32,
) -> Option<FlowParallax> {
    if views.is_empty() {
        return None;
    }
    let crop = ReferenceCrop::new(reference, params)?;
    let batch = rayon::current_num_threads().max(1);
    let (first, rest) = views.split_at(1);
    let mut deepest: Option<FlowParallax> = None;
    for chunk in std::iter::once(first).chain(rest.chunks(batch)) {
        let found = chunk.par_iter().filter_map(|v| crop.measure(reference.landmarks, v, params));
        let best = found.max_by(|a, b| a.median_px.total_cmp(&b.median_px));
        deepest = [deepest, best].into_iter().flatten().max_by(|a, b| a.median_px.total_cmp(&b.median_px));
        if deepest.is_some_and(|d| d.median_px >= enough_px) {
            break;
        }
    }
    deepest
}

/// The reference face with a margin, as a float plane, and its corner features.
struct ReferenceCrop {
    plane: Plane,
    pyramid: Vec<Plane>,
    origin: (f32, f32),
    features: Vec<(f32, f32)>,
}

impl ReferenceCrop {
    fn new(reference: FlowView, params: &FlowParams) -> Option<Self> {
        let face = extent(reference.landmarks);
        // Room for the tracking windows of features at the face's edge, at every level.
        let margin = ((params.half_window + 2) * (1 << params.levels.max(1)) + 8) as f32;
        let grey = reference.grey;
        let (left, top) = (grey.origin.0 as f32, grey.origin.1 as f32);
        let (right, bottom) = (left + grey.pixels.width() as f32, top + grey.pixels.height() as f32);
        let x0 = (face.0 - margin).clamp(left, right).floor();
        let y0 = (face.1 - margin).clamp(top, bottom).floor();
        let x1 = (face.2 + margin).clamp(left, right).ceil();
        let y1 = (face.3 + margin).clamp(top, bottom).ceil();
        if x1 - x0 < 16.0 || y1 - y0 < 16.0 {
            return None;
        }
        let at = ((x0 - left) as u32, (y0 - top) as u32);
        let plane = Plane::from_grey(&grey.pixels, at, ((x1 - x0) as usize, (y1 - y0) as usize));
        let iod = reference.landmarks.left_eye_center().distance(reference.landmarks.right_eye_center());
        let inside = (face.0 - x0, face.1 - y0, face.2 - x0, face.3 - y0);
        let features = corner_features(&plane, inside, (iod / 10.0).max(3.0), params);
        Some(Self { pyramid: pyramid(&plane, params.levels), plane, origin: (x0, y0), features })
    }

    /// Warps `view` onto the reference by the landmarks' homography, tracks the features into
    /// it, warps again by the homography those tracks fit (so a plane now lines up to a
    /// fraction of a pixel, however steeply it is tilted), tracks again and measures what a
    /// last homography fit leaves.
    fn measure(&self, reference: &Landmarks68, view: &FlowView, params: &FlowParams) -> Option<FlowParallax> {
        let landmark_h = fit_homography(&reference.0, &view.landmarks.0)?;
        let to_image = Matrix3::new(1.0, 0.0, self.origin.0 as f64, 0.0, 1.0, self.origin.1 as f64, 0.0, 0.0, 1.0);
        let first = landmark_h * to_image;
        let (src, dst) = self.track_into(view.grey, &first, params.plane_features, params)?;
        let second = first * trimmed_homography(&src, &dst)?;
        let (src, dst) = self.track_into(view.grey, &second, params.max_features, params)?;
        let fit = fit_homography(&src, &dst)?;
        let mut residuals: Vec<f32> = src
            .iter()
            .zip(&dst)
            .map(|(s, d)| {
                let (x, y) = apply_h(&fit, *s);
                (x as f32 - d.x).hypot(y as f32 - d.y)
            })
            .collect();
        residuals.sort_by(f32::total_cmp);
        let rms = (residuals.iter().map(|r| r * r).sum::<f32>() / residuals.len() as f32).sqrt();
        Some(FlowParallax {
            median_px: residuals[residuals.len() / 2],
            rms_px: rms,
            features: residuals.len(),
            frame: view.index,
        })
    }

    /// The `count` strongest features tracked (forward–backward checked) into `grey` seen
    /// through `map` (crop pixels → frame pixels); `None` with too few tracks.
    fn track_into(
        &self,
        grey: &FaceGrey,
        map: &Matrix3<f64>,
        count: usize,
        params: &FlowParams,
    ) -> Option<(Vec<Point>, Vec<Point>)> {
        let to_pixels = grey.frame_to_pixels() * map;
        let warped = pyramid(&warp_onto(&grey.pixels, &to_pixels, (self.plane.w, self.plane.h)), params.levels);
        let a = &self.pyramid;
        let (src, dst): (Vec<Point>, Vec<Point>) = self
            .features
            .iter()
            .take(count)
            .filter_map(|&p| {
                let q = track(a, &warped, p, params)?;
                let back = track(&warped, a, q, params)?;
                let round_trip = (back.0 - p.0).hypot(back.1 - p.1);
                (round_trip <= params.max_round_trip_px).then_some((pt(p), pt(q)))
            })
            .unzip();
        (src.len() >= params.min_tracks).then_some((src, dst))
    }
}

/// A homography fitted to the better-fitting 60 % of the pairs after a first fit to all, so a
/// few mistracked features do not bend the plane the second pass warps by.
fn trimmed_homography(src: &[Point], dst: &[Point]) -> Option<Matrix3<f64>> {
    let all = fit_homography(src, dst)?;
    let mut order: Vec<(f64, usize)> = src
        .iter()
        .zip(dst)
        .enumerate()
        .map(|(i, (s, d))| {
            let (x, y) = apply_h(&all, *s);
            ((x - d.x as f64).hypot(y - d.y as f64), i)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let keep = (order.len() * 3 / 5).max(8).min(order.len());
    let (s, d): (Vec<Point>, Vec<Point>) = order[..keep].iter().map(|&(_, i)| (src[i], dst[i])).unzip();
    fit_homography(&s, &d)
}

fn pt(p: (f32, f32)) -> Point {
    Point { x: p.0, y: p.1 }
}

/// (x1, y1, x2, y2) of the landmarks.
fn extent(landmarks: &Landmarks68) -> (f32, f32, f32, f32) {
    landmarks.0.iter().fold((f32::INFINITY, f32::INFINITY, f32::NEG_INFINITY, f32::NEG_INFINITY), |e, p| {
        (e.0.min(p.x), e.1.min(p.y), e.2.max(p.x), e.3.max(p.y))
    })
}

/// A grey image as floats; NaN marks pixels with no data (outside the warped frame).
#[derive(Debug, Clone)]
struct Plane {
    w: usize,
    h: usize,
    data: Vec<f32>,
}

impl Plane {
    fn from_fn(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> Self {
        let data = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| f(x, y)).collect();
        Self { w, h, data }
    }

    fn from_grey(grey: &GrayImage, origin: (u32, u32), size: (usize, usize)) -> Self {
        Self::from_fn(size.0, size.1, |x, y| grey.get_pixel(origin.0 + x as u32, origin.1 + y as u32).0[0] as f32)
    }

    fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.w + x]
    }

    /// The (2r+1)² bilinear samples around `centre`, row by row, into `out`; false when the
    /// window leaves the plane. All samples share one fractional offset, so one set of weights.
    fn window(&self, centre: (f32, f32), r: usize, out: &mut Vec<f32>) -> bool {
        let (fx0, fy0) = (centre.0.floor(), centre.1.floor());
        let (x0, y0) = (fx0 as i64 - r as i64, fy0 as i64 - r as i64);
        let side = 2 * r + 1;
        if !(x0 >= 0 && y0 >= 0 && x0 + (side as i64) < self.w as i64 && y0 + (side as i64) < self.h as i64) {
            return false;
        }
        let (fx, fy) = (centre.0 - fx0, centre.1 - fy0);
        let weights = [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy];
        out.clear();
        for j in 0..side {
            let row = (y0 as usize + j) * self.w + x0 as usize;
            let (top, bottom) = (&self.data[row..row + side + 1], &self.data[row + self.w..row + self.w + side + 1]);
            for i in 0..side {
                out.push(
                    weights[0] * top[i] + weights[1] * top[i + 1] + weights[2] * bottom[i] + weights[3] * bottom[i + 1],
                );
            }
        }
        true
    }

    /// Half resolution, 2×2 mean.
    fn half(&self) -> Self {
        let (w, h) = ((self.w / 2).max(1), (self.h / 2).max(1));
        Self::from_fn(w, h, |x, y| {
            let (sx, sy) = ((2 * x).min(self.w - 1), (2 * y).min(self.h - 1));
            let (tx, ty) = ((sx + 1).min(self.w - 1), (sy + 1).min(self.h - 1));
            (self.at(sx, sy) + self.at(tx, sy) + self.at(sx, ty) + self.at(tx, ty)) * 0.25
        })
    }
}

/// `size` pixels of `grey` seen through `h`: pixel (x, y) of the result is `grey` at h·(x, y),
/// bilinear; NaN outside `grey`.
fn warp_onto(grey: &GrayImage, h: &Matrix3<f64>, size: (usize, usize)) -> Plane {
    let (gw, gh) = (grey.width() as usize, grey.height() as usize);
    let raw = grey.as_raw();
    let mut data = Vec::with_capacity(size.0 * size.1);
    for y in 0..size.1 {
        let ry = y as f64;
        for x in 0..size.0 {
            let rx = x as f64;
            let z = h[(2, 0)] * rx + h[(2, 1)] * ry + h[(2, 2)];
            let u = ((h[(0, 0)] * rx + h[(0, 1)] * ry + h[(0, 2)]) / z) as f32;
            let v = ((h[(1, 0)] * rx + h[(1, 1)] * ry + h[(1, 2)]) / z) as f32;
            data.push(bilinear(raw, gw, gh, u, v));
        }
    }
    Plane { w: size.0, h: size.1, data }
}

fn bilinear(raw: &[u8], w: usize, h: usize, x: f32, y: f32) -> f32 {
    if !(x >= 0.0 && y >= 0.0 && x < (w - 1) as f32 && y < (h - 1) as f32) {
        return f32::NAN;
    }
    let (x0, y0) = (x as usize, y as usize);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = y0 * w + x0;
    let p = |i: usize| raw[i] as f32;
    let top = p(at) * (1.0 - fx) + p(at + 1) * fx;
    let bottom = p(at + w) * (1.0 - fx) + p(at + w + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

fn pyramid(base: &Plane, levels: usize) -> Vec<Plane> {
    let mut out = vec![base.clone()];
    for _ in 1..levels.max(1) {
        let next = out[out.len() - 1].half();
        out.push(next);
    }
    out
}

/// Shi–Tomasi corners (smallest eigenvalue of the 3×3 structure tensor) inside `region`
/// (x1, y1, x2, y2 in plane pixels), strongest first, at least `min_distance` apart, above 1 %
/// of the strongest.
fn corner_features(
    plane: &Plane,
    region: (f32, f32, f32, f32),
    min_distance: f32,
    params: &FlowParams,
) -> Vec<(f32, f32)> {
    let border = params.half_window as usize * 2 + 2;
    // Gradient products once per pixel (zero on the plane's rim), then 3×3 sums.
    let products: Vec<(f32, f32, f32)> = (0..plane.h)
        .flat_map(|y| (0..plane.w).map(move |x| (x, y)))
        .map(|(x, y)| {
            if x == 0 || y == 0 || x + 1 >= plane.w || y + 1 >= plane.h {
                return (0.0, 0.0, 0.0);
            }
            let dx = (plane.at(x + 1, y) - plane.at(x - 1, y)) * 0.5;
            let dy = (plane.at(x, y + 1) - plane.at(x, y - 1)) * 0.5;
            (dx * dx, dx * dy, dy * dy)
        })
        .collect();
    let lo_x = (region.0.max(0.0) as usize).max(border);
    let lo_y = (region.1.max(0.0) as usize).max(border);
    let hi_x = (region.2 as usize).min(plane.w.saturating_sub(border + 1));
    let hi_y = (region.3 as usize).min(plane.h.saturating_sub(border + 1));
    let mut eigen = vec![0.0f32; plane.w * plane.h];
    for y in lo_y..hi_y {
        for x in lo_x..hi_x {
            let (mut a, mut b, mut c) = (0.0f32, 0.0f32, 0.0f32);
            for (u, v) in (y - 1..=y + 1).flat_map(|v| (x - 1..=x + 1).map(move |u| (u, v))) {
                let (xx, xy, yy) = products[v * plane.w + u];
                a += xx;
                b += xy;
                c += yy;
            }
            eigen[y * plane.w + x] = (a + c) * 0.5 - (((a - c) * 0.5).powi(2) + b * b).sqrt();
        }
    }
    // Local maxima only (3×3), so the sort below sees a few percent of the pixels.
    let mut scored = Vec::new();
    for y in lo_y..hi_y {
        for x in lo_x..hi_x {
            let e = eigen[y * plane.w + x];
            let peak = (y - 1..=y + 1).all(|v| (x - 1..=x + 1).all(|u| eigen[v * plane.w + u] <= e));
            if peak && e > 0.0 {
                scored.push((e, x as f32, y as f32));
            }
        }
    }
    let strongest = scored.iter().map(|s| s.0).fold(0.0f32, f32::max);
    scored.retain(|s| s.0 > 0.01 * strongest && s.0 > 0.0);
    scored.sort_by(|p, q| q.0.total_cmp(&p.0));
    let mut kept: Vec<(f32, f32)> = Vec::new();
    let min_sq = min_distance * min_distance;
    for (_, x, y) in scored {
        if kept.len() >= params.max_features {
            break;
        }
        if kept.iter().all(|k| (k.0 - x).powi(2) + (k.1 - y).powi(2) >= min_sq) {
            kept.push((x, y));
        }
    }
    kept
}

/// Pyramidal Lucas–Kanade (Bouguet): where the window around `p` in `a` moved to in `b`.
fn track(a: &[Plane], b: &[Plane], p: (f32, f32), params: &FlowParams) -> Option<(f32, f32)> {
    let mut guess = (0.0f32, 0.0f32);
    for level in (0..a.len()).rev() {
        let scale = (1usize << level) as f32;
        let (px, py) = (p.0 / scale, p.1 / scale);
        let d = track_level(&a[level], &b[level], (px, py), guess, params)?;
        guess = if level > 0 { (2.0 * d.0, 2.0 * d.1) } else { d };
    }
    Some((p.0 + guess.0, p.1 + guess.1))
}

/// One pyramid level: Gauss–Newton on the window's brightness difference, from `guess`.
fn track_level(a: &Plane, b: &Plane, p: (f32, f32), guess: (f32, f32), params: &FlowParams) -> Option<(f32, f32)> {
    let r = params.half_window.max(1) as usize;
    let side = 2 * r + 1;
    // The template with a 1-pixel rim, for central-difference gradients.
    let mut rimmed = Vec::with_capacity((side + 2) * (side + 2));
    if !a.window(p, r + 1, &mut rimmed) {
        return None;
    }
    let mut template = Vec::with_capacity(side * side);
    let (mut gxx, mut gxy, mut gyy) = (0.0f32, 0.0f32, 0.0f32);
    let stride = side + 2;
    for j in 1..=side {
        for i in 1..=side {
            let at = j * stride + i;
            let dx = (rimmed[at + 1] - rimmed[at - 1]) * 0.5;
            let dy = (rimmed[at + stride] - rimmed[at - stride]) * 0.5;
            gxx += dx * dx;
            gxy += dx * dy;
            gyy += dy * dy;
            template.push((rimmed[at], dx, dy));
        }
    }
    let det = gxx * gyy - gxy * gxy;
    let min_eigen = (gxx + gyy) * 0.5 - (((gxx - gyy) * 0.5).powi(2) + gxy * gxy).sqrt();
    // A window without texture in two directions cannot be tracked.
    if !det.is_finite() || det.abs() < 1e-6 || min_eigen / ((side * side) as f32) < 1e-2 {
        return None;
    }
    let mut d = guess;
    let mut moved = Vec::with_capacity(side * side);
    for _ in 0..params.iterations {
        if !b.window((p.0 + d.0, p.1 + d.1), r, &mut moved) {
            return None;
        }
        let (mut bx, mut by) = (0.0f32, 0.0f32);
        for (&(v, dx, dy), &m) in template.iter().zip(&moved) {
            let diff = v - m;
            bx += diff * dx;
            by += diff * dy;
        }
        let step = ((gyy * bx - gxy * by) / det, (gxx * by - gxy * bx) / det);
        // NaN (the window reached pixels with no data) ends the track.
        if !(step.0.is_finite() && step.1.is_finite()) {
            return None;
        }
        d = (d.0 + step.0, d.1 + step.1);
        if step.0.hypot(step.1) < 0.03 {
            break;
        }
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth random-looking texture (sum of sines) with corners everywhere.
    fn texture(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as f32, y as f32);
            let v = 128.0 + 50.0 * (x * 0.31).sin() * (y * 0.23).cos() + 40.0 * ((x + 2.0 * y) * 0.11).sin();
            image::Luma([v.clamp(0.0, 255.0) as u8])
        })
    }

    fn grid_landmarks(x0: f32, y0: f32, step: f32) -> Landmarks68 {
        Landmarks68((0..68).map(|i| Point { x: x0 + (i % 9) as f32 * step, y: y0 + (i / 9) as f32 * step }).collect())
    }

    #[test]
    fn lucas_kanade_recovers_a_shift() {
        let img = texture(120, 120);
        let shifted = GrayImage::from_fn(120, 120, |x, y| *img.get_pixel(x.saturating_sub(3), y.saturating_sub(2)));
        let (a, b) = (Plane::from_grey(&img, (0, 0), (120, 120)), Plane::from_grey(&shifted, (0, 0), (120, 120)));
        let (pa, pb) = (pyramid(&a, 2), pyramid(&b, 2));
        let q = track(&pa, &pb, (60.0, 60.0), &FlowParams::default()).expect("tracked");
        assert!((q.0 - 63.0).abs() < 0.2 && (q.1 - 62.0).abs() < 0.2, "{q:?}");
    }

    #[test]
    fn a_shifted_plane_has_no_parallax_and_a_moved_patch_has() {
        let img = texture(200, 200);
        let landmarks = grid_landmarks(50.0, 50.0, 12.0);
        let moved = grid_landmarks(54.0, 53.0, 12.0);
        // The whole picture moved by (4, 3): one plane.
        let plane_view = GrayImage::from_fn(200, 200, |x, y| *img.get_pixel(x.saturating_sub(4), y.saturating_sub(3)));
        // Only the centre moved (by 7, 0) against its surround: two depths.
        let parallax_view = GrayImage::from_fn(200, 200, |x, y| {
            let centre = (80..130).contains(&x) && (80..130).contains(&y);
            let dx = if centre { 11 } else { 4 };
            *img.get_pixel(x.saturating_sub(dx), y.saturating_sub(3))
        });
        let whole = |pixels: GrayImage| FaceGrey { pixels, origin: (0, 0) };
        let (img, plane_view, parallax_view) = (whole(img), whole(plane_view), whole(parallax_view));
        let reference = FlowView { index: 0, grey: &img, landmarks: &landmarks };
        let params = FlowParams::default();
        let flat = flow_parallax(
            reference,
            &[FlowView { index: 1, grey: &plane_view, landmarks: &moved }],
            &params,
            f32::INFINITY,
        )
        .expect("measured");
        let deep = flow_parallax(
            reference,
            &[FlowView { index: 1, grey: &parallax_view, landmarks: &moved }],
            &params,
            f32::INFINITY,
        )
        .expect("measured");
        assert!(flat.median_px < 0.3, "{flat:?}");
        assert!(deep.median_px > 1.5, "{deep:?}");
    }
}
