//! Head pose for the challenge, two ways: a landmark fit (scaled-orthographic PnP of the 68
//! points against a generic 3-D face, the POS step of POSIT — the face is small against the
//! camera distance, so perspective adds little) and the `fr_pose` model (HopeNet-lite, RGB).
//! `docs/liveness-engine.md` compares them on the real clips; the engine uses the one chosen
//! in [`PoseSource`]. Angles in degrees, signs as the research notes: yaw > 0 when the nose
//! points to the image left, pitch > 0 chin up, roll > 0 when the eye on the image right is
//! lower.

use image::RgbImage;
use nalgebra::{DMatrix, Vector3};
use serde::{Deserialize, Serialize};

use crate::face::crop::face_crop;
use crate::face::geometry::FaceBox;
use crate::face::landmarks::Landmarks68;
use crate::face::runtime::infer;
use crate::models::{ModelError, ModelSet};

pub const POSE_MODEL: &str = "fr_pose";
pub const POSE_INPUT: u32 = 224;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoseSource {
    /// Landmark PnP: free (no extra model run), measured steadier on the real clips.
    Landmarks,
    /// `fr_pose`: one 224×224 model run per frame.
    Model,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

/// Generic 3-D positions (mm; x to the image right in a frontal view, y up, z towards the
/// camera, nose tip at the origin) of the landmarks that do not slide with the view. The jaw
/// contour is left out: it is a silhouette, not a fixed point on the face.
const MODEL_POINTS: [(usize, [f32; 3]); 15] = [
    (30, [0.0, 0.0, 0.0]),      // nose tip
    (27, [0.0, 33.0, -18.0]),   // nasion
    (33, [0.0, -9.0, -12.0]),   // under the nose
    (31, [-9.0, -6.0, -17.0]),  // nostril, image left
    (35, [9.0, -6.0, -17.0]),   // nostril, image right
    (36, [-45.0, 34.0, -27.0]), // outer eye corner, image left
    (39, [-13.0, 33.0, -22.0]), // inner eye corner
    (42, [13.0, 33.0, -22.0]),
    (45, [45.0, 34.0, -27.0]),
    (48, [-25.0, -28.0, -22.0]), // mouth corners
    (54, [25.0, -28.0, -22.0]),
    (51, [0.0, -20.0, -10.0]),  // upper lip
    (57, [0.0, -36.0, -13.0]),  // lower lip
    (8, [0.0, -66.0, -17.0]),   // chin
    (19, [-20.0, 52.0, -14.0]), // brow centre, image left
];

/// Scaled-orthographic pose fit: u − ū = s·r₁·(P − P̄), v − v̄ = s·r₂·(P − P̄), solved by least
/// squares, then r₁, r₂ made orthonormal and r₃ = r₁ × r₂.
pub fn landmark_pose(landmarks: &Landmarks68) -> Option<Pose> {
    let pairs: Vec<([f32; 3], (f32, f32))> =
        MODEL_POINTS.iter().filter_map(|(i, p)| landmarks.0.get(*i).map(|q| (*p, (q.x, -q.y)))).collect();
    if pairs.len() < 6 {
        return None;
    }
    let n = pairs.len();
    let mean3 =
        pairs.iter().fold([0.0f64; 3], |m, (p, _)| [m[0] + p[0] as f64, m[1] + p[1] as f64, m[2] + p[2] as f64]);
    let mean3 = mean3.map(|v| v / n as f64);
    let (mu, mv) = pairs.iter().fold((0.0, 0.0), |(a, b), (_, (u, v))| (a + *u as f64, b + *v as f64));
    let (mu, mv) = (mu / n as f64, mv / n as f64);
    let a = DMatrix::from_fn(n, 3, |r, c| pairs[r].0[c] as f64 - mean3[c]);
    let bu = DMatrix::from_fn(n, 1, |r, _| pairs[r].1.0 as f64 - mu);
    let bv = DMatrix::from_fn(n, 1, |r, _| pairs[r].1.1 as f64 - mv);
    let svd = a.svd(true, true);
    let i = svd.solve(&bu, 1e-9).ok()?;
    let j = svd.solve(&bv, 1e-9).ok()?;
    let (i, j) = (Vector3::new(i[0], i[1], i[2]), Vector3::new(j[0], j[1], j[2]));
    let r1 = i.try_normalize(1e-12)?;
    let r2 = (j - r1 * r1.dot(&j)).try_normalize(1e-12)?;
    let r3 = r1.cross(&r2);
    Some(Pose {
        yaw: (-r1.z).clamp(-1.0, 1.0).asin().to_degrees() as f32,
        pitch: r2.z.atan2(r3.z).to_degrees() as f32,
        roll: r1.y.atan2(r1.x).to_degrees() as f32,
    })
}

/// `fr_pose` input: the square face box grown by a quarter on every side (1.5×), 224×224,
/// RGB /255 with the ImageNet mean and deviation.
pub fn pose_model_input(image: &RgbImage, square: &FaceBox) -> Vec<f32> {
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    let crop = face_crop(image, square, 1.5, POSE_INPUT);
    let plane = (POSE_INPUT * POSE_INPUT) as usize;
    let mut data = vec![0f32; plane * 3];
    for (k, p) in crop.pixels().enumerate() {
        for c in 0..3 {
            data[c * plane + k] = (p.0[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    data
}

/// Runs `fr_pose`: three 66-bin heads, angle = Σ softmax·bin·3 − 99.
pub fn model_pose(models: &ModelSet, image: &RgbImage, square: &FaceBox) -> Result<Pose, ModelError> {
    let shape = [1, 3, POSE_INPUT as usize, POSE_INPUT as usize];
    let outputs =
        infer(models, POSE_MODEL, "input", shape, pose_model_input(image, square), &["output", "617", "618"])?;
    let angle = |k: usize| outputs.get(k).map(|logits| binned_angle(logits)).unwrap_or(f32::NAN);
    Ok(Pose { yaw: angle(0), pitch: angle(1), roll: angle(2) })
}

/// Expected bin of the softmax, in degrees.
pub fn binned_angle(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f32 = weights.iter().sum();
    let expected: f32 = weights.iter().enumerate().map(|(i, w)| w * i as f32).sum::<f32>() / total.max(1e-12);
    expected * 3.0 - 99.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::geometry::Point;

    /// Projects the generic model rotated by `yaw` (about y) and `pitch` (about x) into an
    /// image (y down), filling the unused landmarks with the nose tip.
    fn projected(yaw_deg: f32, pitch_deg: f32) -> Landmarks68 {
        let (cy, sy) = (yaw_deg.to_radians().cos(), yaw_deg.to_radians().sin());
        let (cp, sp) = (pitch_deg.to_radians().cos(), pitch_deg.to_radians().sin());
        let mut pts = vec![Point::new(200.0, 200.0); 68];
        for (i, [x, y, z]) in MODEL_POINTS {
            // Yaw > 0 moves the nose (z > 0) to the image left: x' = x cos − z sin.
            let (x1, z1) = (x * cy - z * sy, x * sy + z * cy);
            let y1 = y * cp + z1 * sp;
            pts[i] = Point::new(200.0 + 2.0 * x1, 200.0 - 2.0 * y1);
        }
        Landmarks68(pts)
    }

    #[test]
    fn recovers_yaw_and_pitch_of_the_generic_face() {
        for (yaw, pitch) in [(0.0, 0.0), (25.0, 0.0), (-30.0, 5.0), (0.0, 15.0), (10.0, -12.0)] {
            let pose = landmark_pose(&projected(yaw, pitch)).unwrap();
            assert!((pose.yaw - yaw).abs() < 1.5 && (pose.pitch - pitch).abs() < 1.5, "{yaw} {pitch} → {pose:?}");
        }
    }

    #[test]
    fn nose_towards_the_image_left_is_positive_yaw() {
        let lm = projected(20.0, 0.0);
        let pose = landmark_pose(&lm).unwrap();
        assert!(pose.yaw > 15.0, "nose to the image left is positive yaw: {pose:?}");
    }

    #[test]
    fn binned_angle_of_a_peaked_softmax_is_its_bin() {
        let mut logits = vec![-50.0f32; 66];
        logits[33] = 50.0;
        assert!((binned_angle(&logits) - 0.0).abs() < 1e-3);
    }
}
