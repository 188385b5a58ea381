//! Points, boxes and 2-D affine maps in image pixel coordinates (x right, y down).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    pub fn distance(self, other: Point) -> f32 {
        (self.x - other.x).hypot(self.y - other.y)
    }

    pub fn midpoint(self, other: Point) -> Point {
        Point::new((self.x + other.x) / 2.0, (self.y + other.y) / 2.0)
    }

    pub fn scaled(self, factor: f32) -> Point {
        Point::new(self.x * factor, self.y * factor)
    }
}

/// Mean of a set of points (the centre of an eyelid contour, …).
pub fn mean_point(points: &[Point]) -> Point {
    let n = points.len().max(1) as f32;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(sx, sy), p| (sx + p.x, sy + p.y));
    Point::new(sx / n, sy / n)
}

/// Axis-aligned box, corners (x1, y1) top-left and (x2, y2) bottom-right.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct FaceBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl FaceBox {
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn center(&self) -> Point {
        Point::new((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }

    pub fn iou(&self, other: &FaceBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    pub fn scaled(&self, factor: f32) -> FaceBox {
        FaceBox { x1: self.x1 * factor, y1: self.y1 * factor, x2: self.x2 * factor, y2: self.y2 * factor }
    }

    /// A square of `side` centred on this box's centre.
    pub fn square_around_center(&self, side: f32) -> FaceBox {
        let c = self.center();
        FaceBox { x1: c.x - side / 2.0, y1: c.y - side / 2.0, x2: c.x + side / 2.0, y2: c.y + side / 2.0 }
    }

    /// Moves the box (without resizing, unless it is larger than the image) so it lies inside
    /// `width`×`height`: crops then keep their shape instead of being squashed at the edges.
    pub fn shifted_inside(&self, width: u32, height: u32) -> FaceBox {
        let (w, h) = (self.width().min(width as f32), self.height().min(height as f32));
        let x1 = self.x1.clamp(0.0, width as f32 - w);
        let y1 = self.y1.clamp(0.0, height as f32 - h);
        FaceBox { x1, y1, x2: x1 + w, y2: y1 + h }
    }

    /// Clips the box to the image.
    pub fn clipped(&self, width: u32, height: u32) -> FaceBox {
        FaceBox {
            x1: self.x1.clamp(0.0, width as f32),
            y1: self.y1.clamp(0.0, height as f32),
            x2: self.x2.clamp(0.0, width as f32),
            y2: self.y2.clamp(0.0, height as f32),
        }
    }
}

/// 2×3 affine map: (x, y) ↦ (a·x + b·y + c, d·x + e·y + f).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub m: [[f32; 3]; 2],
}

impl Affine {
    pub fn apply(&self, p: Point) -> Point {
        let m = &self.m;
        Point::new(m[0][0] * p.x + m[0][1] * p.y + m[0][2], m[1][0] * p.x + m[1][1] * p.y + m[1][2])
    }

    /// The inverse map, or `None` when the map is degenerate.
    pub fn inverse(&self) -> Option<Affine> {
        let [[a, b, c], [d, e, f]] = self.m;
        let det = a * e - b * d;
        if det.abs() < 1e-12 {
            return None;
        }
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Some(Affine { m: [[ia, ib, -(ia * c + ib * f)], [id, ie, -(id * c + ie * f)]] })
    }

    /// Uniform scale factor of a similarity map (√|det|).
    pub fn scale(&self) -> f32 {
        let [[a, b, _], [d, e, _]] = self.m;
        (a * e - b * d).abs().sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_overlapping_boxes() {
        let a = FaceBox { x1: 0.0, y1: 0.0, x2: 10.0, y2: 10.0 };
        let b = FaceBox { x1: 5.0, y1: 0.0, x2: 15.0, y2: 10.0 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&FaceBox { x1: 20.0, y1: 20.0, x2: 30.0, y2: 30.0 }), 0.0);
    }

    #[test]
    fn shifting_inside_keeps_the_size() {
        let b = FaceBox { x1: -5.0, y1: 90.0, x2: 15.0, y2: 110.0 }.shifted_inside(100, 100);
        assert_eq!(b, FaceBox { x1: 0.0, y1: 80.0, x2: 20.0, y2: 100.0 });
    }

    #[test]
    fn affine_inverse_round_trips() {
        let m = Affine { m: [[0.8, -0.3, 12.0], [0.3, 0.8, -4.0]] };
        let p = Point::new(17.0, 42.0);
        let back = m.inverse().unwrap().apply(m.apply(p));
        assert!(back.distance(p) < 1e-4);
    }
}
