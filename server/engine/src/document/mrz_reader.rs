//! Finding and reading the MRZ in a photo: long text boxes read with the MRZ alphabet (the
//! longest both ways, the rest in the direction they vote for), grouped into 2 or 3 parallel
//! lines of the same length, then assembled and repaired against the check digits.

use image::RgbImage;
use serde::Serialize;

use super::mrz::MrzFormat;
use super::mrz_repair::{OcrChar, RepairReason, RepairedMrz, assemble};
use crate::ocr::geometry::{Point, Quad};
use crate::ocr::recognition::Recognition;
use crate::ocr::{OcrEngine, OcrError, TextBox};

pub const MRZ_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

/// Horizontal stretch of MRZ line images before recognition. Measured on the 60 development
/// photos (true line boxes, 30 % vertical margin, raw line exact): 1.0 → 29 %, 1.25 → 53 %,
/// 1.5 → 61 %, 1.75 → 61 %, 2.0 → 56 %; without stretch the recognizer drops one of two
/// narrow neighbouring OCR-B glyphs (UTOC → UTO).
pub const MRZ_STRETCH: f64 = 1.6;

/// A text line read as MRZ (quad in reading order, photo coordinates).
#[derive(Debug, Clone, Serialize)]
pub struct MrzLineReading {
    pub quad: Quad,
    pub text: String,
    pub confidence: f32,
    #[serde(skip)]
    pub chars: Vec<OcrChar>,
}

/// The MRZ lines found, top to bottom, and what they assemble into.
#[derive(Debug, Clone, Serialize)]
pub struct MrzReading {
    pub format: MrzFormat,
    pub lines: Vec<MrzLineReading>,
    pub repaired: RepairedMrz,
}

impl MrzReading {
    /// Passes its checks as read, without repairs.
    pub fn is_clean(&self) -> bool {
        self.repaired.mrz.is_valid() && self.repaired.repairs.is_empty()
    }

    /// Passes its checks with at most characters impossible at their position replaced by
    /// their look-alikes (`0` in a country code read as `O`), repairs that need no choice.
    pub fn is_sound(&self) -> bool {
        self.repaired.mrz.is_valid() && self.repaired.repairs.iter().all(|r| r.reason == RepairReason::CharacterClass)
    }

    /// The MRZ text block: first line's top edge to the last line's bottom edge. The lines of
    /// an MRZ are equally long, but the detector may stop one at its fillers (a valid reading
    /// can come from such a box): a first or last line shorter than the longest is extended
    /// to its length, or the block would be a trapezoid that tilts the predicted card.
    pub fn block(&self) -> Quad {
        let (first, last) = (&self.lines[0].quad, &self.lines[self.lines.len() - 1].quad);
        let longest = self.lines.iter().map(|l| l.quad.width()).fold(0.0, f64::max);
        let end = |start: Point, line: &Quad, end: Point| {
            if line.width() < 0.97 * longest { start.plus(line.direction().scale(longest)) } else { end }
        };
        Quad([first.0[0], end(first.0[0], first, first.0[1]), end(last.0[3], last, last.0[2]), last.0[3]])
    }
}

/// Boxes long and thin enough to be an MRZ line or its start: the detector often stops a
/// line at its long run of fillers, leaving only the first 10–20 characters.
pub(super) fn is_line_candidate(b: &TextBox) -> bool {
    b.quad.width() > 6.0 * b.quad.height() && b.quad.height() >= 4.0
}

/// What the MRZ search found: the best assembled MRZ, and every line-like box read as MRZ
/// (in its better reading direction) for the partial-line fallback.
#[derive(Debug, Clone)]
pub struct MrzSearch {
    pub best: Option<MrzReading>,
    pub lines: Vec<MrzLineReading>,
}

/// Reads the MRZ from `boxes` detected in `image` (boxes in `image` coordinates scaled by
/// `scale` to the detector's image: photo = detector × scale).
pub fn read_mrz(ocr: &OcrEngine, image: &RgbImage, boxes: &[TextBox], scale: f64) -> Result<MrzSearch, OcrError> {
    let merged = merge_collinear(boxes);
    let mut candidates: Vec<Quad> =
        merged.iter().filter(|b| is_line_candidate(b)).map(|b| b.quad.scale(scale)).collect();
    candidates.sort_by(|a, b| b.width().total_cmp(&a.width()));
    candidates.truncate(10);
    if candidates.is_empty() {
        return Ok(MrzSearch { best: None, lines: Vec::new() });
    }
    let mask = ocr.alphabet().mask_of(MRZ_ALPHABET);
    let read = |quads: &[Quad]| ocr.recognize_stretched(image, quads, Some(&mask), MRZ_STRETCH);
    // The longest boxes are read both ways to learn which way the card's text runs; the
    // others, parallel to them, only that way. A line costs ~0.1 ms per pixel of width, so
    // this halves the stage. The others are read longest first, a few at a time, until the
    // lines read so far make a clean MRZ (an MRZ's lines are nearly always the card's longest).
    // Without a valid MRZ, every box is read the other way as well.
    let probes = candidates.len().min(DIRECTION_PROBES);
    let both_ways = |q: &Quad| vec![*q, q.flipped()];
    let mut reads = read_groups(&read, candidates[..probes].iter().map(both_ways).collect())?;
    let forward = text_direction(&reads);
    let parallel = |q: &Quad| q.direction().dot(forward).abs() > 0.97;
    let mut search = search_lines(&reads);
    for chunk in candidates[probes..].chunks(FOLLOW_UP_CHUNK) {
        if search.best.as_ref().is_some_and(MrzReading::is_clean) {
            return Ok(search);
        }
        let rest = chunk.iter().map(|q| if parallel(q) { vec![orient(q, forward)] } else { both_ways(q) });
        reads.extend(read_groups(&read, rest.collect())?);
        search = search_lines(&reads);
    }
    if search.best.as_ref().is_some_and(|m| m.repaired.mrz.is_valid()) {
        return Ok(search);
    }
    let one_way: Vec<usize> = (0..reads.len()).filter(|&i| reads[i].len() == 1).collect();
    if one_way.is_empty() {
        return Ok(search);
    }
    let other_way = read_groups(&read, one_way.iter().map(|&i| vec![reads[i][0].0.flipped()]).collect())?;
    for (i, more) in one_way.into_iter().zip(other_way) {
        reads[i].extend(more);
    }
    Ok(search_lines(&reads))
}

/// Reads groups of quads in one recognizer call (lines run in parallel) and returns each
/// group's quads with their recognitions.
fn read_groups(
    read: &impl Fn(&[Quad]) -> Result<Vec<Recognition>, OcrError>,
    groups: Vec<Vec<Quad>>,
) -> Result<Vec<Vec<(Quad, Recognition)>>, OcrError> {
    let flat: Vec<Quad> = groups.iter().flatten().copied().collect();
    let mut recognitions = read(&flat)?.into_iter();
    Ok(groups.into_iter().map(|g| g.into_iter().zip(recognitions.by_ref()).collect()).collect())
}

/// Candidate boxes read both ways before the others are read one way.
const DIRECTION_PROBES: usize = 2;

/// Candidates read per round after the probes: two rounds of the recognizer on two cores.
const FOLLOW_UP_CHUNK: usize = 4;

/// `q` with its reading direction along `forward`.
fn orient(q: &Quad, forward: Point) -> Quad {
    if q.direction().dot(forward) >= 0.0 { *q } else { q.flipped() }
}

/// The reading direction of the probes (read both ways, first the box as detected): the way
/// that reads more like text, summed over the probes parallel to the first.
fn text_direction(probes: &[Vec<(Quad, Recognition)>]) -> Point {
    let axis = probes[0][0].0.direction();
    let vote: f32 = probes
        .iter()
        .filter(|p| p[0].0.direction().dot(axis).abs() > 0.97)
        .map(|p| {
            let margin = mrz_likeness(&p[0].1) - mrz_likeness(&p[1].1);
            if p[0].0.direction().dot(axis) > 0.0 { margin } else { -margin }
        })
        .sum();
    if vote >= 0.0 { axis } else { axis.scale(-1.0) }
}

/// Per box the direction that reads better, then the best MRZ group among them.
fn search_lines(reads: &[Vec<(Quad, Recognition)>]) -> MrzSearch {
    let lines: Vec<MrzLineReading> = reads
        .iter()
        // `rev`: on a tie `max_by` keeps the last, and the box as detected comes first.
        .filter_map(|r| r.iter().rev().max_by(|a, b| mrz_likeness(&a.1).total_cmp(&mrz_likeness(&b.1))))
        .map(|(q, rec)| to_line_reading(*q, rec))
        .filter(|l| l.confidence > 0.4 && l.text.len() >= 6)
        .collect();
    let full: Vec<MrzLineReading> =
        lines.iter().filter(|l| l.confidence > 0.5 && l.text.len() >= 20).cloned().collect();
    MrzSearch { best: best_group(&full), lines }
}

/// Ratio of a TD1 MRZ block's width to its height (first line's top to last line's bottom),
/// from [`super::card::TD1_MRZ_PLACEMENT`] on the rectified card.
pub(super) fn td1_block_aspect() -> f64 {
    let p = super::card::TD1_MRZ_PLACEMENT;
    let (w, h) = (super::card::RECTIFIED_WIDTH as f64, super::card::RECTIFIED_HEIGHT as f64);
    (p.right - p.left) * w / ((p.bottom - p.top) * h)
}

/// The TD1 MRZ block predicted from three stacked line starts: parallel lines of one height,
/// evenly spaced, starting at the same place, the first starting with a document code letter
/// and the second with a date. The block's far end is extrapolated from its height (ICAO fixes
/// the TD1 geometry), so lines the detector cut short at their fillers still place the card.
pub fn td1_block_from_line_starts(lines: &[MrzLineReading]) -> Option<Quad> {
    let mut best: Option<(f32, Quad)> = None;
    for first in lines.iter().filter(|l| l.text.starts_with(['I', 'A', 'C'])) {
        let axis = first.quad.direction();
        let down = axis.perp();
        let h = first.quad.height();
        let start = first.quad.0[0];
        let below = |l: &MrzLineReading, k: f64| {
            let off = l.quad.0[0].minus(start);
            l.quad.direction().dot(axis) > 0.97
                && (l.quad.height() / h - 1.0).abs() < 0.35
                && off.dot(axis).abs() < 1.2 * h
                && (off.dot(down) / (k * h) - PITCH_RATIO).abs() < 0.45
        };
        let second = lines.iter().filter(|l| below(l, 1.0) && starts_with_date(&l.text)).max_by(by_confidence);
        let third = lines.iter().filter(|l| below(l, 2.0)).max_by(by_confidence);
        let (Some(second), Some(third)) = (second, third) else { continue };
        let top_left = start;
        let bottom_left = third.quad.0[3];
        let height = bottom_left.minus(top_left).dot(down);
        if height <= 0.0 {
            continue;
        }
        let reach = axis.scale(td1_block_aspect() * height);
        let block = Quad([top_left, top_left.plus(reach), bottom_left.plus(reach), bottom_left]);
        let score = first.confidence + second.confidence + third.confidence;
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, block));
        }
    }
    best.map(|(_, q)| q)
}

/// TD1 line pitch over the line height as the DB detector outlines it (8.3 % vs 7.3 % of the
/// card height).
pub(super) const PITCH_RATIO: f64 = 1.15;

fn by_confidence(a: &&MrzLineReading, b: &&MrzLineReading) -> std::cmp::Ordering {
    a.confidence.total_cmp(&b.confidence)
}

/// TD1 line 2 starts with the birth date: at least four of the first six characters read as
/// digits or their look-alikes.
fn starts_with_date(text: &str) -> bool {
    text.chars().take(6).filter(|c| c.is_ascii_digit() || "OIBSZGDQ".contains(*c)).count() >= 4
}

/// Joins boxes that continue one another along the same text line: the detector often splits
/// an MRZ line at a long run of fillers.
pub fn merge_collinear(boxes: &[TextBox]) -> Vec<TextBox> {
    let mut parent: Vec<usize> = (0..boxes.len()).collect();
    fn root(parent: &mut [usize], i: usize) -> usize {
        let mut r = i;
        while parent[r] != r {
            r = parent[r];
        }
        parent[i] = r;
        r
    }
    for i in 0..boxes.len() {
        for j in i + 1..boxes.len() {
            if continues(&boxes[i].quad, &boxes[j].quad) {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<&TextBox>> = std::collections::BTreeMap::new();
    for (i, b) in boxes.iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(b);
    }
    groups.into_values().map(|g| span(&g)).collect()
}

fn continues(a: &Quad, b: &Quad) -> bool {
    let (ha, hb) = (a.height(), b.height());
    if ha.max(hb) > 1.6 * ha.min(hb) {
        return false;
    }
    // Short boxes have unreliable directions; use the longer box's axis.
    let axis = if a.width() >= b.width() { a.direction() } else { b.direction() };
    let down = axis.perp();
    let h = ha.max(hb);
    let offset = b.center().minus(a.center());
    if offset.dot(down).abs() > 0.4 * h {
        return false;
    }
    let gap = offset.dot(axis).abs() - 0.5 * (a.width() + b.width());
    gap < 1.2 * h
}

/// The rectangle spanning a group of boxes along the longest box's axis.
fn span(group: &[&TextBox]) -> TextBox {
    let longest =
        group.iter().max_by(|a, b| a.quad.width().total_cmp(&b.quad.width())).map(|b| b.quad).unwrap_or(group[0].quad);
    if group.len() == 1 {
        return *group[0];
    }
    let axis = longest.direction();
    let down = axis.perp();
    let origin = longest.center();
    let (mut u0, mut u1, mut v0, mut v1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for b in group {
        for p in b.quad.0 {
            let d = p.minus(origin);
            u0 = u0.min(d.dot(axis));
            u1 = u1.max(d.dot(axis));
            v0 = v0.min(d.dot(down));
            v1 = v1.max(d.dot(down));
        }
    }
    let at = |u: f64, v: f64| origin.plus(axis.scale(u)).plus(down.scale(v));
    let score = group.iter().map(|b| b.score).sum::<f32>() / group.len() as f32;
    TextBox { quad: Quad([at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)]), score }
}

/// Re-reads a TD1 MRZ at its fixed place on the located card (corners TL, TR, BR, BL in the
/// photo): each line is cut with a margin straight from the photo through the card's
/// homography, so the recognizer sees whole, upright lines whatever the detector did.
/// Returns the better of this reading and `first`.
pub fn reread_td1(
    ocr: &OcrEngine,
    photo: &RgbImage,
    corners: &Quad,
    shift: f64,
    first: Option<MrzReading>,
) -> Result<Option<MrzReading>, OcrError> {
    use crate::ocr::geometry::Homography;
    let (w, h) = (super::card::RECTIFIED_WIDTH as f64, super::card::RECTIFIED_HEIGHT as f64);
    let frame = Quad::from_rect(0.0, 0.0, w, h);
    let Some(to_photo) = Homography::from_points(&frame.0, &corners.0) else { return Ok(first) };
    // TD1 line centres at 78.2 %, 86.4 % and 94.7 % of the card height, pitch 8.3 %, moved by
    // `shift` (a fraction of the card height) where the card's MRZ sits off ICAO's nominal place.
    let quads: Vec<Quad> = [0.782, 0.864, 0.947]
        .iter()
        .map(|c| c + shift)
        .map(|c| to_photo.apply_quad(&Quad::from_rect(0.03 * w, (c - 0.040) * h, 0.975 * w, (c + 0.040) * h)))
        .collect();
    Ok(match (read_td1_lines(ocr, photo, &quads)?, first) {
        (Some(second), Some(first)) if group_score(&second) <= group_score(&first) => Some(first),
        (Some(second), _) => Some(second),
        (None, first) => first,
    })
}

/// Reads three TD1 line quads (photo coordinates, reading order, top to bottom) as MRZ and
/// assembles them; `None` when they do not make a TD1 MRZ.
pub fn read_td1_lines(ocr: &OcrEngine, photo: &RgbImage, quads: &[Quad]) -> Result<Option<MrzReading>, OcrError> {
    let mask = ocr.alphabet().mask_of(MRZ_ALPHABET);
    let readings = ocr.recognize_stretched(photo, quads, Some(&mask), MRZ_STRETCH)?;
    let lines: Vec<MrzLineReading> = quads.iter().zip(&readings).map(|(q, r)| to_line_reading(*q, r)).collect();
    let refs: Vec<&MrzLineReading> = lines.iter().collect();
    Ok(try_format(MrzFormat::Td1, &refs))
}

/// Confidence, weighted towards lines with fillers (an MRZ line nearly always has some).
fn mrz_likeness(r: &Recognition) -> f32 {
    let fillers = r.text.chars().filter(|&c| c == '<').count() as f32;
    r.confidence * r.text.len().min(44) as f32 + 0.5 * fillers.min(10.0)
}

fn to_line_reading(quad: Quad, rec: &Recognition) -> MrzLineReading {
    let chars = rec
        .chars
        .iter()
        .filter_map(|c| {
            let symbol = c.symbol.chars().next()?;
            let runner_up = c.runner_up.as_ref().and_then(|(s, p)| if *p > 0.05 { s.chars().next() } else { None });
            Some(OcrChar { symbol, runner_up })
        })
        .collect();
    MrzLineReading { quad, text: rec.text.clone(), confidence: rec.confidence, chars }
}

/// Chooses the set of 2–3 parallel, stacked lines of similar length that forms the best MRZ.
fn best_group(lines: &[MrzLineReading]) -> Option<MrzReading> {
    let mut best: Option<(f32, MrzReading)> = None;
    for (i, anchor) in lines.iter().enumerate() {
        let dir = anchor.quad.direction();
        let down = dir.perp();
        let mut group: Vec<&MrzLineReading> = lines
            .iter()
            .filter(|l| {
                let off = l.quad.center().minus(anchor.quad.center());
                l.quad.direction().dot(dir) > 0.97
                    && (l.quad.width() / anchor.quad.width() - 1.0).abs() < 0.2
                    && off.dot(dir).abs() < 0.2 * anchor.quad.width()
                    && off.dot(down).abs() < 3.2 * 3.0 * anchor.quad.height()
            })
            .collect();
        group.sort_by(|a, b| a.quad.center().dot(down).total_cmp(&b.quad.center().dot(down)));
        for format in MrzFormat::ALL {
            let n = format.line_count();
            if group.len() < n {
                continue;
            }
            for start in 0..=group.len() - n {
                let window = &group[start..start + n];
                if !window.iter().any(|l| std::ptr::eq(*l, &lines[i])) {
                    continue;
                }
                if let Some(reading) = try_format(format, window) {
                    let score = group_score(&reading);
                    if best.as_ref().is_none_or(|(s, _)| score > *s) {
                        best = Some((score, reading));
                    }
                }
            }
        }
    }
    best.map(|(_, r)| r)
}

fn try_format(format: MrzFormat, window: &[&MrzLineReading]) -> Option<MrzReading> {
    let mean_len = window.iter().map(|l| l.text.len()).sum::<usize>() as f64 / window.len() as f64;
    if (mean_len - format.line_length() as f64).abs() > 0.2 * format.line_length() as f64 {
        return None;
    }
    let chars: Vec<Vec<OcrChar>> = window.iter().map(|l| l.chars.clone()).collect();
    let repaired = assemble(format, &chars)?;
    Some(MrzReading { format, lines: window.iter().map(|l| (*l).clone()).collect(), repaired })
}

/// Valid MRZs first, then by check digits passed, confidence and fewer repairs.
fn group_score(r: &MrzReading) -> f32 {
    let checks = r.repaired.mrz.checks();
    let passed = [checks.document_number, checks.date_of_birth, checks.date_of_expiry, checks.composite.unwrap_or(true)]
        .iter()
        .filter(|&&b| b)
        .count() as f32;
    let confidence = r.lines.iter().map(|l| l.confidence).sum::<f32>() / r.lines.len() as f32;
    let valid_bonus = if r.repaired.mrz.is_valid() { 10.0 } else { 0.0 };
    valid_bonus + passed + confidence - 0.01 * r.repaired.repairs.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, x0: f64, y0: f64, width: f64, height: f64) -> MrzLineReading {
        MrzLineReading {
            quad: Quad::from_rect(x0, y0, x0 + width, y0 + height),
            text: text.to_string(),
            confidence: 0.9,
            chars: Vec::new(),
        }
    }

    fn recognition(text: &str, confidence: f32) -> Recognition {
        Recognition { text: text.to_string(), confidence, chars: Vec::new() }
    }

    #[test]
    fn the_probes_vote_for_the_way_the_text_reads() {
        let q = Quad::from_rect(0.0, 0.0, 600.0, 40.0);
        // The text runs right to left in the image (the card is upside down); the second
        // box was detected with its corners the other way round.
        let text = || recognition("I<UTOD231458907<<<<<", 0.9);
        let garbage = || recognition("ZZ1", 0.3);
        let second = Quad::from_rect(0.0, 50.0, 600.0, 90.0).flipped();
        let probes =
            vec![vec![(q, garbage()), (q.flipped(), text())], vec![(second, text()), (second.flipped(), garbage())]];
        let forward = text_direction(&probes);
        assert!(forward.dot(q.flipped().direction()) > 0.99, "{forward:?}");
        assert!(orient(&q, forward).direction().dot(forward) > 0.99);
    }

    #[test]
    fn groups_get_their_own_recognitions_back() {
        let quads: Vec<Quad> =
            (0..3).map(|i| Quad::from_rect(0.0, 50.0 * i as f64, 600.0, 50.0 * i as f64 + 40.0)).collect();
        let read = |qs: &[Quad]| Ok(qs.iter().map(|q| recognition(&format!("{}", q.0[0].y), 0.9)).collect());
        let groups =
            read_groups(&read, vec![vec![quads[0], quads[0].flipped()], vec![quads[1]], vec![quads[2]]]).expect("read");
        let texts: Vec<Vec<String>> = groups.iter().map(|g| g.iter().map(|(_, r)| r.text.clone()).collect()).collect();
        assert_eq!(
            texts,
            vec![vec!["0".to_string(), "40".to_string()], vec!["50".to_string()], vec!["100".to_string()]]
        );
    }

    #[test]
    fn three_cut_line_starts_give_the_whole_td1_block() {
        // Lines cut at their fillers (different lengths), 40 px high, pitch 46 px.
        let lines = [
            line("I<UTOD231458907<<", 100.0, 500.0, 420.0, 40.0),
            line("7408122F1204159UTO", 100.0, 546.0, 450.0, 40.0),
            line("ERIKSSON<<ANNA<MARIA", 100.0, 592.0, 480.0, 40.0),
            line("IDENTITYCARD", 100.0, 100.0, 300.0, 40.0),
        ];
        let block = td1_block_from_line_starts(&lines).expect("block");
        let height = 632.0 - 500.0;
        assert!(block.0[0].distance(Point::new(100.0, 500.0)) < 1e-6);
        assert!(block.0[3].distance(Point::new(100.0, 632.0)) < 1e-6);
        assert!((block.0[1].x - (100.0 + td1_block_aspect() * height)).abs() < 1e-6);
    }

    #[test]
    fn a_line_cut_at_its_fillers_does_not_tilt_the_block() {
        // The first line's box stops at its fillers (380 of 480 px); the block still spans
        // the whole line length, as the other lines show.
        let lines = vec![
            line("I<UTOD231458907<<", 100.0, 500.0, 380.0, 40.0),
            line("7408122F1204159UTO", 100.0, 546.0, 480.0, 40.0),
            line("ERIKSSON<<ANNA<MARIA", 100.0, 592.0, 478.0, 40.0),
        ];
        let repaired =
            RepairedMrz { mrz: super::super::mrz::Mrz::parse(&SPECIMEN).expect("valid specimen"), repairs: Vec::new() };
        let block = MrzReading { format: MrzFormat::Td1, lines, repaired }.block();
        assert!(block.0[1].distance(Point::new(580.0, 500.0)) < 1e-6, "{block:?}");
        assert!(block.0[2].distance(Point::new(578.0, 632.0)) < 1e-6, "a complete last line is kept: {block:?}");
    }

    const SPECIMEN: [&str; 3] =
        ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];

    #[test]
    fn lines_that_do_not_stack_like_a_td1_mrz_give_no_block() {
        // The second line does not start with a date.
        let lines = [
            line("I<UTOD231458907<<", 100.0, 500.0, 420.0, 40.0),
            line("SURNAME<ERIKSSON", 100.0, 546.0, 450.0, 40.0),
            line("ERIKSSON<<ANNA<MARIA", 100.0, 592.0, 480.0, 40.0),
        ];
        assert!(td1_block_from_line_starts(&lines).is_none());
    }
}
