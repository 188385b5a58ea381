//! From OCR readings to an MRZ: line lengths restored, characters coerced to what each
//! position allows (0/O, 1/I, 2/Z, 5/S, 8/B, 6/G), fillers misread as letters fixed, and
//! remaining errors repaired only where the check digits single out one correction.
//! A field that still fails its check digit stays failed: it is never reported as valid.

use serde::Serialize;

use super::mrz::{CharKind, Mrz, MrzFormat, MrzLine, check_holds, is_mrz_char};

/// One OCR character with the recognizer's runner-up (the first alternative to try).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OcrChar {
    pub symbol: char,
    pub runner_up: Option<char>,
}

/// What was changed and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repair {
    pub line: usize,
    /// Position in the line; `None` for a change of length.
    pub position: Option<usize>,
    pub from: String,
    pub to: String,
    pub reason: RepairReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairReason {
    /// Fillers added or removed so the line has its nominal length.
    LineLength,
    /// A character impossible at its position replaced by its look-alike.
    CharacterClass,
    /// A letter standing alone among fillers in the name field.
    Filler,
    /// The only substitution that makes a failing check digit hold.
    CheckDigit,
    /// A filler the recognizer dropped from a run, with the line's end pushed out by one
    /// character (a stray mark read past the last character), put back because the check
    /// digits then hold.
    FillerShift,
}

/// An MRZ assembled from OCR lines, with the repairs that were applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepairedMrz {
    pub mrz: Mrz,
    pub repairs: Vec<Repair>,
}

/// Builds the MRZ of `format` from its OCR lines (top to bottom).
pub fn assemble(format: MrzFormat, lines: &[Vec<OcrChar>]) -> Option<RepairedMrz> {
    if lines.len() != format.line_count() {
        return None;
    }
    let mut repairs = Vec::new();
    let mut work: Vec<Vec<OcrChar>> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let cleaned: Vec<OcrChar> = line.iter().filter_map(normalise).collect();
        work.push(fix_length(i, cleaned, format.line_length(), &mut repairs));
    }
    let kinds = format.kinds();
    for (i, line) in work.iter_mut().enumerate() {
        coerce_kinds(i, line, &kinds[i], &mut repairs);
    }
    fix_filler_look_alikes(format, &mut work, &mut repairs);
    fix_name_fillers(format, &mut work, &mut repairs);
    let mut mrz = to_mrz(format, &work)?;
    if !mrz.is_valid() {
        mrz = repair_by_check_digits(format, &work, &kinds, &mut repairs).unwrap_or(mrz);
    }
    if !mrz.is_valid() {
        mrz = realign_fillers(format, &work, &mut repairs).unwrap_or(mrz);
    }
    Some(RepairedMrz { mrz, repairs })
}

fn normalise(c: &OcrChar) -> Option<OcrChar> {
    let map = |ch: char| -> Option<char> {
        let up = ch.to_ascii_uppercase();
        match up {
            '«' | '‹' | '〈' | '(' | '{' | '[' => Some('<'),
            '×' => Some('X'),
            ' ' => None,
            u if is_mrz_char(u) => Some(u),
            _ => None,
        }
    };
    Some(OcrChar { symbol: map(c.symbol)?, runner_up: c.runner_up.and_then(map) })
}

fn filler(c: char) -> OcrChar {
    OcrChar { symbol: c, runner_up: None }
}

/// Restores the nominal length by growing or shrinking the longest run of fillers (where OCR
/// miscounts), else by padding or cutting the end.
fn fix_length(line_no: usize, mut line: Vec<OcrChar>, length: usize, repairs: &mut Vec<Repair>) -> Vec<OcrChar> {
    if line.len() == length {
        return line;
    }
    let before: String = line.iter().map(|c| c.symbol).collect();
    let (start, run) = longest_filler_run(&line);
    if line.len() < length {
        let missing = length - line.len();
        let at = if run > 0 { start } else { line.len() };
        line.splice(at..at, std::iter::repeat_n(filler('<'), missing));
    } else {
        let extra = line.len() - length;
        if run > extra {
            line.drain(start..start + extra);
        } else {
            line.truncate(length);
        }
    }
    repairs.push(Repair {
        line: line_no,
        position: None,
        from: before,
        to: line.iter().map(|c| c.symbol).collect(),
        reason: RepairReason::LineLength,
    });
    line
}

fn longest_filler_run(line: &[OcrChar]) -> (usize, usize) {
    let (mut best, mut start, mut run) = ((0, 0), 0, 0);
    for (i, c) in line.iter().enumerate() {
        if c.symbol == '<' {
            if run == 0 {
                start = i;
            }
            run += 1;
            if run > best.1 {
                best = (start, run);
            }
        } else {
            run = 0;
        }
    }
    best
}

/// The look-alike of `c` that `kind` allows, if `c` itself is not allowed.
pub fn look_alike(c: char, kind: CharKind) -> Option<char> {
    match kind {
        CharKind::Digit => match c {
            'O' | 'D' | 'Q' | 'U' => Some('0'),
            'I' | 'L' | 'T' | 'J' => Some('1'),
            'Z' => Some('2'),
            'S' => Some('5'),
            'B' => Some('8'),
            'G' => Some('6'),
            'A' => Some('4'),
            _ => None,
        },
        CharKind::Alpha => match c {
            '0' => Some('O'),
            '1' => Some('I'),
            '2' => Some('Z'),
            '5' => Some('S'),
            '8' => Some('B'),
            '6' => Some('G'),
            '4' => Some('A'),
            '7' => Some('T'),
            _ => None,
        },
        CharKind::Sex => match c {
            'H' | 'N' => Some('M'),
            'E' | 'P' => Some('F'),
            'K' | 'C' => Some('<'),
            _ => None,
        },
        CharKind::Any => None,
    }
}

pub fn allowed(c: char, kind: CharKind) -> bool {
    match kind {
        CharKind::Alpha => c.is_ascii_uppercase() || c == '<',
        CharKind::Digit => c.is_ascii_digit() || c == '<',
        CharKind::Sex => matches!(c, 'M' | 'F' | 'X' | '<'),
        CharKind::Any => is_mrz_char(c),
    }
}

fn coerce_kinds(line_no: usize, line: &mut [OcrChar], kinds: &[CharKind], repairs: &mut Vec<Repair>) {
    for (pos, (c, &kind)) in line.iter_mut().zip(kinds).enumerate() {
        if allowed(c.symbol, kind) {
            continue;
        }
        let replacement = c.runner_up.filter(|&r| allowed(r, kind) && r != '<').or_else(|| look_alike(c.symbol, kind));
        if let Some(to) = replacement {
            repairs.push(Repair {
                line: line_no,
                position: Some(pos),
                from: c.symbol.to_string(),
                to: to.to_string(),
                reason: RepairReason::CharacterClass,
            });
            *c = OcrChar { symbol: to, runner_up: Some(c.symbol) };
        }
    }
}

/// A filler read as K, C or E whose runner-up is the filler itself.
fn is_filler_look_alike(c: &OcrChar) -> bool {
    matches!(c.symbol, 'K' | 'C' | 'E') && c.runner_up == Some('<')
}

/// Where no check digit can tell a filler from its look-alikes, the runner-up decides. The
/// name field has no check digit at all; in optional data a check digit cannot see `<` read
/// as `K` (values 0 and 20 weigh alike modulo 10), so there only the trailing padding of the
/// field is mended: fields are left-aligned and padded with fillers.
fn fix_filler_look_alikes(format: MrzFormat, lines: &mut [Vec<OcrChar>], repairs: &mut Vec<Repair>) {
    let (name_line, name_start) = name_field(format);
    let line = &mut lines[name_line];
    for pos in name_start..line.len() {
        if is_filler_look_alike(&line[pos]) {
            mend_filler(name_line, pos, line, repairs);
        }
    }
    for (line_no, range) in optional_data_fields(format) {
        let line = &mut lines[line_no];
        for pos in range.clone().rev() {
            match line[pos].symbol {
                '<' => {}
                _ if is_filler_look_alike(&line[pos]) && pos > range.start && line[pos - 1].symbol == '<' => {
                    mend_filler(line_no, pos, line, repairs)
                }
                _ => break,
            }
        }
    }
}

/// Replaces `line[pos]` by a filler and records the repair.
fn mend_filler(line_no: usize, pos: usize, line: &mut [OcrChar], repairs: &mut Vec<Repair>) {
    repairs.push(Repair {
        line: line_no,
        position: Some(pos),
        from: line[pos].symbol.to_string(),
        to: "<".into(),
        reason: RepairReason::Filler,
    });
    line[pos] = filler('<');
}

/// The name field as (line, first position); it runs to the end of that line.
fn name_field(format: MrzFormat) -> (usize, usize) {
    match format {
        MrzFormat::Td1 => (2, 0),
        _ => (0, 5),
    }
}

/// Optional data fields as (line, positions).
fn optional_data_fields(format: MrzFormat) -> Vec<(usize, std::ops::Range<usize>)> {
    match format {
        MrzFormat::Td1 => vec![(0, 15..30), (1, 18..29)],
        MrzFormat::Td2 => vec![(1, 28..35)],
        MrzFormat::Td3 => vec![(1, 28..42)],
    }
}

/// In the name field a lone letter between filler runs, after the given names, is a filler
/// misread (`<` read as K, C or E).
fn fix_name_fillers(format: MrzFormat, lines: &mut [Vec<OcrChar>], repairs: &mut Vec<Repair>) {
    let (line_no, start) = name_field(format);
    let line = &mut lines[line_no];
    let text: Vec<char> = line.iter().map(|c| c.symbol).collect();
    let Some(separator) = find_double_filler(&text, start) else { return };
    for pos in separator + 3..text.len() {
        let lone = text[pos] != '<'
            && text[pos - 1] == '<'
            && text[pos - 2] == '<'
            && text.get(pos + 1).is_none_or(|&c| c == '<')
            && text.get(pos + 2).is_none_or(|&c| c == '<')
            && text[separator + 2..pos - 1].iter().any(|&c| c != '<');
        if lone {
            mend_filler(line_no, pos, line, repairs);
        }
    }
}

fn find_double_filler(text: &[char], start: usize) -> Option<usize> {
    (start..text.len().saturating_sub(1)).find(|&i| text[i] == '<' && text[i + 1] == '<' && i > start)
}

fn to_mrz(format: MrzFormat, lines: &[Vec<OcrChar>]) -> Option<Mrz> {
    let parsed = lines
        .iter()
        .map(|l| MrzLine::parse(&l.iter().map(|c| c.symbol).collect::<String>()))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Mrz::new(format, parsed).ok()
}

/// Alternatives for one position: the recognizer's runner-up first, then look-alikes.
fn alternatives(c: &OcrChar, kind: CharKind) -> Vec<char> {
    let mut alts = Vec::new();
    if let Some(r) = c.runner_up.filter(|&r| allowed(r, kind) && r != c.symbol) {
        alts.push(r);
    }
    let pairs: &[(char, char)] =
        &[('0', 'O'), ('0', 'D'), ('1', 'I'), ('2', 'Z'), ('5', 'S'), ('8', 'B'), ('6', 'G'), ('0', 'Q')];
    for &(a, b) in pairs {
        let other = if c.symbol == a {
            Some(b)
        } else if c.symbol == b {
            Some(a)
        } else {
            None
        };
        if let Some(o) = other.filter(|&o| allowed(o, kind) && !alts.contains(&o)) {
            alts.push(o);
        }
    }
    alts
}

/// Tries single (then double) substitutions at check-digit-covered positions and keeps the
/// cheapest one that makes the whole MRZ valid, but only when no other is as cheap: when two
/// corrections are equally likely the check digits cannot tell, and the MRZ stays invalid.
/// The recognizer's runner-up costs 1, a look-alike it did not propose costs 2.
fn repair_by_check_digits(
    format: MrzFormat,
    lines: &[Vec<OcrChar>],
    kinds: &[Vec<CharKind>],
    repairs: &mut Vec<Repair>,
) -> Option<Mrz> {
    let candidates: Vec<Substitution> = checked_positions(format)
        .into_iter()
        .flat_map(|(l, p)| {
            let c = lines[l][p];
            alternatives(&c, kinds[l][p]).into_iter().map(move |to| Substitution {
                line: l,
                position: p,
                to,
                cost: if c.runner_up == Some(to) { 1 } else { 2 },
            })
        })
        .collect();
    let mut solutions: Vec<(u32, Mrz, Vec<Substitution>)> = Vec::new();
    for depth in 1..=2 {
        for (i, a) in candidates.iter().enumerate() {
            let seconds: Vec<Option<&Substitution>> = if depth == 1 {
                vec![None]
            } else {
                candidates[i + 1..].iter().filter(|b| (b.line, b.position) != (a.line, a.position)).map(Some).collect()
            };
            for b in seconds {
                let mut changed = vec![*a];
                changed.extend(b.copied());
                if let Some(mrz) = try_substitutions(format, lines, &changed) {
                    solutions.push((changed.iter().map(|s| s.cost).sum(), mrz, changed));
                }
            }
        }
        if !solutions.is_empty() {
            break;
        }
    }
    solutions.sort_by_key(|s| s.0);
    let unique = solutions.len() == 1 || solutions.get(1).is_some_and(|s| s.0 > solutions[0].0);
    let (_, mrz, changed) = solutions.into_iter().next().filter(|_| unique)?;
    repairs.extend(changed.iter().map(|s| Repair {
        line: s.line,
        position: Some(s.position),
        from: lines[s.line][s.position].symbol.to_string(),
        to: s.to.to_string(),
        reason: RepairReason::CheckDigit,
    }));
    Some(mrz)
}

/// CTC merges two fillers where it sees no gap between them: the rest of the line moves one
/// place left and whatever lies past the last character (the card edge, a shadow) fills the
/// end. Puts the filler back in one run and drops the last character; kept only when exactly
/// one such shift, over all runs of all lines, makes the MRZ valid with plausible dates.
fn realign_fillers(format: MrzFormat, lines: &[Vec<OcrChar>], repairs: &mut Vec<Repair>) -> Option<Mrz> {
    let mut trial = lines.to_vec();
    let mut solutions: Vec<(usize, Mrz)> = Vec::new();
    for (l, line) in lines.iter().enumerate() {
        for start in filler_run_starts(line) {
            trial[l].insert(start, filler('<'));
            trial[l].pop();
            if let Some(mrz) = to_mrz(format, &trial).filter(|m| m.is_valid() && plausible_dates(m)) {
                solutions.push((l, mrz));
            }
            trial[l].clone_from(line);
        }
    }
    if solutions.len() != 1 {
        return None;
    }
    let (l, mrz) = solutions.pop()?;
    repairs.push(Repair {
        line: l,
        position: None,
        from: lines[l].iter().map(|c| c.symbol).collect(),
        to: mrz.line_strings()[l].clone(),
        reason: RepairReason::FillerShift,
    });
    Some(mrz)
}

/// Where each run of at least two fillers in `line` begins, past the line's first character
/// (CTC merges a filler into a neighbouring one; a lone filler at the start is more likely a
/// lost document code) and not ending the line (which would push nothing).
fn filler_run_starts(line: &[OcrChar]) -> Vec<usize> {
    let is_filler = |i: usize| line.get(i).is_some_and(|c| c.symbol == '<');
    (1..line.len())
        .filter(|&i| is_filler(i) && !is_filler(i - 1))
        .filter(|&i| {
            let end = (i..line.len()).find(|&j| !is_filler(j)).unwrap_or(line.len());
            end - i >= 2 && end < line.len()
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Substitution {
    line: usize,
    position: usize,
    to: char,
    cost: u32,
}

fn try_substitutions(format: MrzFormat, lines: &[Vec<OcrChar>], changes: &[Substitution]) -> Option<Mrz> {
    let mut trial: Vec<Vec<OcrChar>> = lines.to_vec();
    for s in changes {
        trial[s.line][s.position] = filler(s.to);
    }
    to_mrz(format, &trial).filter(|m| m.is_valid() && plausible_dates(m))
}

/// Positions covered by some check digit (a change anywhere else cannot be verified).
fn checked_positions(format: MrzFormat) -> Vec<(usize, usize)> {
    let spans: Vec<(usize, std::ops::Range<usize>)> = match format {
        MrzFormat::Td1 => vec![(0, 5..30), (1, 0..7), (1, 8..15), (1, 18..30)],
        MrzFormat::Td2 => vec![(1, 0..10), (1, 13..20), (1, 21..36)],
        MrzFormat::Td3 => vec![(1, 0..10), (1, 13..20), (1, 21..44)],
    };
    spans.into_iter().flat_map(|(l, r)| r.map(move |p| (l, p))).collect()
}

/// Birth and expiry dates that are calendar dates (a chance match of a check digit usually is not).
pub fn plausible_dates(mrz: &Mrz) -> bool {
    let f = mrz.fields();
    [f.date_of_birth, f.date_of_expiry].iter().all(|d| plausible_yymmdd(d))
}

fn plausible_yymmdd(d: &str) -> bool {
    let num = |s: &str| s.parse::<u32>().ok();
    match (d.get(2..4).and_then(num), d.get(4..6).and_then(num)) {
        (Some(m), Some(day)) => (1..=12).contains(&m) && (1..=31).contains(&day),
        _ => false,
    }
}

/// Whether `field` with check digit `digit` holds (re-exported for callers that report checks).
pub fn holds(field: &str, digit: char) -> bool {
    check_holds(field, digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ocr(text: &str) -> Vec<OcrChar> {
        text.chars().map(|c| OcrChar { symbol: c, runner_up: None }).collect()
    }

    const TD1: [&str; 3] =
        ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];

    #[test]
    fn clean_lines_need_no_repair() {
        let r = assemble(MrzFormat::Td1, &TD1.map(ocr)).expect("assembled");
        assert!(r.repairs.is_empty());
        assert!(r.mrz.is_valid());
    }

    #[test]
    fn letters_in_dates_and_digits_in_names_are_coerced() {
        let lines = [ocr(TD1[0]), ocr("74O8I22F12O4159UT0<<<<<<<<<<<6"), ocr("ER1KSSON<<ANNA<MAR1A<<<<<<<<<<")];
        let r = assemble(MrzFormat::Td1, &lines).expect("assembled");
        assert_eq!(r.mrz.line_strings(), TD1.map(String::from).to_vec());
        assert!(r.mrz.is_valid());
        assert!(r.repairs.iter().all(|x| x.reason == RepairReason::CharacterClass));
    }

    #[test]
    fn miscounted_fillers_are_restored() {
        let lines = [ocr("I<UTOD231458907<<<<<<<<<<<<<"), ocr("7408122F1204159UTO<<<<<<<<<<<<<6"), ocr(TD1[2])];
        let r = assemble(MrzFormat::Td1, &lines).expect("assembled");
        assert_eq!(r.mrz.line_strings(), TD1.map(String::from).to_vec());
        assert_eq!(r.repairs.iter().filter(|x| x.reason == RepairReason::LineLength).count(), 2);
    }

    /// The TD1 MRZ of the rotated card on wood with the given second line as read.
    fn assemble_td1_with_line_2(line_2: &str) -> RepairedMrz {
        let lines = [ocr("I<UTOKCJCEACDR1<<<<<<<<<<<<<<<"), ocr(line_2), ocr("JONSDOTTIR<<OLAFUR<<<<<<<<<<<<")];
        assemble(MrzFormat::Td1, &lines).expect("assembled")
    }

    #[test]
    fn a_dropped_filler_with_a_stray_last_character_is_put_back() {
        // A real misreading (rotated card on wood): one filler of line 2 merged away, an X
        // read past the composite check digit.
        let r = assemble_td1_with_line_2("7103232M2612292ISL<<<<<<<<<<0X");
        assert!(r.mrz.is_valid());
        assert_eq!(r.mrz.line_strings()[1], "7103232M2612292ISL<<<<<<<<<<<0");
        assert_eq!(r.repairs.last().map(|x| x.reason), Some(RepairReason::FillerShift));
    }

    #[test]
    fn a_shift_that_breaks_the_check_digits_is_not_made() {
        let r = assemble_td1_with_line_2("7103232M2612292ISL<<<<<<<<<<7X");
        assert!(r.repairs.iter().all(|x| x.reason != RepairReason::FillerShift));
    }

    #[test]
    fn filler_read_as_letter_in_names_is_repaired() {
        let lines = [ocr(TD1[0]), ocr(TD1[1]), ocr("ERIKSSON<<ANNA<MARIA<<<K<<<<<<")];
        let r = assemble(MrzFormat::Td1, &lines).expect("assembled");
        assert_eq!(r.mrz.line_strings()[2], TD1[2]);
    }

    /// `text` whose characters at `positions` have `<` as the recognizer's runner-up.
    fn ocr_with_filler_runner_up(text: &str, positions: &[usize]) -> Vec<OcrChar> {
        let mut chars = ocr(text);
        for &p in positions {
            chars[p].runner_up = Some('<');
        }
        chars
    }

    #[test]
    fn name_fillers_read_as_k_with_filler_runner_up_are_repaired() {
        // As read from a glare-struck synthetic card: the separator `<<` read as `KK`.
        let name = ocr_with_filler_runner_up("ERIKSSONKKANNAKMARIA<<<<<<<KK<", &[8, 9, 14, 27, 28]);
        let r = assemble(MrzFormat::Td1, &[ocr(TD1[0]), ocr(TD1[1]), name]).expect("assembled");
        assert_eq!(r.mrz.line_strings()[2], TD1[2]);
        assert!(r.mrz.is_valid());
    }

    #[test]
    fn a_k_in_a_name_without_filler_runner_up_stays() {
        let name = ocr_with_filler_runner_up("KARLSSON<<ANNA<MARIA<<<<<<<<<<", &[9]);
        let r = assemble(MrzFormat::Td1, &[ocr(TD1[0]), ocr(TD1[1]), name]).expect("assembled");
        assert_eq!(r.mrz.fields().surname, "KARLSSON");
    }

    #[test]
    fn trailing_k_in_optional_data_is_a_filler() {
        // `<` and `K` weigh alike in a check digit (0 and 20 modulo 10): only the runner-up
        // and the padding tell them apart.
        let line1 = ocr_with_filler_runner_up("I<UTOD231458907<<<<<<<<<<<<<<K", &[29]);
        let r = assemble(MrzFormat::Td1, &[line1, ocr(TD1[1]), ocr(TD1[2])]).expect("assembled");
        assert_eq!(r.mrz.line_strings()[0], TD1[0]);
        // Content of the field is not padding: a K inside it stays even with that runner-up.
        let line1 = ocr_with_filler_runner_up("I<UTOD231458907AK<<<<<<<<<<<<<", &[16]);
        let r = assemble(MrzFormat::Td1, &[line1, ocr(TD1[1]), ocr(TD1[2])]).expect("assembled");
        assert_eq!(&r.mrz.line_strings()[0][15..17], "AK");
    }

    #[test]
    fn check_digit_picks_the_one_document_number_that_validates() {
        // 8 read as B inside the alphanumeric document number: only B→8 makes the check hold.
        let mut l1 = ocr("I<UTOD23145B907<<<<<<<<<<<<<<<");
        l1[11].runner_up = Some('8');
        let lines = [l1, ocr(TD1[1]), ocr(TD1[2])];
        let r = assemble(MrzFormat::Td1, &lines).expect("assembled");
        assert!(r.mrz.is_valid());
        assert_eq!(r.mrz.fields().document_number, "D23145890");
        assert!(r.repairs.iter().any(|x| x.reason == RepairReason::CheckDigit && x.from == "B" && x.to == "8"));
    }

    #[test]
    fn ambiguous_corrections_are_refused() {
        // Without the recognizer's runner-up, D→0 and B→8 both satisfy the check digits here.
        let lines = [ocr("I<UTOD23145B907<<<<<<<<<<<<<<<"), ocr(TD1[1]), ocr(TD1[2])];
        let r = assemble(MrzFormat::Td1, &lines).expect("assembled");
        assert!(!r.mrz.is_valid());
    }

    #[test]
    fn an_unrepairable_error_stays_invalid() {
        // A wrong digit with no look-alike and no runner-up: nothing may claim it is valid.
        let lines = [ocr(TD1[0]), ocr("7408192F1204159UTO<<<<<<<<<<<6"), ocr(TD1[2])];
        let r = assemble(MrzFormat::Td1, &lines).expect("assembled");
        assert!(!r.mrz.is_valid());
        assert!(!r.mrz.checks().date_of_birth);
    }

    #[test]
    fn runner_up_fixes_a_date_digit() {
        let mut l2 = ocr("7408192F1204159UTO<<<<<<<<<<<6");
        l2[5].runner_up = Some('2');
        let r = assemble(MrzFormat::Td1, &[ocr(TD1[0]), l2, ocr(TD1[2])]).expect("assembled");
        assert!(r.mrz.is_valid());
        assert_eq!(r.mrz.fields().date_of_birth, "740812");
    }

    #[test]
    fn td3_with_confusions_is_repaired() {
        let lines =
            [ocr("P<UT0ERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"), ocr("L898902C36UTO74O8122F1204159ZE184226B<<<<<10")];
        let r = assemble(MrzFormat::Td3, &lines).expect("assembled");
        assert!(r.mrz.is_valid(), "{:?}", r.mrz.checks());
        assert_eq!(r.mrz.fields().issuing_state, "UTO");
    }
}
