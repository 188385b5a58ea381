//! 68 facial landmarks (iBUG-300W order) with `fr_landmark`, and the points derived from them.

use image::RgbImage;
use serde::Serialize;

use super::crop::{PixelRect, gray_planar, resize_region};
use super::detect::Detection;
use super::geometry::{Point, mean_point};
use super::runtime::infer;
use crate::models::{ModelError, ModelSet};

pub const MODEL: &str = "fr_landmark";
pub const INPUT_SIZE: u32 = 64;

/// The 68 points in image pixels, iBUG-300W order (0-based: 36–41 the eye on the image left,
/// 42–47 the other eye, 30 the nose tip, 48–67 the mouth).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Landmarks68(pub Vec<Point>);

/// Eye centre, eye centre, nose tip, mouth corner, mouth corner — all as seen in the image,
/// left one first (the ArcFace template order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FivePoints(pub [Point; 5]);

impl FivePoints {
    pub fn left_eye(&self) -> Point {
        self.0[0]
    }
    pub fn right_eye(&self) -> Point {
        self.0[1]
    }
    pub fn nose(&self) -> Point {
        self.0[2]
    }
    pub fn mouth_center(&self) -> Point {
        self.0[3].midpoint(self.0[4])
    }
    /// Distance between the eye centres in pixels: the size measure of the quality gate.
    pub fn eye_distance(&self) -> f32 {
        self.left_eye().distance(self.right_eye())
    }
    pub fn scaled(&self, factor: f32) -> FivePoints {
        FivePoints(self.0.map(|p| p.scaled(factor)))
    }
}

impl Landmarks68 {
    fn mean_of(&self, indices: &[usize]) -> Point {
        let points: Vec<Point> = indices.iter().filter_map(|&i| self.0.get(i).copied()).collect();
        mean_point(&points)
    }

    /// Centre of the eye on the image left (the subject's right eye): mean of its eyelid points.
    pub fn left_eye_center(&self) -> Point {
        self.mean_of(&[37, 38, 40, 41])
    }

    pub fn right_eye_center(&self) -> Point {
        self.mean_of(&[43, 44, 46, 47])
    }

    /// Corner-to-corner width of the eye on the image left / right.
    pub fn eye_widths(&self) -> (f32, f32) {
        let p = &self.0;
        (p[36].distance(p[39]), p[42].distance(p[45]))
    }

    /// The five alignment points (the mapping the shipped pipeline uses).
    pub fn five_points(&self) -> FivePoints {
        FivePoints([
            self.left_eye_center(),
            self.right_eye_center(),
            self.0[30],
            self.mean_of(&[48, 60]),
            self.mean_of(&[54, 64]),
        ])
    }

    pub fn scaled(&self, factor: f32) -> Landmarks68 {
        Landmarks68(self.0.iter().map(|p| p.scaled(factor)).collect())
    }
}

/// The crop the landmark model sees: the detection's square (side = box height), moved inside
/// the image rather than clipped so the face is never squashed.
pub fn landmark_region(detection: &Detection, image_width: u32, image_height: u32) -> PixelRect {
    let square = detection.bbox.square_around_center(detection.bbox.height()).shifted_inside(image_width, image_height);
    PixelRect::from_box(&square, image_width, image_height)
}

/// Model input: the region resized to 64×64, grey (BT.601 weights), divided by 256.
pub fn landmark_input(image: &RgbImage, region: PixelRect) -> Vec<f32> {
    let patch = resize_region(image, region, INPUT_SIZE, INPUT_SIZE);
    gray_planar(&patch, 1.0 / 256.0)
}

/// Maps the model's 136 outputs (fractions of the region) to image pixels.
pub fn decode_landmarks(output: &[f32], region: PixelRect) -> Landmarks68 {
    let (x0, y0, w, h) = (region.x as f32, region.y as f32, region.width as f32, region.height as f32);
    Landmarks68(output.chunks_exact(2).take(68).map(|xy| Point::new(xy[0] * w + x0, xy[1] * h + y0)).collect())
}

/// Runs the landmark model on one detected face.
pub fn detect_landmarks(models: &ModelSet, image: &RgbImage, detection: &Detection) -> Result<Landmarks68, ModelError> {
    let region = landmark_region(detection, image.width(), image.height());
    let input = landmark_input(image, region);
    let shape = [1, 1, INPUT_SIZE as usize, INPUT_SIZE as usize];
    let output = infer(models, MODEL, "input", shape, input, &["output"])?.into_iter().next().unwrap_or_default();
    if output.len() < 136 {
        return Err(ModelError::Inference {
            name: MODEL.into(),
            message: format!("{} outputs, expected 136", output.len()),
        });
    }
    Ok(decode_landmarks(&output, region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_points_follow_the_eyelid_and_mouth_mapping() {
        let mut pts = vec![Point::default(); 68];
        for i in [37, 38, 40, 41] {
            pts[i] = Point::new(10.0 + i as f32 % 2.0, 20.0);
        }
        for i in [43, 44, 46, 47] {
            pts[i] = Point::new(50.0, 20.0);
        }
        pts[30] = Point::new(30.0, 40.0);
        pts[48] = Point::new(14.0, 60.0);
        pts[60] = Point::new(16.0, 60.0);
        pts[54] = Point::new(44.0, 60.0);
        pts[64] = Point::new(46.0, 62.0);
        let five = Landmarks68(pts).five_points();
        assert_eq!(
            five.0,
            [
                Point::new(10.5, 20.0),
                Point::new(50.0, 20.0),
                Point::new(30.0, 40.0),
                Point::new(15.0, 60.0),
                Point::new(45.0, 61.0)
            ]
        );
        assert!((five.eye_distance() - 39.5).abs() < 1e-5);
    }

    #[test]
    fn outputs_map_into_the_region() {
        let region = PixelRect { x: 100, y: 50, width: 200, height: 200 };
        let mut out = vec![0.5f32; 136];
        out[0] = 0.0;
        out[1] = 1.0;
        let lm = decode_landmarks(&out, region);
        assert_eq!(lm.0.len(), 68);
        assert_eq!(lm.0[0], Point::new(100.0, 250.0));
        assert_eq!(lm.0[67], Point::new(200.0, 150.0));
    }
}
