//! Crops, resizes and warps of small face regions. Sampling follows OpenCV's bilinear
//! conventions (pixel centres at +0.5, replicated edge for resizes, black outside for warps)
//! so the Rust pipeline sees the same pixels as the Python reference it is checked against.

use image::{Rgb, RgbImage};

use super::geometry::{Affine, FaceBox};

/// Integer pixel rectangle inside an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl PixelRect {
    /// The box rounded to whole pixels and clipped to the image; at least 1×1.
    pub fn from_box(b: &FaceBox, image_width: u32, image_height: u32) -> PixelRect {
        let clip = |v: f32, max: u32| (v.round().max(0.0) as u32).min(max);
        let x1 = clip(b.x1, image_width.saturating_sub(1));
        let y1 = clip(b.y1, image_height.saturating_sub(1));
        let x2 = clip(b.x2, image_width).max(x1 + 1);
        let y2 = clip(b.y2, image_height).max(y1 + 1);
        PixelRect { x: x1, y: y1, width: x2 - x1, height: y2 - y1 }
    }
}

/// Resizes `rect` of `image` to `out_w`×`out_h` by bilinear interpolation (no antialiasing,
/// like OpenCV's INTER_LINEAR): cheap for the tiny model inputs cut from a face.
pub fn resize_region(image: &RgbImage, rect: PixelRect, out_w: u32, out_h: u32) -> RgbImage {
    let xs = axis_taps(rect.x, rect.width, out_w);
    let ys = axis_taps(rect.y, rect.height, out_h);
    let mut out = RgbImage::new(out_w, out_h);
    for (oy, &(y0, y1, fy)) in ys.iter().enumerate() {
        for (ox, &(x0, x1, fx)) in xs.iter().enumerate() {
            let p00 = image.get_pixel(x0, y0).0;
            let p01 = image.get_pixel(x1, y0).0;
            let p10 = image.get_pixel(x0, y1).0;
            let p11 = image.get_pixel(x1, y1).0;
            let mut px = [0u8; 3];
            for c in 0..3 {
                let top = p00[c] as f32 * (1.0 - fx) + p01[c] as f32 * fx;
                let bottom = p10[c] as f32 * (1.0 - fx) + p11[c] as f32 * fx;
                px[c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
            out.put_pixel(ox as u32, oy as u32, Rgb(px));
        }
    }
    out
}

/// For each output index: the two source indices and the weight of the second.
fn axis_taps(start: u32, len: u32, out_len: u32) -> Vec<(u32, u32, f32)> {
    let scale = len as f32 / out_len as f32;
    (0..out_len)
        .map(|o| {
            let f = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (f.floor() as u32).min(len - 1);
            let i1 = (i0 + 1).min(len - 1);
            let w = if i1 == i0 { 0.0 } else { f - i0 as f32 };
            (start + i0, start + i1, w)
        })
        .collect()
}

/// Warps `image` into an `out_w`×`out_h` image: output pixel (x, y) takes the bilinear sample
/// at `to_source(x, y)`; samples outside the image are black.
pub fn warp(image: &RgbImage, to_source: &Affine, out_w: u32, out_h: u32) -> RgbImage {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let raw = image.as_raw();
    let fetch = |x: i64, y: i64| -> [f32; 3] {
        if x < 0 || y < 0 || x >= w || y >= h {
            return [0.0; 3];
        }
        let i = ((y * w + x) * 3) as usize;
        [raw[i] as f32, raw[i + 1] as f32, raw[i + 2] as f32]
    };
    let mut out = RgbImage::new(out_w, out_h);
    let [[a, b, c], [d, e, f]] = to_source.m;
    for oy in 0..out_h {
        for ox in 0..out_w {
            let (sx, sy) = (a * ox as f32 + b * oy as f32 + c, d * ox as f32 + e * oy as f32 + f);
            let (x0, y0) = (sx.floor() as i64, sy.floor() as i64);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let (p00, p01, p10, p11) = (fetch(x0, y0), fetch(x0 + 1, y0), fetch(x0, y0 + 1), fetch(x0 + 1, y0 + 1));
            let mut px = [0u8; 3];
            for ch in 0..3 {
                let top = p00[ch] * (1.0 - fx) + p01[ch] * fx;
                let bottom = p10[ch] * (1.0 - fx) + p11[ch] * fx;
                px[ch] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
            out.put_pixel(ox, oy, Rgb(px));
        }
    }
    out
}

/// Luma with the ITU-R BT.601 weights (R 0.299, G 0.587, B 0.114), as OpenCV's RGB→GRAY.
pub fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * p.0[0] as f32 + 0.587 * p.0[1] as f32 + 0.114 * p.0[2] as f32
}

/// Planar grey values of an image, each multiplied by `factor`.
pub fn gray_planar(image: &RgbImage, factor: f32) -> Vec<f32> {
    image.pixels().map(|p| luma(p).round() * factor).collect()
}

/// A square crop around the face, `scale` times the box's longer side, shifted inside the
/// image when possible and resized to `size`×`size`: the input shape liveness and pose models
/// expect.
pub fn face_crop(image: &RgbImage, face: &FaceBox, scale: f32, size: u32) -> RgbImage {
    let side = face.width().max(face.height()) * scale;
    let square = face.square_around_center(side).shifted_inside(image.width(), image.height());
    let rect = PixelRect::from_box(&square, image.width(), image.height());
    resize_region(image, rect, size, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_a_flat_region_keeps_its_colour() {
        let img = RgbImage::from_pixel(50, 40, Rgb([10, 200, 30]));
        let out = resize_region(&img, PixelRect { x: 5, y: 5, width: 30, height: 20 }, 8, 8);
        assert!(out.pixels().all(|p| p.0 == [10, 200, 30]));
    }

    #[test]
    fn identity_warp_copies_and_blackens_outside() {
        let img = RgbImage::from_fn(10, 10, |x, y| Rgb([x as u8 * 20, y as u8 * 20, 7]));
        let shift = Affine { m: [[1.0, 0.0, 5.0], [0.0, 1.0, 0.0]] };
        let out = warp(&img, &shift, 10, 10);
        assert_eq!(out.get_pixel(0, 3), img.get_pixel(5, 3));
        assert_eq!(out.get_pixel(9, 3).0, [0, 0, 0]);
    }

    #[test]
    fn luma_uses_bt601_weights() {
        assert!((luma(&Rgb([255, 0, 0])) - 76.245).abs() < 1e-3);
        assert!((luma(&Rgb([0, 0, 255])) - 29.07).abs() < 1e-3);
    }
}
