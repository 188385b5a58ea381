//! Document checks (stable reason codes) and the normalised data: MRZ and printed fields
//! merged, with where each value came from.

use std::collections::BTreeMap;

use serde::Serialize;

use super::fields::{FieldName, PrintedField, mrz_form_of_name, parse_printed_date, parse_sex};
use super::mrz::CharKind;
use super::mrz::Mrz;
use super::mrz_repair::look_alike;
use super::names::restore_name;

/// A finding about the document itself (not the photo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentCheck {
    DocumentExpired,
    MrzChecksumFailed,
    MrzPrintedMismatch,
    MrzNotFound,
}

impl DocumentCheck {
    pub fn code(self) -> &'static str {
        match self {
            DocumentCheck::DocumentExpired => "document_expired",
            DocumentCheck::MrzChecksumFailed => "mrz_checksum_failed",
            DocumentCheck::MrzPrintedMismatch => "mrz_printed_mismatch",
            DocumentCheck::MrzNotFound => "mrz_not_found",
        }
    }
}

/// Where a normalised value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Mrz,
    Printed,
    BothAgree,
    /// Both were read and differ; the MRZ value is given when its check digit holds.
    Disagree,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldValue {
    pub value: String,
    pub source: Source,
}

/// A calendar date as `YYYY-MM-DD`, today's date in UTC.
pub fn today_utc() -> String {
    let days =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0)
            as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 → (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// MRZ YYMMDD → ISO. Birth dates lie in the past (century chosen so); expiry dates within
/// 50 years of today.
pub fn mrz_date_to_iso(yymmdd: &str, is_birth: bool, today: &str) -> Option<String> {
    if yymmdd.len() != 6 || !yymmdd.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let yy: i64 = yymmdd[0..2].parse().ok()?;
    let this_year: i64 = today.get(0..4)?.parse().ok()?;
    let century = this_year / 100 * 100;
    let mut year = century + yy;
    if is_birth && format!("{year:04}-{}-{}", &yymmdd[2..4], &yymmdd[4..6]).as_str() > today {
        year -= 100;
    }
    if !is_birth && year > this_year + 50 {
        year -= 100;
    }
    Some(format!("{year:04}-{}-{}", &yymmdd[2..4], &yymmdd[4..6]))
}

/// Merges MRZ and printed fields into the normalised data and lists disagreements.
pub fn merge(
    mrz: Option<&Mrz>,
    printed: &[PrintedField],
    today: &str,
) -> (BTreeMap<String, FieldValue>, Vec<FieldName>) {
    let mut data = BTreeMap::new();
    let mut mismatches = Vec::new();
    let printed_of = |name: FieldName| printed.iter().find(|p| p.name == name);
    let mrz_fields = mrz.map(|m| (m.fields(), m.checks()));
    for name in FieldName::ALL {
        let from_printed = printed_of(name).and_then(|p| normalise_printed(name, &p.value));
        let from_mrz = mrz_fields.as_ref().and_then(|(f, c)| mrz_value(name, f, c, today));
        let value = match (from_mrz, from_printed) {
            (Some(m), Some(p)) => {
                let is_name = matches!(name, FieldName::Surname | FieldName::GivenNames);
                let restored = is_name.then(|| {
                    let state = mrz_fields.as_ref().map_or("", |(f, _)| f.issuing_state.trim_end_matches('<'));
                    // The raw printed name: upper-casing first would turn a misread l for I into L.
                    restore_name(printed_of(name).map_or("", |f| f.value.as_str()), &m, state)
                });
                if let Some(restored) = restored.flatten() {
                    // Names keep the printed form (accents), mended where the MRZ shows
                    // what the recognizer lost.
                    FieldValue { value: restored.to_uppercase(), source: Source::BothAgree }
                } else if agrees(name, &m, &p) {
                    // A name that agrees only with its spaces ignored takes the MRZ's form.
                    FieldValue { value: m, source: Source::BothAgree }
                } else {
                    mismatches.push(name);
                    FieldValue { value: m, source: Source::Disagree }
                }
            }
            (Some(m), None) => FieldValue { value: m, source: Source::Mrz },
            (None, Some(p)) => FieldValue { value: p, source: Source::Printed },
            (None, None) => continue,
        };
        data.insert(name.key().to_string(), value);
    }
    (data, mismatches)
}

fn normalise_printed(name: FieldName, raw: &str) -> Option<String> {
    let raw = raw.trim();
    match name {
        FieldName::DateOfBirth | FieldName::DateOfExpiry | FieldName::DateOfIssue => parse_printed_date(raw),
        FieldName::Sex => parse_sex(raw),
        FieldName::Nationality | FieldName::DocumentNumber => {
            Some(raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase())
                .filter(|s| !s.is_empty())
        }
        FieldName::Surname | FieldName::GivenNames => Some(raw.to_uppercase()).filter(|s| !s.is_empty()),
    }
}

/// The MRZ's value for a field, only when a check digit protects it and holds, or when no
/// check digit covers it (names, nationality, sex).
fn mrz_value(name: FieldName, f: &super::mrz::MrzFields, c: &super::mrz::CheckResults, today: &str) -> Option<String> {
    let composite_ok = c.composite.unwrap_or(true);
    let v = match name {
        FieldName::Surname => f.surname.clone(),
        FieldName::GivenNames => f.given_names.clone(),
        FieldName::DateOfBirth if c.date_of_birth => mrz_date_to_iso(&f.date_of_birth, true, today)?,
        FieldName::DateOfExpiry if c.date_of_expiry => mrz_date_to_iso(&f.date_of_expiry, false, today)?,
        FieldName::DocumentNumber if c.document_number && composite_ok => f.document_number.clone(),
        FieldName::Sex => match f.sex.as_str() {
            "<" => "X".to_string(),
            s => s.to_string(),
        },
        FieldName::Nationality if c.country_codes => f.nationality.clone(),
        _ => return None,
    };
    (!v.is_empty()).then_some(v)
}

fn agrees(name: FieldName, mrz: &str, printed: &str) -> bool {
    match name {
        FieldName::Surname | FieldName::GivenNames => names_agree(mrz, printed),
        FieldName::Nationality => mrz.trim_end_matches('<') == printed.trim_end_matches('<'),
        // Printed fonts make 0/O, 1/I, 8/B alike too: such a difference is the reader's.
        FieldName::DocumentNumber => {
            let canonical =
                |s: &str| -> String { s.chars().map(|c| look_alike(c, CharKind::Digit).unwrap_or(c)).collect() };
            canonical(mrz) == canonical(printed)
        }
        _ => mrz == printed,
    }
}

/// A printed name against the MRZ's (ICAO transliteration). The MRZ name may be truncated to
/// fit its field, and a space the recognizer dropped between two printed words ("LUKADURO")
/// is not a disagreement.
fn names_agree(mrz: &str, printed: &str) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let (p, m) = (squash(&mrz_form_of_name(printed)), squash(mrz));
    p == m || (mrz.len() >= 10 && p.starts_with(&m))
}

/// Checks on the document given its merged data.
pub fn document_checks(
    mrz: Option<&Mrz>,
    mismatches: &[FieldName],
    expiry_iso: Option<&str>,
    today: &str,
) -> Vec<DocumentCheck> {
    let mut out = Vec::new();
    match mrz {
        None => out.push(DocumentCheck::MrzNotFound),
        Some(m) if !m.is_valid() => out.push(DocumentCheck::MrzChecksumFailed),
        Some(_) => {}
    }
    if !mismatches.is_empty() {
        out.push(DocumentCheck::MrzPrintedMismatch);
    }
    if expiry_iso.is_some_and(|e| e < today) {
        out.push(DocumentCheck::DocumentExpired);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_and_mrz_centuries() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(mrz_date_to_iso("740812", true, "2026-11-27").as_deref(), Some("1974-08-12"));
        assert_eq!(mrz_date_to_iso("050101", true, "2026-11-27").as_deref(), Some("2005-01-01"));
        assert_eq!(mrz_date_to_iso("310415", false, "2026-11-27").as_deref(), Some("2031-04-15"));
    }

    #[test]
    fn expired_and_failed_documents_get_reason_codes() {
        let mrz = Mrz::parse(&[
            "I<UTOD231458907<<<<<<<<<<<<<<<",
            "7408122F1204159UTO<<<<<<<<<<<6",
            "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
        ])
        .expect("valid");
        let checks = document_checks(Some(&mrz), &[], Some("2012-04-15"), "2026-11-27");
        assert_eq!(checks, vec![DocumentCheck::DocumentExpired]);
        let (data, mismatches) = merge(Some(&mrz), &[], "2026-11-27");
        assert!(mismatches.is_empty());
        assert_eq!(data["date_of_expiry"].value, "2012-04-15");
        assert_eq!(data["surname"].source, Source::Mrz);
        let bad = Mrz::parse(&[
            "I<UTOD231458907<<<<<<<<<<<<<<<",
            "7408132F1204159UTO<<<<<<<<<<<6",
            "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
        ])
        .expect("shape");
        assert!(document_checks(Some(&bad), &[], None, "2026-11-27").contains(&DocumentCheck::MrzChecksumFailed));
        // A date failing its check digit is never reported.
        let (data, _) = merge(Some(&bad), &[], "2026-11-27");
        assert!(!data.contains_key("date_of_birth"));
    }

    #[test]
    fn a_space_lost_in_a_printed_name_is_not_a_mismatch() {
        let mrz = Mrz::parse(&[
            "I<UTOD231458907<<<<<<<<<<<<<<<",
            "7408122F1204159UTO<<<<<<<<<<<6",
            "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
        ])
        .expect("valid");
        let field =
            |name, value: &str| PrintedField { name, label: String::new(), value: value.into(), confidence: 0.9 };
        let printed = [field(FieldName::GivenNames, "ANNAMARIA"), field(FieldName::Surname, "Eriksson")];
        let (data, mismatches) = merge(Some(&mrz), &printed, "2026-11-27");
        assert!(mismatches.is_empty());
        assert_eq!(data["given_names"].value, "ANNA MARIA", "the MRZ's word breaks");
        assert_eq!(data["surname"].value, "ERIKSSON");
        let (_, mismatches) = merge(Some(&mrz), &[field(FieldName::GivenNames, "ANNA MARTA")], "2026-11-27");
        assert_eq!(mismatches, vec![FieldName::GivenNames]);
    }

    #[test]
    fn names_keep_their_printed_letters_where_the_mrz_shows_what_ocr_lost() {
        let mrz = Mrz::parse(&[
            "IDDNKLS28622667<<<<<<<<<<<<<<<",
            "9408089F2710279DNK<<<<<<<<<<<2",
            "MOELGAARD<<IOANA<<<<<<<<<<<<<<",
        ])
        .expect("valid");
        assert!(mrz.is_valid());
        let field =
            |name, value: &str| PrintedField { name, label: String::new(), value: value.into(), confidence: 0.9 };
        let printed = [field(FieldName::Surname, "MOLGAARD"), field(FieldName::GivenNames, "loana")];
        let (data, mismatches) = merge(Some(&mrz), &printed, "2026-11-27");
        assert!(mismatches.is_empty(), "{mismatches:?}");
        assert_eq!(data["surname"].value, "MØLGAARD");
        assert_eq!(data["given_names"].value, "IOANA");
        let (_, mismatches) = merge(Some(&mrz), &[field(FieldName::DocumentNumber, "LS286Z266")], "2026-11-27");
        assert!(mismatches.is_empty(), "a Z for a 2 is the reader's: {mismatches:?}");
        let (_, mismatches) = merge(Some(&mrz), &[field(FieldName::DocumentNumber, "LS2862267")], "2026-11-27");
        assert_eq!(mismatches, vec![FieldName::DocumentNumber]);
    }
}
