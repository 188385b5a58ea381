//! A TD1 MRZ found by its shape alone, before anything is read: three long, parallel detector
//! boxes of one height, stacked at the ICAO line pitch and starting at the same place. The
//! block places the card without the MRZ search; the MRZ is then read once, at its fixed place
//! on the located card (`mrz_reader::reread_td1`), and the search runs only when that fails.

use super::card;
use super::mrz_reader::{PITCH_RATIO, is_line_candidate, merge_collinear, td1_block_aspect};
use crate::ocr::TextBox;
use crate::ocr::geometry::{Homography, Point, Quad};

/// A TD1 block hypothesis in the detector's coordinates.
#[derive(Debug, Clone, Copy)]
pub struct Td1Shape {
    /// First line's top edge to the last line's bottom edge, TL, TR, BR, BL in reading order.
    pub block: Quad,
    /// How far apart the three line starts are, in line heights.
    pub start_spread: f64,
}

/// The most likely TD1 block among `boxes`, in the reading direction that puts the card's
/// other text on the card (the MRZ is at the bottom of a TD1 card, so the wrong direction
/// predicts a card over whatever lies beyond the MRZ). `None` without a TD1-shaped block
/// inside the `(width, height)` image: a block whose far end, extrapolated from lines cut at
/// their fillers, lies outside is other stacked text (a passport's data page) or a card cut off.
pub fn find_td1_block(boxes: &[TextBox], (width, height): (u32, u32)) -> Option<Td1Shape> {
    let lines: Vec<Quad> = merge_collinear(boxes).iter().filter(|b| is_line_candidate(b)).map(|b| b.quad).collect();
    let (above, middle, below) = best_stack(&lines)?;
    let axis = middle.direction();
    let ways = [shape(&above, &middle, &below, axis), shape(&below, &middle, &above, axis.scale(-1.0))];
    let inside = |s: &Td1Shape| {
        let margin = 0.5 * middle.height();
        s.block
            .0
            .iter()
            .all(|p| p.x > -margin && p.y > -margin && p.x < width as f64 + margin && p.y < height as f64 + margin)
    };
    ways.into_iter()
        .flatten()
        .filter(inside)
        .map(|s| (text_on_card(&s.block, boxes), s))
        .max_by(|(na, a), (nb, b)| na.cmp(nb).then(b.start_spread.total_cmp(&a.start_spread)))
        .map(|(_, s)| s)
}

/// The three stacked lines (above, middle, below along the middle line's `perp`) with the
/// largest total length.
fn best_stack(lines: &[Quad]) -> Option<(Quad, Quad, Quad)> {
    let mut best: Option<(f64, (Quad, Quad, Quad))> = None;
    for middle in lines {
        let neighbour = |side: f64| {
            lines.iter().filter(|l| stacks_on(middle, l, side)).max_by(|a, b| a.width().total_cmp(&b.width()))
        };
        let (Some(above), Some(below)) = (neighbour(-1.0), neighbour(1.0)) else { continue };
        let length = above.width() + middle.width() + below.width();
        if best.as_ref().is_none_or(|(l, _)| length > *l) {
            best = Some((length, (*above, *middle, *below)));
        }
    }
    best.map(|(_, s)| s)
}

/// `other` is the next line of an MRZ on `side` (−1 above, +1 below) of `middle`: parallel,
/// of a similar height, one line pitch away and overlapping it along the line.
fn stacks_on(middle: &Quad, other: &Quad, side: f64) -> bool {
    let axis = middle.direction();
    let h = middle.height();
    let offset = other.center().minus(middle.center());
    other.direction().dot(axis).abs() > 0.97
        && (other.height() / h - 1.0).abs() < 0.35
        && (side * offset.dot(axis.perp()) / h - PITCH_RATIO).abs() < 0.45
        && offset.dot(axis).abs() < 0.5 * (middle.width() + other.width()) - 4.0 * h
}

/// Position of a quad's points along `axis` and across it, from `origin`.
struct Extent {
    start: f64,
    end: f64,
    top: f64,
    bottom: f64,
}

fn extent(q: &Quad, origin: Point, axis: Point) -> Extent {
    let along = q.0.map(|p| p.minus(origin).dot(axis));
    let across = q.0.map(|p| p.minus(origin).dot(axis.perp()));
    Extent {
        start: along.iter().copied().fold(f64::MAX, f64::min),
        end: along.iter().copied().fold(f64::MIN, f64::max),
        top: across.iter().copied().fold(f64::MAX, f64::min),
        bottom: across.iter().copied().fold(f64::MIN, f64::max),
    }
}

/// The block of three lines read along `axis` (first, second, third from the top in that
/// reading direction), if they start at the same place. The detector often stops a line at
/// its fillers, so the block's far end comes from its height (ICAO fixes the TD1 geometry)
/// unless the longest line reaches 80 % of that (the detector box height, padded by the
/// unclip, overestimates the block height).
fn shape(first: &Quad, second: &Quad, third: &Quad, axis: Point) -> Option<Td1Shape> {
    let origin = second.center();
    let [a, b, c] = [first, second, third].map(|q| extent(q, origin, axis));
    let h = second.height();
    let mut starts = [a.start, b.start, c.start];
    starts.sort_by(f64::total_cmp);
    let start_spread = (starts[2] - starts[0]) / h;
    if start_spread > 1.2 {
        return None;
    }
    let start = starts[1];
    let (top, bottom) = (a.top, c.bottom);
    let predicted = td1_block_aspect() * (bottom - top);
    let longest = a.end.max(b.end).max(c.end) - start;
    // A passport's 44-character lines are half as long again as a TD1 block of their height.
    if longest > 1.2 * predicted {
        return None;
    }
    let end = start + if longest > 0.8 * predicted { longest } else { predicted };
    let at = |u: f64, v: f64| origin.plus(axis.scale(u)).plus(axis.perp().scale(v));
    Some(Td1Shape { block: Quad([at(start, top), at(end, top), at(end, bottom), at(start, bottom)]), start_spread })
}

/// Detector boxes whose centre lies on the card predicted from `block`, above the MRZ.
fn text_on_card(block: &Quad, boxes: &[TextBox]) -> usize {
    let placement = card::TD1_MRZ_PLACEMENT;
    let (w, h) = (card::RECTIFIED_WIDTH as f64, card::RECTIFIED_HEIGHT as f64);
    let Some(to_card) = Homography::from_points(&block.0, &placement.in_card().0) else { return 0 };
    boxes
        .iter()
        .map(|b| to_card.apply(b.quad.center()))
        .filter(|c| c.x > 0.0 && c.x < w && c.y > 0.0 && c.y < (placement.top - 0.02) * h)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_box(x0: f64, y0: f64, x1: f64, y1: f64) -> TextBox {
        TextBox { quad: Quad::from_rect(x0, y0, x1, y1), score: 0.9 }
    }

    /// A TD1 card 600 px wide at (100, 100): three MRZ lines (26 px high, pitch 30 px, the first
    /// and last cut at their fillers) and a few text boxes above them.
    fn upright_card() -> Vec<TextBox> {
        vec![
            text_box(131.0, 382.0, 560.0, 408.0),
            text_box(131.0, 412.0, 674.0, 438.0),
            text_box(131.0, 442.0, 400.0, 468.0),
            text_box(300.0, 180.0, 420.0, 200.0),
            text_box(300.0, 220.0, 480.0, 240.0),
            text_box(300.0, 260.0, 380.0, 280.0),
        ]
    }

    fn rotated_half_turn(boxes: &[TextBox]) -> Vec<TextBox> {
        let turn = |p: Point| Point::new(1000.0 - p.x, 800.0 - p.y);
        boxes.iter().map(|b| TextBox { quad: Quad(b.quad.0.map(turn)), score: b.score }).collect()
    }

    #[test]
    fn an_upright_block_reads_left_to_right_from_the_aligned_starts() {
        let shape = find_td1_block(&upright_card(), (1000, 800)).expect("block");
        assert!(shape.block.0[0].distance(Point::new(131.0, 382.0)) < 1.0, "{:?}", shape.block);
        assert!(shape.block.direction().x > 0.99);
        assert!(shape.start_spread < 0.1);
    }

    #[test]
    fn an_upside_down_block_reads_the_other_way() {
        let shape = find_td1_block(&rotated_half_turn(&upright_card()), (1000, 800)).expect("block");
        assert!(shape.block.0[0].distance(Point::new(869.0, 418.0)) < 1.0, "{:?}", shape.block);
        assert!(shape.block.direction().x < -0.99);
    }

    #[test]
    fn a_block_reaching_out_of_the_image_is_not_a_td1_block() {
        assert!(find_td1_block(&upright_card(), (600, 800)).is_none());
    }

    #[test]
    fn two_stacked_lines_are_not_a_td1_block() {
        let mut boxes = upright_card();
        boxes.remove(2);
        assert!(find_td1_block(&boxes, (1000, 800)).is_none());
    }

    #[test]
    fn lines_that_start_apart_are_not_a_td1_block() {
        let mut boxes = upright_card();
        boxes[1] = text_box(200.0, 412.0, 674.0, 438.0);
        boxes[2] = text_box(280.0, 442.0, 640.0, 468.0);
        assert!(find_td1_block(&boxes, (1000, 800)).is_none());
    }
}
