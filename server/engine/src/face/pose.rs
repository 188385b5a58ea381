//! Head pose estimated from the 68 landmarks (no extra model): cheap, mirror-symmetric by
//! construction, good enough for a "look straight at the camera" gate. Angles in degrees.

use serde::Serialize;

use super::landmarks::Landmarks68;

/// Signs follow the research notes: yaw > 0 when the nose points to the image left;
/// roll > 0 when the eye on the image right is lower.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeadPose {
    pub yaw: f32,
    pub roll: f32,
    /// Nose-tip height between the eye line (0) and the mouth (1); about 0.5–0.6 when frontal,
    /// lower when the head tilts up, higher when it tilts down.
    pub pitch_ratio: f32,
}

/// Yaw from the nose's position between the two jaw ends (on a round head, the difference of
/// the two distances over their sum is about sin(yaw)); roll from the eye line.
pub fn estimate_pose(landmarks: &Landmarks68) -> HeadPose {
    let p = &landmarks.0;
    let nose = p[30];
    let (to_left_jaw, to_right_jaw) = (nose.distance(p[0]), nose.distance(p[16]));
    let asymmetry = (to_right_jaw - to_left_jaw) / (to_right_jaw + to_left_jaw).max(1e-6);
    let yaw = asymmetry.clamp(-1.0, 1.0).asin().to_degrees();
    let (left_eye, right_eye) = (landmarks.left_eye_center(), landmarks.right_eye_center());
    let roll = (right_eye.y - left_eye.y).atan2(right_eye.x - left_eye.x).to_degrees();
    let eye_mid = left_eye.midpoint(right_eye);
    let mouth = p[51].midpoint(p[57]);
    let span = eye_mid.distance(mouth).max(1e-6);
    let pitch_ratio = eye_mid.distance(nose) / span;
    HeadPose { yaw, roll, pitch_ratio }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::geometry::Point;

    fn frontal() -> Vec<Point> {
        let mut p = vec![Point::new(50.0, 50.0); 68];
        p[0] = Point::new(0.0, 40.0);
        p[16] = Point::new(100.0, 40.0);
        for i in [37, 38, 40, 41] {
            p[i] = Point::new(30.0, 40.0);
        }
        for i in [43, 44, 46, 47] {
            p[i] = Point::new(70.0, 40.0);
        }
        p[30] = Point::new(50.0, 60.0);
        p[51] = Point::new(50.0, 75.0);
        p[57] = Point::new(50.0, 85.0);
        p
    }

    #[test]
    fn a_symmetric_face_is_frontal() {
        let pose = estimate_pose(&Landmarks68(frontal()));
        assert!(pose.yaw.abs() < 1e-3 && pose.roll.abs() < 1e-3);
        assert!((pose.pitch_ratio - 0.5).abs() < 1e-3);
    }

    #[test]
    fn nose_towards_the_image_left_is_positive_yaw() {
        let mut p = frontal();
        p[30].x = 30.0;
        assert!(estimate_pose(&Landmarks68(p.clone())).yaw > 10.0);
        p[30].x = 70.0;
        assert!(estimate_pose(&Landmarks68(p)).yaw < -10.0);
    }
}
