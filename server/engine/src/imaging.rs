//! Image intake shared by every engine: only JPEG, PNG and WebP; size and pixel limits
//! checked from the header before any pixel is decoded (decompression bombs); EXIF
//! orientation applied; metadata dropped (the decoded pixels carry none); fast resizing.

use std::io::Cursor;

use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

/// Bounds on what an upload may be.
#[derive(Debug, Clone, Copy)]
pub struct IntakeLimits {
    pub max_bytes: usize,
    pub max_side: u32,
    pub max_pixels: u64,
}

impl Default for IntakeLimits {
    /// Enough for a 48-MP phone photo; far below what would exhaust memory.
    fn default() -> Self {
        Self { max_bytes: 20 * 1024 * 1024, max_side: 12_000, max_pixels: 50_000_000 }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("the image is empty")]
    Empty,
    #[error("the image is {bytes} bytes; the limit is {max}")]
    TooManyBytes { bytes: usize, max: usize },
    #[error("unsupported image format; send JPEG, PNG or WebP")]
    UnsupportedFormat,
    #[error("the image is {width}×{height} pixels; the limit is {max_side} per side and {max_pixels} in total")]
    TooManyPixels { width: u32, height: u32, max_side: u32, max_pixels: u64 },
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
}

impl ImageError {
    /// Stable reason code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Empty | ImageError::Corrupt(_) => "image_unreadable",
            ImageError::TooManyBytes { .. } => "image_too_large",
            ImageError::UnsupportedFormat => "unsupported_image_format",
            ImageError::TooManyPixels { .. } => "image_too_many_pixels",
        }
    }
}

/// Identifies the format from the first bytes (never from a client's content type).
pub fn sniff_format(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(f),
        _ => Err(ImageError::UnsupportedFormat),
    }
}

/// Decodes an upload to upright RGB, enforcing `limits`.
pub fn decode(bytes: &[u8], limits: &IntakeLimits) -> Result<RgbImage, ImageError> {
    let (decoder, orientation) = open_checked(bytes, limits)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| ImageError::Corrupt(e.to_string()))?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// Every check that needs only the bytes and the header: size, format, completeness, pixel
/// limits. Returns the header-read decoder and the EXIF orientation.
fn open_checked<'a>(
    bytes: &'a [u8],
    limits: &IntakeLimits,
) -> Result<(impl ImageDecoder + 'a, image::metadata::Orientation), ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooManyBytes { bytes: bytes.len(), max: limits.max_bytes });
    }
    let format = sniff_format(bytes)?;
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ImageError::Corrupt("the JPEG data is truncated (no end-of-image marker)".into()));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4) + (64 << 20));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|e| header_error(e, limits))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt("zero-sized image".into()));
    }
    if width > limits.max_side || height > limits.max_side || u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        });
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    Ok((decoder, orientation))
}

/// Decodes a large JPEG at a reduced size straight from the DCT coefficients (1/2, 1/4 or
/// 1/8: the inverse transform, upsampling and colour conversion then run on far fewer
/// pixels), choosing the smallest scale whose longer side is still ≥ `max_side`. `None` when
/// the scaled path does not apply (not a JPEG, not large enough, not 8-bit RGB/grey).
fn decode_jpeg_reduced(bytes: &[u8], limits: &IntakeLimits, max_side: u32) -> Result<Option<RgbImage>, ImageError> {
    if sniff_format(bytes)? != ImageFormat::Jpeg {
        return Ok(None);
    }
    let (decoder, orientation) = open_checked(bytes, limits)?;
    let (w, h) = decoder.dimensions();
    let longer = w.max(h);
    if longer < 2 * max_side {
        return Ok(None);
    }
    drop(decoder);
    let mut jpeg = jpeg_decoder::Decoder::new(bytes);
    let request = |side: u32| ((u64::from(side) * u64::from(max_side)).div_ceil(u64::from(longer))).max(1) as u16;
    let (sw, sh) = jpeg.scale(request(w), request(h)).map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let pixels = jpeg.decode().map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let format = jpeg.info().map(|i| i.pixel_format);
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let image = match format {
        Some(jpeg_decoder::PixelFormat::RGB24) => RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8),
        Some(jpeg_decoder::PixelFormat::L8) => image::GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8),
        _ => None,
    };
    Ok(image.map(|mut image| {
        image.apply_orientation(orientation);
        image.into_rgb8()
    }))
}

/// Whether an end-of-image marker follows the last start-of-scan marker. The JPEG decoder
/// fills a truncated scan with grey instead of failing, so a cut-off upload would otherwise
/// be analysed as a half-grey photo. (Entropy-coded data never contains an unescaped 0xFF
/// followed by a marker byte other than restart markers, so the search is exact.)
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(start) => bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

fn header_error(e: image::ImageError, limits: &IntakeLimits) -> ImageError {
    match e {
        image::ImageError::Limits(_) => {
            ImageError::TooManyPixels { width: 0, height: 0, max_side: limits.max_side, max_pixels: limits.max_pixels }
        }
        image::ImageError::Unsupported(_) => ImageError::UnsupportedFormat,
        other => ImageError::Corrupt(other.to_string()),
    }
}

/// Decodes and, if larger, scales so the longer side is at most `max_side`.
pub fn decode_bounded(bytes: &[u8], limits: &IntakeLimits, max_side: u32) -> Result<RgbImage, ImageError> {
    let image = decode(bytes, limits)?;
    Ok(fit_within(&image, max_side))
}

/// Decodes an upload for analysis: the image scaled so its longer side is at most `max_side`,
/// and that scale (analysis pixels per uploaded pixel, 1.0 when not scaled).
///
/// Large JPEGs are decoded at a reduced DCT scale first, so a 12-MP photo never exists in
/// memory at full size.
pub fn decode_for_analysis(bytes: &[u8], limits: &IntakeLimits, max_side: u32) -> Result<(RgbImage, f32), ImageError> {
    let (width, height, image) = match decode_jpeg_reduced(bytes, limits, max_side)? {
        Some(reduced) => {
            let (w, h) = upright_dimensions(bytes, limits)?;
            (w, h, reduced)
        }
        None => {
            let full = decode(bytes, limits)?;
            (full.width(), full.height(), full)
        }
    };
    let small = fit_within(&image, max_side);
    let scale = small.width().max(small.height()) as f32 / width.max(height) as f32;
    Ok((small, scale))
}

/// Width and height after the EXIF orientation is applied, from the header only.
fn upright_dimensions(bytes: &[u8], limits: &IntakeLimits) -> Result<(u32, u32), ImageError> {
    use image::metadata::Orientation::*;
    let (decoder, orientation) = open_checked(bytes, limits)?;
    let (w, h) = decoder.dimensions();
    Ok(if matches!(orientation, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH) { (h, w) } else { (w, h) })
}

/// Scales down (never up) so the longer side is at most `max_side`, keeping the aspect.
pub fn fit_within(image: &RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let longer = w.max(h);
    if longer <= max_side {
        return image.clone();
    }
    let scale = max_side as f64 / longer as f64;
    let nw = ((w as f64 * scale).round() as u32).max(1);
    let nh = ((h as f64 * scale).round() as u32).max(1);
    resize(image, nw, nh)
}

/// SIMD resize (bilinear convolution; antialiased when shrinking).
pub fn resize(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    let src = FirImage::from_vec_u8(image.width(), image.height(), image.as_raw().clone(), PixelType::U8x3)
        .expect("buffer length matches RGB dimensions");
    let mut dst = FirImage::new(width, height, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).expect("same pixel type on both sides");
    RgbImage::from_raw(width, height, dst.into_vec()).expect("buffer length matches dimensions")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_supported_formats() {
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
        for format in [ImageFormat::Png, ImageFormat::Jpeg] {
            let decoded = decode(&encode(&img, format), &IntakeLimits::default()).unwrap();
            assert_eq!(decoded.dimensions(), (64, 48));
        }
    }

    #[test]
    fn rejects_bad_input_clearly() {
        let limits = IntakeLimits::default();
        assert_eq!(decode(b"", &limits), Err(ImageError::Empty));
        assert_eq!(decode(b"GIF89a....", &limits), Err(ImageError::UnsupportedFormat));
        assert_eq!(decode(b"hello world", &limits), Err(ImageError::UnsupportedFormat));
        let img = RgbImage::from_pixel(64, 48, image::Rgb([1, 2, 3]));
        let png = encode(&img, ImageFormat::Png);
        assert!(matches!(decode(&png[..png.len() / 2], &limits), Err(ImageError::Corrupt(_))));
        let small = IntakeLimits { max_bytes: 10, ..limits };
        assert!(matches!(decode(&png, &small), Err(ImageError::TooManyBytes { .. })));
    }

    #[test]
    fn rejects_truncated_jpeg() {
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 90]));
        let jpeg = encode(&img, ImageFormat::Jpeg);
        assert!(jpeg_is_complete(&jpeg));
        let cut = &jpeg[..jpeg.len() - 40];
        assert!(!jpeg_is_complete(cut));
        assert!(matches!(decode(cut, &IntakeLimits::default()), Err(ImageError::Corrupt(_))));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn rejects_decompression_bombs_from_the_header() {
        // A valid 20000×20000 PNG header: refused before any pixel is allocated.
        let img = RgbImage::from_pixel(1, 1, image::Rgb([0, 0, 0]));
        let mut png = encode(&img, ImageFormat::Png);
        png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode(&png, &IntakeLimits::default()).unwrap_err();
        assert_eq!(err.code(), "image_too_many_pixels");
    }

    #[test]
    fn large_jpegs_decode_reduced_to_the_same_picture() {
        let img = RgbImage::from_fn(2600, 1800, |x, y| image::Rgb([(x / 10) as u8, (y / 8) as u8, 128]));
        let jpeg = encode(&img, ImageFormat::Jpeg);
        let reduced = decode_jpeg_reduced(&jpeg, &IntakeLimits::default(), 640).unwrap().unwrap();
        assert_eq!(reduced.dimensions(), (650, 450), "1/4 scale is the smallest ≥ 640");
        let (analysis, scale) = decode_for_analysis(&jpeg, &IntakeLimits::default(), 640).unwrap();
        assert_eq!(analysis.dimensions(), (640, 443));
        assert!((scale - 640.0 / 2600.0).abs() < 1e-6);
        let reference = fit_within(&decode(&jpeg, &IntakeLimits::default()).unwrap(), 640);
        let diff: f64 =
            analysis.as_raw().iter().zip(reference.as_raw()).map(|(a, b)| (*a as f64 - *b as f64).abs()).sum::<f64>()
                / analysis.as_raw().len() as f64;
        assert!(diff < 3.0, "mean absolute difference {diff}");
    }

    #[test]
    fn fit_within_keeps_aspect() {
        let img = RgbImage::from_pixel(4000, 3000, image::Rgb([9, 9, 9]));
        let small = fit_within(&img, 640);
        assert_eq!(small.dimensions(), (640, 480));
        assert_eq!(small.get_pixel(100, 100), &image::Rgb([9, 9, 9]));
    }
}
