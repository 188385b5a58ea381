//! Printed fields whose label the text detector missed, found by what their value looks like.
//!
//! Card labels are small and faint (about 8 px high on the 1200-pixel card) and are often not
//! detected at all, while the values below them are. A value line is then recognised by its
//! form: dates (assigned birth < issue < expiry by their order in time), a country code, a sex
//! letter, a document number. Names have no telling form, so they are taken only with an MRZ:
//! the line closest to the MRZ's name, if close enough. That keeps the cross-check meaningful:
//! a name one or two letters off the MRZ's is still found and reported as a disagreement.

use super::checks::mrz_date_to_iso;
use super::countries::is_mrz_country;
use super::fields::{FieldName, PrintedField, mrz_form_of_name, parse_printed_date};
use super::mrz::MrzFields;
use crate::ocr::TextLine;

/// Largest edit distance, as a share of the MRZ value's length, for a line to count as that
/// name or document number.
const MAX_DISTANCE_SHARE: f64 = 0.34;
/// Without a label only a confidently read line is taken (stray marks read as "M" are not).
const MIN_CONFIDENCE: f32 = 0.8;
/// Years between birth and issue beyond which the earlier of two dates is the birth date.
const BIRTH_GAP_YEARS: i32 = 12;

/// Adds to `found` the fields it lacks, from the lines not `used` by a labelled field.
pub fn add_unlabelled(
    lines: &[TextLine],
    used: &mut [bool],
    found: &mut Vec<PrintedField>,
    mrz: Option<&MrzFields>,
    today: &str,
) {
    let missing = |found: &[PrintedField], name: FieldName| !found.iter().any(|f| f.name == name);
    let free: Vec<usize> = reading_order(lines)
        .into_iter()
        .filter(|&i| !used[i] && lines[i].recognition.confidence >= MIN_CONFIDENCE)
        .collect();
    // Dates after this are expiry dates: today, or with an MRZ a year before its expiry (an
    // old specimen's dates all lie in the past).
    let expiry_after = mrz
        .and_then(|m| mrz_date_to_iso(&m.date_of_expiry, false, today))
        .and_then(|e| Some(format!("{:04}{}", e.get(..4)?.parse::<i32>().ok()? - 1, e.get(4..)?)))
        .unwrap_or_else(|| today.to_string());
    add_dates(lines, &free, used, found, &expiry_after);
    if missing(found, FieldName::Sex) {
        take_best(lines, &free, used, found, FieldName::Sex, |t| is_sex(t).then_some(0));
    }
    if missing(found, FieldName::Nationality) {
        take_best(lines, &free, used, found, FieldName::Nationality, |t| country(t, mrz));
    }
    if missing(found, FieldName::DocumentNumber) {
        take_best(lines, &free, used, found, FieldName::DocumentNumber, |t| document_number(t, mrz));
    }
    if let Some(m) = mrz {
        for (name, mrz_name) in [(FieldName::Surname, &m.surname), (FieldName::GivenNames, &m.given_names)] {
            if missing(found, name) && !mrz_name.is_empty() {
                take_best(lines, &free, used, found, name, |t| name_distance(t, mrz_name));
            }
        }
    }
}

fn reading_order(lines: &[TextLine]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lines.len()).collect();
    let key = |i: usize| {
        let (x0, y0, _, _) = lines[i].quad.bounding_box();
        (y0, x0)
    };
    order.sort_by(|&a, &b| key(a).0.total_cmp(&key(b).0).then(key(a).1.total_cmp(&key(b).1)));
    order
}

fn take_best(
    lines: &[TextLine],
    free: &[usize],
    used: &mut [bool],
    found: &mut Vec<PrintedField>,
    name: FieldName,
    score: impl Fn(&str) -> Option<usize>,
) {
    // `score`: lower is better, `None` is not this field. Reading order breaks ties: the
    // first of equal candidates wins.
    let best = free
        .iter()
        .filter(|&&i| !used[i])
        .filter_map(|&i| Some((score(lines[i].recognition.text.trim())?, i)))
        .min_by_key(|&(s, _)| s);
    if let Some((_, i)) = best {
        used[i] = true;
        found.push(field(name, &lines[i]));
    }
}

fn field(name: FieldName, line: &TextLine) -> PrintedField {
    PrintedField {
        name,
        label: String::new(),
        value: line.recognition.text.trim().to_string(),
        confidence: line.recognition.confidence,
    }
}

/// Unlabelled dates, in time order, given to the date fields still missing in their natural
/// order (birth, issue, expiry). With fewer dates than fields the gaps decide: a date more
/// than [`BIRTH_GAP_YEARS`] before the next is a birth date, a late one an expiry.
fn add_dates(lines: &[TextLine], free: &[usize], used: &mut [bool], found: &mut Vec<PrintedField>, expiry_after: &str) {
    let mut dates: Vec<(String, usize)> =
        free.iter().filter_map(|&i| Some((parse_printed_date(&lines[i].recognition.text)?, i))).collect();
    dates.sort();
    let missing: Vec<FieldName> = [FieldName::DateOfBirth, FieldName::DateOfIssue, FieldName::DateOfExpiry]
        .into_iter()
        .filter(|n| !found.iter().any(|f| f.name == *n))
        .collect();
    let isos: Vec<&str> = dates.iter().map(|(d, _)| d.as_str()).collect();
    let Some(names) = assign_dates(&isos, &missing, expiry_after) else { return };
    for ((_, i), name) in dates.iter().zip(names) {
        used[*i] = true;
        found.push(field(name, &lines[*i]));
    }
}

/// Which missing date field each date (ISO, sorted) is; `None` when they cannot be told apart.
/// A last date after `expiry_after` is an expiry date, else an issue date.
fn assign_dates(dates: &[&str], missing: &[FieldName], expiry_after: &str) -> Option<Vec<FieldName>> {
    use FieldName::{DateOfBirth as Birth, DateOfExpiry as Expiry, DateOfIssue as Issue};
    if dates.is_empty() || dates.len() > missing.len() {
        return None;
    }
    if dates.len() == missing.len() {
        return Some(missing.to_vec());
    }
    let year = |d: &str| d.get(..4).and_then(|y| y.parse::<i32>().ok()).unwrap_or(0);
    let last = *dates.last()?;
    let last_name = if last > expiry_after { Expiry } else { Issue };
    let names = match dates {
        [_] if last_name == Issue && year(expiry_after) - year(last) > BIRTH_GAP_YEARS => vec![Birth],
        [_] => vec![last_name],
        [first, second] if year(second) - year(first) > BIRTH_GAP_YEARS => vec![Birth, last_name],
        [_, _] => vec![Issue, Expiry],
        _ => return None,
    };
    names.iter().all(|n| missing.contains(n)).then_some(names)
}

/// "M", "F", "X", "F/F" (read "FIF" when the slash is lost).
fn is_sex(text: &str) -> bool {
    let t: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    match t.as_slice() {
        [c] => matches!(c, 'M' | 'F' | 'X'),
        [a, sep, b] => a == b && matches!(a, 'M' | 'F' | 'X') && matches!(sep, '/' | 'I' | 'l' | '|' | '1'),
        _ => false,
    }
}

/// A three-letter ICAO country code; the MRZ's nationality first.
fn country(text: &str, mrz: Option<&MrzFields>) -> Option<usize> {
    let is_code = text.len() == 3 && text.chars().all(|c| c.is_ascii_uppercase()) && is_mrz_country(text);
    is_code.then(|| usize::from(mrz.is_some_and(|m| m.nationality.trim_end_matches('<') != text)))
}

/// Six to twelve capitals and digits, not a date; with an MRZ, one close to its document
/// number (the closest first), without one at least three digits.
fn document_number(text: &str, mrz: Option<&MrzFields>) -> Option<usize> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let shaped = (6..=12).contains(&t.len())
        && t.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && t.chars().filter(char::is_ascii_digit).count() >= if mrz.is_some() { 1 } else { 3 };
    if !shaped || parse_printed_date(&t).is_some() {
        return None;
    }
    match mrz {
        // With an MRZ, only a number close to its own: a stray fragment of a date is not one.
        Some(m) => {
            let d = edit_distance(&t, &m.document_number);
            (d as f64 <= MAX_DISTANCE_SHARE * m.document_number.len() as f64).then_some(d)
        }
        None => Some(0),
    }
}

/// Edit distance (scaled by 1000) between a line read as a name and the MRZ's name, spaces
/// ignored (the recognizer drops them); `None` beyond [`MAX_DISTANCE_SHARE`].
fn name_distance(text: &str, mrz_name: &str) -> Option<usize> {
    let shaped = text.chars().any(char::is_alphabetic)
        && text.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’'));
    if !shaped {
        return None;
    }
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let (printed, mrz) = (squash(&mrz_form_of_name(text)), squash(mrz_name));
    let d = edit_distance(&printed, &mrz) as f64 / mrz.chars().count().max(1) as f64;
    (d <= MAX_DISTANCE_SHARE).then_some((d * 1000.0) as usize)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use FieldName::{DateOfBirth as Birth, DateOfExpiry as Expiry, DateOfIssue as Issue};

    #[test]
    fn dates_without_labels_go_by_their_order_in_time() {
        let all = [Birth, Issue, Expiry];
        let today = "2026-12-07";
        assert_eq!(assign_dates(&["1974-04-11", "2018-05-01", "2028-04-30"], &all, today), Some(all.to_vec()));
        assert_eq!(assign_dates(&["1974-04-11", "2028-04-30"], &all, today), Some(vec![Birth, Expiry]));
        assert_eq!(assign_dates(&["2018-05-01", "2028-04-30"], &all, today), Some(vec![Issue, Expiry]));
        assert_eq!(assign_dates(&["2028-04-30"], &all, today), Some(vec![Expiry]));
        assert_eq!(assign_dates(&["1974-04-11"], &all, today), Some(vec![Birth]));
        // Birth already labelled: the two left are issue and expiry.
        assert_eq!(assign_dates(&["2018-05-01", "2028-04-30"], &[Issue, Expiry], today), Some(vec![Issue, Expiry]));
        assert_eq!(assign_dates(&["1974-04-11", "2028-04-30"], &[Expiry], today), None);
        // An old specimen: the MRZ expiry (2008) rather than today places a lone 1998 date.
        assert_eq!(assign_dates(&["1998-07-27"], &all, "2007-07-27"), Some(vec![Issue]));
    }

    #[test]
    fn values_are_told_by_their_form() {
        assert!(is_sex("F") && is_sex("M/M") && is_sex("FIF") && !is_sex("FM") && !is_sex("NLD"));
        assert_eq!(country("NLD", None), Some(0));
        assert_eq!(country("NLX", None), None);
        assert_eq!(document_number("079448240", None), Some(0));
        assert_eq!(document_number("11041974", None), None);
        assert_eq!(document_number("BAKKER", None), None);
        let mrz = MrzFields { document_number: "DFYWC4T8N".into(), ..MrzFields::default() };
        assert_eq!(document_number("DFYWC4T8M", Some(&mrz)), Some(1));
        assert_eq!(document_number("2208201", Some(&mrz)), None);
    }

    #[test]
    fn a_name_is_taken_only_when_close_to_the_mrz_name() {
        assert_eq!(name_distance("BAKKER", "BAKKER"), Some(0));
        assert!(name_distance("BAKKFR", "BAKKER").is_some());
        assert_eq!(name_distance("NEDERLAND", "BAKKER"), None);
        assert_eq!(name_distance("LAERDALSAETHER", "LAERDAL SAETHER"), Some(0));
        assert_eq!(name_distance("SØRINE METTE", "SOERINE METTE"), Some(0));
        assert_eq!(name_distance("079448240", "BAKKER"), None);
    }
}
