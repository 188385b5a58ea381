//! The 3-D test. Every view of a flat picture (print, screen) is related to every other by a
//! homography, so the 68 landmarks of a tilted or moved photo still fit one; a turning head
//! shows parallax (nose and face contour move differently from the eyes), which no homography
//! explains. Residuals are in inter-ocular distances (IOD) so they do not depend on face size.

use nalgebra::{DMatrix, Matrix3, SymmetricEigen, Vector3};
use serde::Serialize;

use crate::face::geometry::Point;
use crate::face::landmarks::Landmarks68;

/// How a landmark track departs from planar motion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlanarityMeasures {
    /// Max over frames of the RMS residual (IOD) of the best homography from the reference
    /// frame's landmarks to that frame's.
    pub homography_residual: f32,
    /// The same with an affine model (bigger than the homography residual; for diagnosis).
    pub affine_residual: f32,
    /// Max change of the nose position along the eye line (affine-invariant; yaw-only cue).
    pub nose_ratio_change: f32,
    /// Max over frames of the RMS distance (IOD) of the nose points (27–35) from where a
    /// homography fitted to the near-planar points alone (brows, eyes, mouth) puts them: the nose
    /// stands out of that plane on a head, lies in it on a photo.
    pub nose_parallax: f32,
    /// Frame index (in the track) where the homography residual peaked.
    pub peak_frame: usize,
    /// The reference frame's inter-ocular distance in pixels: landmark noise is ~1 px whatever
    /// the face size, so the residuals of a small face are mostly noise.
    pub eye_distance_px: f32,
}

/// Measures the track against its first entry. `None` with fewer than two usable frames.
pub fn planarity(track: &[&Landmarks68]) -> Option<PlanarityMeasures> {
    let (reference, rest) = track.split_first()?;
    if rest.is_empty() {
        return None;
    }
    let iod = reference.left_eye_center().distance(reference.right_eye_center());
    if iod < 1.0 {
        return None;
    }
    let r0 = nose_ratio(reference);
    let mut out = PlanarityMeasures {
        homography_residual: 0.0,
        affine_residual: 0.0,
        nose_ratio_change: 0.0,
        nose_parallax: 0.0,
        peak_frame: 0,
        eye_distance_px: iod,
    };
    for (i, frame) in rest.iter().enumerate() {
        let h = homography_residual(&reference.0, &frame.0).unwrap_or(f32::INFINITY) / iod;
        if h > out.homography_residual {
            out.homography_residual = h;
            out.peak_frame = i + 1;
        }
        out.affine_residual = out.affine_residual.max(affine_residual(&reference.0, &frame.0) / iod);
        out.nose_ratio_change = out.nose_ratio_change.max((nose_ratio(frame) - r0).abs());
        let nose = nose_parallax(&reference.0, &frame.0).unwrap_or(f32::INFINITY) / iod;
        out.nose_parallax = out.nose_parallax.max(nose);
    }
    Some(out)
}

/// r = ⟨nose − eyeL, eyeR − eyeL⟩ / |eyeR − eyeL|²: where the nose tip sits between the eyes.
/// Invariant under affine maps, so tilting a photo barely changes it; a 25° yaw moves it by
/// 0.3–0.8 (research notes §3).
pub fn nose_ratio(landmarks: &Landmarks68) -> f32 {
    let (l, r) = (landmarks.left_eye_center(), landmarks.right_eye_center());
    let nose = landmarks.0.get(30).copied().unwrap_or(l);
    let (ex, ey) = (r.x - l.x, r.y - l.y);
    ((nose.x - l.x) * ex + (nose.y - l.y) * ey) / (ex * ex + ey * ey).max(1e-6)
}

/// Brows (17–26), eyes (36–47) and mouth (48–67): close to one plane on a face.
const FACE_PLANE: [std::ops::Range<usize>; 3] = [17..27, 36..48, 48..68];
/// Nose bridge and base (27–35): out of that plane by about one inter-ocular distance.
const NOSE: std::ops::Range<usize> = 27..36;

/// RMS distance (pixels) of the nose points of `dst` from the image of `src`'s nose points under
/// the homography fitted to the face-plane points only.
pub fn nose_parallax(src: &[Point], dst: &[Point]) -> Option<f32> {
    if src.len() < 68 || dst.len() < 68 {
        return None;
    }
    let plane = |p: &[Point]| FACE_PLANE.iter().flat_map(|r| p[r.clone()].iter().copied()).collect::<Vec<_>>();
    let h = fit_homography(&plane(src), &plane(dst))?;
    let sq: f64 = NOSE.map(|i| sq_dist(apply_h(&h, src[i]), dst[i])).sum();
    Some((sq / NOSE.len() as f64).sqrt() as f32)
}

/// RMS distance (pixels) between `dst` and the best homography image of `src` (normalised DLT).
pub fn homography_residual(src: &[Point], dst: &[Point]) -> Option<f32> {
    let h = fit_homography(src, dst)?;
    let sq: f64 = src.iter().zip(dst).map(|(s, d)| sq_dist(apply_h(&h, *s), *d)).sum();
    Some((sq / src.len().max(1) as f64).sqrt() as f32)
}

/// RMS distance (pixels) between `dst` and the best affine image of `src` (least squares).
pub fn affine_residual(src: &[Point], dst: &[Point]) -> f32 {
    let n = src.len().min(dst.len());
    let a = DMatrix::from_fn(n, 3, |r, c| [src[r].x as f64, src[r].y as f64, 1.0][c]);
    let bx = DMatrix::from_fn(n, 1, |r, _| dst[r].x as f64);
    let by = DMatrix::from_fn(n, 1, |r, _| dst[r].y as f64);
    let svd = a.clone().svd(true, true);
    let residual = |b: &DMatrix<f64>| match svd.solve(b, 1e-12) {
        Ok(x) => (&a * x - b).norm_squared(),
        Err(_) => f64::INFINITY,
    };
    ((residual(&bx) + residual(&by)) / n.max(1) as f64).sqrt() as f32
}

/// Direct linear transform with Hartley normalisation: the null vector of AᵀA.
pub fn fit_homography(src: &[Point], dst: &[Point]) -> Option<Matrix3<f64>> {
    let n = src.len().min(dst.len());
    if n < 4 {
        return None;
    }
    let (ts, td) = (normaliser(&src[..n])?, normaliser(&dst[..n])?);
    let mut ata = nalgebra::SMatrix::<f64, 9, 9>::zeros();
    for (s, d) in src.iter().zip(dst).take(n) {
        let p = ts * Vector3::new(s.x as f64, s.y as f64, 1.0);
        let q = td * Vector3::new(d.x as f64, d.y as f64, 1.0);
        let rows = [
            [0.0, 0.0, 0.0, -p.x, -p.y, -1.0, q.y * p.x, q.y * p.y, q.y],
            [p.x, p.y, 1.0, 0.0, 0.0, 0.0, -q.x * p.x, -q.x * p.y, -q.x],
        ];
        for row in rows {
            let r = nalgebra::SVector::<f64, 9>::from_row_slice(&row);
            ata += r * r.transpose();
        }
    }
    let eigen = SymmetricEigen::new(ata);
    let smallest = eigen.eigenvalues.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i)?;
    let v = eigen.eigenvectors.column(smallest);
    let hn = Matrix3::new(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    Some(td.try_inverse()? * hn * ts)
}

/// Similarity that moves the points' centroid to 0 and their mean distance to √2.
fn normaliser(points: &[Point]) -> Option<Matrix3<f64>> {
    let n = points.len() as f64;
    let (cx, cy) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p.x as f64, y + p.y as f64));
    let (cx, cy) = (cx / n, cy / n);
    let mean = points.iter().map(|p| (p.x as f64 - cx).hypot(p.y as f64 - cy)).sum::<f64>() / n;
    if mean < 1e-9 {
        return None;
    }
    let s = std::f64::consts::SQRT_2 / mean;
    Some(Matrix3::new(s, 0.0, -s * cx, 0.0, s, -s * cy, 0.0, 0.0, 1.0))
}

pub(crate) fn apply_h(h: &Matrix3<f64>, p: Point) -> (f64, f64) {
    let v = h * Vector3::new(p.x as f64, p.y as f64, 1.0);
    if v.z.abs() < 1e-12 { (f64::INFINITY, f64::INFINITY) } else { (v.x / v.z, v.y / v.z) }
}

fn sq_dist(a: (f64, f64), b: Point) -> f64 {
    (a.0 - b.x as f64).powi(2) + (a.1 - b.y as f64).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face-like spread of points: 68 points on a jittered grid.
    fn face_points() -> Vec<Point> {
        (0..68)
            .map(|i| Point::new(100.0 + (i % 9) as f32 * 12.0 + (i % 5) as f32, 80.0 + (i / 9) as f32 * 14.0))
            .collect()
    }

    fn warp(points: &[Point], h: &Matrix3<f64>) -> Vec<Point> {
        points.iter().map(|p| apply_h(h, *p)).map(|(x, y)| Point::new(x as f32, y as f32)).collect()
    }

    #[test]
    fn a_perspective_warp_of_a_plane_fits_exactly() {
        let pts = face_points();
        let h = Matrix3::new(0.9, 0.08, 12.0, -0.05, 1.02, -7.0, 0.0004, -0.0003, 1.0);
        let residual = homography_residual(&pts, &warp(&pts, &h)).unwrap();
        assert!(residual < 1e-3, "{residual}");
        assert!(affine_residual(&pts, &warp(&pts, &h)) > residual);
    }

    #[test]
    fn depth_parallax_does_not_fit_a_homography() {
        let pts = face_points();
        // Rotate a surface with depth about the vertical axis: x' = x cos + z sin.
        let moved: Vec<Point> = pts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let z = if i % 3 == 0 { 40.0 } else { -20.0 };
                let (c, s) = (25f32.to_radians().cos(), 25f32.to_radians().sin());
                Point::new(150.0 + (p.x - 150.0) * c + z * s, p.y)
            })
            .collect();
        assert!(homography_residual(&pts, &moved).unwrap() > 5.0);
    }

    #[test]
    fn too_few_points_give_no_fit() {
        let pts = face_points();
        assert!(fit_homography(&pts[..3], &pts[..3]).is_none());
    }
}
