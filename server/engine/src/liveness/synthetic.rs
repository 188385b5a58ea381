//! Bursts the project makes itself from one photo, for tests and for turning the evaluation
//! set's attack stills into sequences: a flat picture tilted about its vertical axis (what a
//! hand does with a print or a phone in front of the camera). Exact perspective maps of a
//! plane, so the 3-D test must see no parallax in them.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp};

/// The homography that shows `width`×`height` picture rotated by `angle_deg` about its vertical
/// centre line, seen by a camera at distance `distance` (in picture widths) with a matching
/// focal length, plus a shift of (`dx`, `dy`) pixels.
pub fn tilt_projection(width: u32, height: u32, angle_deg: f32, distance: f32, dx: f32, dy: f32) -> Option<Projection> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let d = distance.max(0.5) * width as f32;
    let (c, s) = (angle_deg.to_radians().cos(), angle_deg.to_radians().sin());
    // About the centre: x' = c·x / (1 + s·x/d), y' = y / (1 + s·x/d).
    let tilt = Projection::from_matrix([c, 0.0, 0.0, 0.0, 1.0, 0.0, s / d, 0.0, 1.0])?;
    Some(Projection::translate(cx + dx, cy + dy) * tilt * Projection::translate(-cx, -cy))
}

/// `n` views of `photo` tilted from 0° to `max_angle_deg` and back, with a little hand shake.
pub fn tilted_burst(photo: &RgbImage, n: usize, max_angle_deg: f32) -> Vec<RgbImage> {
    (0..n)
        .filter_map(|i| {
            let phase = i as f32 / (n.max(2) - 1) as f32;
            let angle = max_angle_deg * (std::f32::consts::PI * phase).sin();
            let shake = (i as f32 * 1.7).sin() * 3.0;
            let p = tilt_projection(photo.width(), photo.height(), angle, 1.5, shake, -shake)?;
            Some(warp(photo, p, Interpolation::Bilinear, Border::Constant(Rgb([40, 40, 40]))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_tilt_is_the_identity() {
        let p = tilt_projection(100, 80, 0.0, 1.5, 0.0, 0.0).unwrap();
        let (x, y) = p * (12.0, 34.0);
        assert!((x - 12.0).abs() < 1e-3 && (y - 34.0).abs() < 1e-3);
    }

    #[test]
    fn tilting_narrows_the_picture() {
        let p = tilt_projection(100, 80, 30.0, 1.5, 0.0, 0.0).unwrap();
        let (left, _) = p * (0.0, 40.0);
        let (right, _) = p * (100.0, 40.0);
        assert!(right - left < 90.0 && right - left > 60.0, "{left} {right}");
    }
}
