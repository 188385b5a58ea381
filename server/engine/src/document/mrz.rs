//! Machine-readable zone (ICAO Doc 9303 parts 4–6): TD1 (3×30), TD2 (2×36) and TD3 (2×44)
//! lines as domain types, field extraction and check digits.

use serde::Serialize;

use super::countries::is_mrz_country;

/// The three MRZ layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MrzFormat {
    /// ID-1 cards: 3 lines of 30.
    #[serde(rename = "TD1")]
    Td1,
    /// ID-2 cards and MRV-B visas: 2 lines of 36.
    #[serde(rename = "TD2")]
    Td2,
    /// Passports and MRV-A visas: 2 lines of 44.
    #[serde(rename = "TD3")]
    Td3,
}

impl MrzFormat {
    pub const ALL: [MrzFormat; 3] = [MrzFormat::Td1, MrzFormat::Td2, MrzFormat::Td3];

    pub fn line_count(self) -> usize {
        match self {
            MrzFormat::Td1 => 3,
            MrzFormat::Td2 | MrzFormat::Td3 => 2,
        }
    }

    pub fn line_length(self) -> usize {
        match self {
            MrzFormat::Td1 => 30,
            MrzFormat::Td2 => 36,
            MrzFormat::Td3 => 44,
        }
    }

    /// What each position of each line may hold (used to repair OCR confusions).
    pub fn kinds(self) -> Vec<Vec<CharKind>> {
        use CharKind::*;
        let spans = |len: usize, spans: &[(usize, usize, CharKind)]| {
            let mut v = vec![Any; len];
            for &(a, b, k) in spans {
                v[a..b].iter_mut().for_each(|x| *x = k);
            }
            v
        };
        match self {
            MrzFormat::Td1 => vec![
                spans(30, &[(0, 5, Alpha), (14, 15, Digit)]),
                spans(30, &[(0, 7, Digit), (7, 8, Sex), (8, 15, Digit), (15, 18, Alpha), (29, 30, Digit)]),
                spans(30, &[(0, 30, Alpha)]),
            ],
            MrzFormat::Td2 | MrzFormat::Td3 => {
                let n = self.line_length();
                vec![
                    spans(n, &[(0, n, Alpha)]),
                    spans(n, &[(9, 10, Digit), (10, 13, Alpha), (13, 20, Digit), (20, 21, Sex), (21, 28, Digit)]),
                ]
            }
        }
    }
}

/// The character class a position allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharKind {
    /// Letters and fillers (names, country codes).
    Alpha,
    /// Digits (dates, check digits; a filler is tolerated where ICAO allows an empty field).
    Digit,
    /// M, F, X or filler.
    Sex,
    /// Letters, digits and fillers (document numbers, optional data).
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrzError {
    #[error("an MRZ line holds only A–Z, 0–9 and '<'; found {0:?}")]
    InvalidCharacter(char),
    #[error("an MRZ line is 30, 36 or 44 characters long, not {0}")]
    InvalidLength(usize),
    #[error("{format:?} needs {expected} lines of {length}")]
    WrongShape { format: MrzFormat, expected: usize, length: usize },
}

/// One MRZ line: only `A–Z`, `0–9` and `<`, 30, 36 or 44 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MrzLine(String);

impl MrzLine {
    pub fn parse(text: &str) -> Result<Self, MrzError> {
        if let Some(bad) = text.chars().find(|c| !is_mrz_char(*c)) {
            return Err(MrzError::InvalidCharacter(bad));
        }
        match text.len() {
            30 | 36 | 44 => Ok(Self(text.to_string())),
            n => Err(MrzError::InvalidLength(n)),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn is_mrz_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<'
}

/// ICAO 9303 check digit: weights 7, 3, 1; digits count as themselves, A–Z as 10–35, '<' as 0.
pub fn check_digit(field: &str) -> char {
    let sum: u32 = field
        .chars()
        .zip([7u32, 3, 1].iter().cycle())
        .map(|(c, w)| {
            let v = match c {
                '0'..='9' => c as u32 - '0' as u32,
                'A'..='Z' => c as u32 - 'A' as u32 + 10,
                _ => 0,
            };
            v * w
        })
        .sum();
    char::from_digit(sum % 10, 10).unwrap_or('0')
}

/// Whether `digit` is the check digit of `field`. An all-filler optional field may carry '<'.
pub fn check_holds(field: &str, digit: char) -> bool {
    digit == check_digit(field) || (digit == '<' && field.chars().all(|c| c == '<'))
}

/// A complete MRZ of a known format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mrz {
    pub format: MrzFormat,
    pub lines: Vec<MrzLine>,
}

/// Fields as printed in the MRZ (fillers trimmed, names with spaces, dates YYMMDD).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MrzFields {
    pub document_code: String,
    pub issuing_state: String,
    pub document_number: String,
    pub date_of_birth: String,
    pub sex: String,
    pub date_of_expiry: String,
    pub nationality: String,
    pub surname: String,
    pub given_names: String,
    pub optional_data: String,
    pub personal_number: Option<String>,
}

/// Result of every check digit in the MRZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckResults {
    pub document_number: bool,
    pub date_of_birth: bool,
    pub date_of_expiry: bool,
    /// `None` for visas (MRV-A/B carry no composite check digit).
    pub composite: Option<bool>,
    /// TD3 only.
    pub personal_number: Option<bool>,
    /// Issuing state and nationality are codes an MRZ can carry ([`super::countries`]); no
    /// check digit covers them.
    pub country_codes: bool,
}

impl CheckResults {
    pub fn all_hold(&self) -> bool {
        self.document_number
            && self.date_of_birth
            && self.date_of_expiry
            && self.composite.unwrap_or(true)
            && self.personal_number.unwrap_or(true)
            && self.country_codes
    }
}

/// Where a document number (and its check digit) sits, after the TD1/TD2 overflow rule.
struct DocumentNumberSpan {
    number: String,
    check: char,
}

impl Mrz {
    pub fn new(format: MrzFormat, lines: Vec<MrzLine>) -> Result<Self, MrzError> {
        if lines.len() != format.line_count() || lines.iter().any(|l| l.0.len() != format.line_length()) {
            return Err(MrzError::WrongShape { format, expected: format.line_count(), length: format.line_length() });
        }
        Ok(Self { format, lines })
    }

    /// Parses lines of text, the format following from their count and length.
    pub fn parse(lines: &[&str]) -> Result<Self, MrzError> {
        let parsed = lines.iter().map(|l| MrzLine::parse(l)).collect::<Result<Vec<_>, _>>()?;
        let len = parsed.first().map(|l| l.0.len()).unwrap_or(0);
        let format = MrzFormat::ALL
            .into_iter()
            .find(|f| f.line_length() == len && f.line_count() == parsed.len())
            .ok_or(MrzError::InvalidLength(len))?;
        Self::new(format, parsed)
    }

    fn line(&self, i: usize) -> &str {
        &self.lines[i].0
    }

    fn is_visa(&self) -> bool {
        self.line(0).starts_with('V')
    }

    /// Document number with the overflow rule: when the check-digit position holds '<', the
    /// number continues in the optional data up to the first filler, whose last character
    /// before it is the check digit.
    fn document_number_span(&self) -> DocumentNumberSpan {
        let (head, check_pos, rest) = match self.format {
            MrzFormat::Td1 => (&self.line(0)[5..14], 14, &self.line(0)[15..30]),
            _ => (&self.line(1)[0..9], 9, &self.line(1)[28..35.min(self.format.line_length())]),
        };
        let check_char = self.lines[if self.format == MrzFormat::Td1 { 0 } else { 1 }].0.as_bytes()[check_pos] as char;
        if check_char == '<' && self.format != MrzFormat::Td3 {
            let tail: String = rest.chars().take_while(|&c| c != '<').collect();
            if tail.len() >= 2 {
                let (digits, check) = tail.split_at(tail.len() - 1);
                return DocumentNumberSpan {
                    number: format!("{head}{digits}"),
                    check: check.chars().next().unwrap_or('<'),
                };
            }
        }
        DocumentNumberSpan { number: head.to_string(), check: check_char }
    }

    pub fn fields(&self) -> MrzFields {
        let trim = |s: &str| s.trim_end_matches('<').replace('<', " ").trim().to_string();
        let doc = self.document_number_span();
        let (names, l2_offset) = match self.format {
            MrzFormat::Td1 => (self.line(2).to_string(), 0),
            _ => (self.line(0)[5..].to_string(), 13),
        };
        let (surname, given) = split_names(&names);
        let l2 = self.line(1);
        let (dob, sex, exp, nat) = if self.format == MrzFormat::Td1 {
            (&l2[0..6], &l2[7..8], &l2[8..14], &l2[15..18])
        } else {
            (&l2[l2_offset..l2_offset + 6], &l2[20..21], &l2[21..27], &l2[10..13])
        };
        let optional = match self.format {
            MrzFormat::Td1 => format!("{}{}", &self.line(0)[15..30], &self.line(1)[18..29]),
            MrzFormat::Td2 => self.line(1)[28..35].to_string(),
            MrzFormat::Td3 => self.line(1)[28..42].to_string(),
        };
        MrzFields {
            document_code: trim(&self.line(0)[0..2]),
            issuing_state: trim(&self.line(0)[2..5]),
            document_number: doc.number.trim_end_matches('<').to_string(),
            date_of_birth: dob.to_string(),
            sex: sex.to_string(),
            date_of_expiry: exp.to_string(),
            nationality: trim(nat),
            surname,
            given_names: given,
            optional_data: trim(&optional),
            personal_number: (self.format == MrzFormat::Td3).then(|| trim(&self.line(1)[28..42])),
        }
    }

    pub fn checks(&self) -> CheckResults {
        let doc = self.document_number_span();
        let l2 = self.line(1);
        let (dob_at, exp_at) = if self.format == MrzFormat::Td1 { (0, 8) } else { (13, 21) };
        let digit = |s: &str, i: usize| s.as_bytes()[i] as char;
        let composite = if self.is_visa() {
            None
        } else {
            let (data, check) = match self.format {
                MrzFormat::Td1 => {
                    (format!("{}{}{}{}", &self.line(0)[5..30], &l2[0..7], &l2[8..15], &l2[18..29]), digit(l2, 29))
                }
                MrzFormat::Td2 => (format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..35]), digit(l2, 35)),
                MrzFormat::Td3 => (format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]), digit(l2, 43)),
            };
            Some(check_holds(&data, check))
        };
        CheckResults {
            document_number: check_holds(&doc.number, doc.check),
            date_of_birth: check_holds(&l2[dob_at..dob_at + 6], digit(l2, dob_at + 6)),
            date_of_expiry: check_holds(&l2[exp_at..exp_at + 6], digit(l2, exp_at + 6)),
            composite,
            personal_number: (self.format == MrzFormat::Td3 && !self.is_visa()).then(|| {
                check_holds(&l2[28..42], digit(l2, 42))
                    || (digit(l2, 42) == '0' && l2[28..42].chars().all(|c| c == '<'))
            }),
            country_codes: {
                let f = self.fields();
                // Some states leave an ID card's nationality blank (Macao).
                is_mrz_country(&f.issuing_state) && (f.nationality.is_empty() || is_mrz_country(&f.nationality))
            },
        }
    }

    pub fn is_valid(&self) -> bool {
        self.checks().all_hold()
    }

    pub fn line_strings(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.0.clone()).collect()
    }
}

/// `SURNAME<<GIVEN<NAMES<<<` → ("SURNAME", "GIVEN NAMES").
fn split_names(field: &str) -> (String, String) {
    let field = field.trim_end_matches('<');
    let (primary, secondary) = field.split_once("<<").unwrap_or((field, ""));
    let words = |s: &str| s.split('<').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    (words(primary), words(secondary))
}

#[cfg(test)]
mod tests {
    use super::*;

    // ICAO Doc 9303 part 5, appendix A: the TD1 specimen.
    const TD1: [&str; 3] =
        ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];
    // ICAO Doc 9303 part 6: the TD2 specimen.
    const TD2: [&str; 2] = ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"];
    // ICAO Doc 9303 part 4: the TD3 specimen.
    const TD3: [&str; 2] =
        ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];

    #[test]
    fn check_digit_matches_icao_examples() {
        assert_eq!(check_digit("D23145890"), '7');
        assert_eq!(check_digit("740812"), '2');
        assert_eq!(check_digit("120415"), '9');
        assert_eq!(check_digit("L898902C3"), '6');
        assert_eq!(check_digit("ZE184226B<<<<<"), '1');
    }

    #[test]
    fn td1_specimen_parses_and_validates() {
        let mrz = Mrz::parse(&TD1).expect("valid TD1");
        assert_eq!(mrz.format, MrzFormat::Td1);
        let f = mrz.fields();
        assert_eq!((f.document_code.as_str(), f.issuing_state.as_str()), ("I", "UTO"));
        assert_eq!(f.document_number, "D23145890");
        assert_eq!((f.date_of_birth.as_str(), f.sex.as_str(), f.date_of_expiry.as_str()), ("740812", "F", "120415"));
        assert_eq!((f.surname.as_str(), f.given_names.as_str()), ("ERIKSSON", "ANNA MARIA"));
        assert!(mrz.checks().all_hold(), "{:?}", mrz.checks());
    }

    #[test]
    fn an_unknown_issuing_state_fails_the_checks_though_every_digit_holds() {
        // `TWN` misread as `TNN`: no check digit covers the issuing state.
        let misread = Mrz::parse(&["I<TNND231458907<<<<<<<<<<<<<<<", TD1[1], TD1[2]]).expect("shape ok");
        let checks = misread.checks();
        assert!(checks.document_number && checks.date_of_birth && checks.date_of_expiry);
        assert!(!checks.country_codes && !misread.is_valid());
        let blank_nationality = Mrz::parse(&[TD1[0], "7408122F1204159<<<<<<<<<<<<<<6", TD1[2]]).expect("shape ok");
        assert!(blank_nationality.checks().country_codes);
    }

    #[test]
    fn td2_and_td3_specimens_validate() {
        let td2 = Mrz::parse(&TD2).expect("valid TD2");
        assert_eq!(td2.format, MrzFormat::Td2);
        assert!(td2.is_valid(), "{:?}", td2.checks());
        assert_eq!(td2.fields().document_number, "D23145890");
        let td3 = Mrz::parse(&TD3).expect("valid TD3");
        assert_eq!(td3.format, MrzFormat::Td3);
        let checks = td3.checks();
        assert!(checks.all_hold(), "{checks:?}");
        assert_eq!(checks.personal_number, Some(true));
        assert_eq!(td3.fields().personal_number.as_deref(), Some("ZE184226B"));
        assert_eq!(td3.fields().nationality, "UTO");
    }

    #[test]
    fn td1_document_number_overflow() {
        // ICAO 9303 part 5 §4.2.2 example: D23145890734 with check digit 9 in the optional data.
        let l1 = "I<UTOD23145890<7349<<<<<<<<<<<";
        let l2_head = "7408122F1204159UTO<<<<<<<<<<<";
        let composite_data = format!("{}{}{}{}", &l1[5..30], &l2_head[0..7], &l2_head[8..15], &l2_head[18..29]);
        let l2 = format!("{l2_head}{}", check_digit(&composite_data));
        let mrz = Mrz::parse(&[l1, &l2, TD1[2]]).expect("valid");
        assert_eq!(mrz.fields().document_number, "D23145890734");
        assert_eq!(check_digit("D23145890734"), '9');
        assert!(mrz.is_valid(), "{:?}", mrz.checks());
    }

    #[test]
    fn a_changed_digit_fails_its_check() {
        let mrz = Mrz::parse(&[TD1[0], "7408132F1204159UTO<<<<<<<<<<<6", TD1[2]]).expect("shape ok");
        let c = mrz.checks();
        assert!(!c.date_of_birth && c.date_of_expiry && c.document_number);
        assert_eq!(c.composite, Some(false));
        assert!(!mrz.is_valid());
    }

    #[test]
    fn lines_reject_bad_characters_and_lengths() {
        assert_eq!(MrzLine::parse("abc"), Err(MrzError::InvalidCharacter('a')));
        assert_eq!(MrzLine::parse("ABC"), Err(MrzError::InvalidLength(3)));
        assert!(Mrz::parse(&[TD1[0], TD1[1]]).is_err());
    }
}
