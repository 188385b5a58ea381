//! Card localisation and rectification. The MRZ lines found by the text detector fix the
//! card's orientation and scale (ICAO places a TD1 MRZ at a fixed position on an ID-1 card),
//! which predicts the card outline; each side is then snapped to the strongest straight edge
//! near the prediction, outside all the card's text.

use image::{GrayImage, RgbImage};

use crate::ocr::geometry::{Homography, Point, Quad, warp_quad};

/// ID-1 card size (ISO/IEC 7810).
pub const CARD_WIDTH_MM: f64 = 85.60;
pub const CARD_HEIGHT_MM: f64 = 53.98;
/// The rectified card: ID-1 aspect at about 14 px/mm.
pub const RECTIFIED_WIDTH: u32 = 1200;
pub const RECTIFIED_HEIGHT: u32 = 757;

/// Where the detected MRZ text block (first line's top edge to last line's bottom edge, as
/// the DB detector outlines it) sits on a TD1 card, as fractions of the card. Calibrated on
/// the development photos (`eval documents` prints the residual).
#[derive(Debug, Clone, Copy)]
pub struct MrzPlacement {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl MrzPlacement {
    /// The MRZ block on the rectified card, in pixels.
    pub fn in_card(&self) -> Quad {
        let (w, h) = (RECTIFIED_WIDTH as f64, RECTIFIED_HEIGHT as f64);
        Quad::from_rect(self.left * w, self.top * h, self.right * w, self.bottom * h)
    }
}

pub const TD1_MRZ_PLACEMENT: MrzPlacement = MrzPlacement { left: 0.052, right: 0.957, top: 0.745, bottom: 0.983 };

/// The card outline predicted from the MRZ block (corners TL, TR, BR, BL in reading order).
pub fn card_from_mrz(mrz_block: &Quad, placement: &MrzPlacement) -> Option<Quad> {
    let (w, h) = (RECTIFIED_WIDTH as f64, RECTIFIED_HEIGHT as f64);
    let to_photo = Homography::from_points(&placement.in_card().0, &mrz_block.0)?;
    let predicted = to_photo.apply_quad(&Quad::from_rect(0.0, 0.0, w, h));
    // A homography extrapolated from a flat strip can fold over: keep only a sane, convex quad.
    is_convex(&predicted).then_some(predicted)
}

pub fn is_convex(q: &Quad) -> bool {
    let p = q.0;
    let signs: Vec<f64> =
        (0..4).map(|i| p[(i + 1) % 4].minus(p[i]).cross(p[(i + 2) % 4].minus(p[(i + 1) % 4]))).collect();
    signs.iter().all(|&s| s > 0.0) || signs.iter().all(|&s| s < 0.0)
}

/// A straight line `n·p = c` with unit normal `n`.
#[derive(Debug, Clone, Copy)]
struct Line {
    normal: Point,
    offset: f64,
}

impl Line {
    fn through(a: Point, b: Point) -> Option<Self> {
        let d = b.minus(a);
        if d.norm() < 1e-9 {
            return None;
        }
        let normal = d.perp().unit();
        Some(Self { normal, offset: normal.dot(a) })
    }
    fn distance(&self, p: Point) -> f64 {
        (self.normal.dot(p) - self.offset).abs()
    }
    fn intersect(&self, o: &Line) -> Option<Point> {
        let det = self.normal.x * o.normal.y - self.normal.y * o.normal.x;
        if det.abs() < 1e-9 {
            return None;
        }
        Some(Point::new(
            (self.offset * o.normal.y - self.normal.y * o.offset) / det,
            (self.normal.x * o.offset - self.offset * o.normal.x) / det,
        ))
    }
}

/// Gray image with a light blur, and its gradient, for edge search.
pub struct EdgeImage {
    gray: GrayImage,
}

impl EdgeImage {
    pub fn new(image: &RgbImage) -> Self {
        let gray = image::imageops::grayscale(image);
        Self { gray: imageproc::filter::gaussian_blur_f32(&gray, 1.2) }
    }

    fn value(&self, p: Point) -> f64 {
        let (w, h) = self.gray.dimensions();
        let x = p.x.clamp(0.0, w as f64 - 1.001);
        let y = p.y.clamp(0.0, h as f64 - 1.001);
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (fx, fy) = (x - x0 as f64, y - y0 as f64);
        let g = |xx: u32, yy: u32| self.gray.get_pixel(xx.min(w - 1), yy.min(h - 1)).0[0] as f64;
        let top = g(x0, y0) * (1.0 - fx) + g(x0 + 1, y0) * fx;
        let bottom = g(x0, y0 + 1) * (1.0 - fx) + g(x0 + 1, y0 + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    fn inside(&self, p: Point) -> bool {
        p.x >= 1.0 && p.y >= 1.0 && p.x < self.gray.width() as f64 - 1.0 && p.y < self.gray.height() as f64 - 1.0
    }
}

/// How far to look for each side: from `inner` (towards the card centre; never inside the
/// card's text) to `outer`, in pixels along the outward normal of the predicted side.
#[derive(Debug, Clone, Copy)]
pub struct SearchBand {
    pub inner: f64,
    pub outer: f64,
}

/// Snaps each side of `predicted` (TL, TR, BR, BL) to the best straight edge in its band.
/// Sides where no edge is found keep the prediction.
pub fn refine_card(edges: &EdgeImage, predicted: &Quad, bands: &[SearchBand; 4]) -> Quad {
    let p = predicted.0;
    let center = predicted.center();
    let lines: Vec<Line> = (0..4)
        .map(|side| {
            let (a, b) = (p[side], p[(side + 1) % 4]);
            find_edge(edges, a, b, center, &bands[side])
                .or_else(|| Line::through(a, b))
                .unwrap_or(Line { normal: Point::new(1.0, 0.0), offset: 0.0 })
        })
        .collect();
    // Corner i is where side i-1 (ending at it) meets side i (starting at it).
    let corners: Vec<Option<Point>> = (0..4).map(|i| lines[(i + 3) % 4].intersect(&lines[i])).collect();
    match corners.as_slice() {
        [Some(a), Some(b), Some(c), Some(d)] => {
            let refined = Quad([*a, *b, *c, *d]);
            let ratio = refined.area() / predicted.area().max(1.0);
            if is_convex(&refined) && (0.6..1.6).contains(&ratio) { refined } else { *predicted }
        }
        _ => *predicted,
    }
}

/// One gradient peak on a scan line across a side.
#[derive(Debug, Clone, Copy)]
struct EdgePeak {
    point: Point,
    strength: f64,
    /// Which scan line along the side it came from.
    scan: usize,
}

const SCAN_LINES: usize = 48;

/// The gradient peaks on scan lines across one side of the predicted card.
struct SideScan {
    /// Where each scan line crosses the predicted side.
    bases: Vec<Point>,
    /// Unit normal of the predicted side, pointing out of the card.
    normal: Point,
    band: SearchBand,
    peaks: Vec<EdgePeak>,
}

impl SideScan {
    fn new(edges: &EdgeImage, a: Point, b: Point, center: Point, band: &SearchBand) -> Self {
        let mut normal = b.minus(a).perp().unit();
        if normal.dot(a.minus(center)) < 0.0 {
            normal = normal.scale(-1.0);
        }
        let bases: Vec<Point> =
            (0..SCAN_LINES).map(|scan| a.lerp(b, 0.12 + 0.76 * scan as f64 / (SCAN_LINES - 1) as f64)).collect();
        let peaks = bases
            .iter()
            .enumerate()
            .flat_map(|(scan, &base)| {
                edge_peaks(edges, base, normal, band).into_iter().map(move |(point, strength)| EdgePeak {
                    point,
                    strength,
                    scan,
                })
            })
            .collect();
        Self { bases, normal, band: *band, peaks }
    }

    /// How far out of the predicted side `line` crosses scan line `scan`.
    fn offset_at(&self, line: &Line, scan: usize) -> f64 {
        let base = self.bases[scan];
        (line.offset - line.normal.dot(base)) / line.normal.dot(self.normal)
    }

    /// The share of the scan lines crossing `line` inside the band that have a peak on it. A
    /// line leaving the band (a badly predicted angle) is judged on the part it can be seen.
    fn support(&self, line: &Line) -> f64 {
        let visible = (0..SCAN_LINES)
            .filter(|&scan| {
                let s = self.offset_at(line, scan);
                s > -self.band.inner + 1.0 && s < self.band.outer - 1.0
            })
            .count();
        Score::Coverage.of(&self.peaks, line) / visible.max(1) as f64
    }
}

/// Fits a line to the strongest gradient responses across the side with RANSAC. A strong edge
/// inside the card (a portrait's border) can outweigh a faint card edge on a pale background;
/// but the card's edge runs the whole side, so a parallel line further out that is seen on
/// (nearly) every scan line wins over one that is not.
fn find_edge(edges: &EdgeImage, a: Point, b: Point, center: Point, band: &SearchBand) -> Option<Line> {
    let scan = SideScan::new(edges, a, b, center, band);
    let direction = b.minus(a).unit();
    let strongest = ransac_line(&scan.peaks, direction, Score::Strength)?;
    Some(outer_rival(&scan, &strongest, direction).unwrap_or(strongest))
}

/// A line parallel to `line`, further out, supported on the whole side where `line` is not.
fn outer_rival(scan: &SideScan, line: &Line, direction: Point) -> Option<Line> {
    let mine = scan.support(line);
    let outward = |p: &EdgePeak| {
        let d = line.normal.dot(p.point) - line.offset;
        if line.normal.dot(scan.normal) >= 0.0 { d } else { -d }
    };
    let outside: Vec<EdgePeak> = scan.peaks.iter().filter(|p| outward(p) > 3.0).copied().collect();
    let rival = ransac_line(&outside, direction, Score::Coverage)?;
    let parallel = rival.normal.dot(line.normal).abs() > 0.999;
    let theirs = scan.support(&rival);
    (parallel && mine < 0.8 && theirs >= 0.85 && theirs > mine + 0.1).then_some(rival)
}

/// The strongest gradient responses along one normal scan line (up to three local maxima).
fn edge_peaks(edges: &EdgeImage, base: Point, normal: Point, band: &SearchBand) -> Vec<(Point, f64)> {
    let (from, to) = (-band.inner.round() as i64, band.outer.round() as i64);
    let responses: Vec<(f64, Point)> = (from..=to)
        .map(|s| {
            let p = base.plus(normal.scale(s as f64));
            if !edges.inside(p) {
                return (0.0, p);
            }
            let d = edges.value(p.plus(normal.scale(1.5))) - edges.value(p.minus(normal.scale(1.5)));
            (d.abs(), p)
        })
        .collect();
    let mut peaks: Vec<(Point, f64)> = (1..responses.len().saturating_sub(1))
        .filter(|&i| {
            let r = responses[i].0;
            r >= 6.0 && r >= responses[i - 1].0 && r >= responses[i + 1].0
        })
        .map(|i| (responses[i].1, responses[i].0))
        .collect();
    peaks.sort_by(|x, y| y.1.total_cmp(&x.1));
    peaks.truncate(3);
    peaks
}

/// How RANSAC ranks a candidate line by the peaks within 1.5 px of it.
#[derive(Clone, Copy)]
enum Score {
    /// Total gradient: the most contrasted edge.
    Strength,
    /// Scan lines with a peak on it: the edge seen along most of the side.
    Coverage,
}

impl Score {
    fn of(self, peaks: &[EdgePeak], line: &Line) -> f64 {
        let on_line = peaks.iter().filter(|p| line.distance(p.point) < 1.5);
        match self {
            Score::Strength => on_line.map(|p| p.strength).sum(),
            Score::Coverage => {
                let mut seen = [false; SCAN_LINES];
                on_line.for_each(|p| seen[p.scan] = true);
                seen.iter().filter(|&&s| s).count() as f64
            }
        }
    }
}

/// The best-scoring line through two peaks, roughly parallel to `direction`, refined by least
/// squares on its inliers. Every pair of peaks on scan lines at least four apart is tried
/// (a few hundred peaks, so this is exhaustive and deterministic, not sampled): an edge seen
/// on only part of the side is still found.
fn ransac_line(peaks: &[EdgePeak], direction: Point, score: Score) -> Option<Line> {
    if peaks.len() < 6 {
        return None;
    }
    let mut best: Option<(f64, Line)> = None;
    for (i, first) in peaks.iter().enumerate() {
        for second in &peaks[i + 1..] {
            if first.scan.abs_diff(second.scan) < 4 {
                continue;
            }
            let Some(line) = Line::through(first.point, second.point) else { continue };
            if line.normal.dot(direction).abs() > 0.2 {
                continue;
            }
            let support = score.of(peaks, &line);
            if best.is_none_or(|(s, _)| support > s) {
                best = Some((support, line));
            }
        }
    }
    let (_, line) = best?;
    let inliers: Vec<Point> = peaks.iter().filter(|p| line.distance(p.point) < 2.0).map(|p| p.point).collect();
    if inliers.len() < 8 {
        return None;
    }
    Some(fit_line(&inliers).unwrap_or(line))
}

/// Total least squares line through points.
fn fit_line(points: &[Point]) -> Option<Line> {
    let n = points.len() as f64;
    let mean = points.iter().fold(Point::default(), |a, p| a.plus(*p)).scale(1.0 / n);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for p in points {
        let d = p.minus(mean);
        sxx += d.x * d.x;
        sxy += d.x * d.y;
        syy += d.y * d.y;
    }
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let dir = Point::new(angle.cos(), angle.sin());
    Line::through(mean, mean.plus(dir))
}

/// The card cut out of the photo at the fixed rectified size.
pub fn rectify(image: &RgbImage, corners: &Quad) -> RgbImage {
    warp_quad(image, corners, RECTIFIED_WIDTH, RECTIFIED_HEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn prediction_from_the_mrz_block_spans_the_card() {
        let p = TD1_MRZ_PLACEMENT;
        let (w, h) = (600.0, 378.5);
        let block = Quad::from_rect(p.left * w + 50.0, p.top * h + 20.0, p.right * w + 50.0, p.bottom * h + 20.0);
        let card = card_from_mrz(&block, &p).expect("convex");
        assert!(card.0[0].distance(Point::new(50.0, 20.0)) < 1e-6);
        assert!(card.0[2].distance(Point::new(650.0, 398.5)) < 1e-6);
    }

    #[test]
    fn sides_snap_to_the_card_edges() {
        let mut img = RgbImage::from_pixel(400, 300, Rgb([40, 60, 40]));
        for y in 50..250 {
            for x in 60..360 {
                img.put_pixel(x, y, Rgb([220, 210, 200]));
            }
        }
        let edges = EdgeImage::new(&img);
        let predicted = Quad::from_rect(70.0, 58.0, 352.0, 245.0);
        let band = SearchBand { inner: 5.0, outer: 25.0 };
        let refined = refine_card(&edges, &predicted, &[band; 4]);
        let expected = Quad::from_rect(60.0, 50.0, 360.0, 250.0);
        for i in 0..4 {
            assert!(refined.0[i].distance(expected.0[i]) < 1.5, "{:?} vs {:?}", refined.0[i], expected.0[i]);
        }
    }
}
