//! Printed (visual-zone) fields: text lines on the rectified card matched to their labels
//! (multilingual, e.g. Surname/Nom/Apellidos/Prezime) by layout (value below or right of its
//! label), then normalised (ISO dates, sex, ICAO-style name transliteration for the MRZ
//! cross-check).

use serde::Serialize;

use super::mrz::MrzFields;
use crate::ocr::TextLine;

/// The printed fields this engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldName {
    Surname,
    GivenNames,
    DateOfBirth,
    Sex,
    Nationality,
    DocumentNumber,
    DateOfExpiry,
    DateOfIssue,
}

impl FieldName {
    pub const ALL: [FieldName; 8] = [
        FieldName::Surname,
        FieldName::GivenNames,
        FieldName::DateOfBirth,
        FieldName::Sex,
        FieldName::Nationality,
        FieldName::DocumentNumber,
        FieldName::DateOfExpiry,
        FieldName::DateOfIssue,
    ];

    pub fn key(self) -> &'static str {
        match self {
            FieldName::Surname => "surname",
            FieldName::GivenNames => "given_names",
            FieldName::DateOfBirth => "date_of_birth",
            FieldName::Sex => "sex",
            FieldName::Nationality => "nationality",
            FieldName::DocumentNumber => "document_number",
            FieldName::DateOfExpiry => "date_of_expiry",
            FieldName::DateOfIssue => "date_of_issue",
        }
    }

    /// Label words (accent-free, lower case) in the languages of European ID cards.
    fn label_words(self) -> &'static [&'static str] {
        match self {
            FieldName::Surname => &[
                "surname",
                "nom",
                "apellido",
                "prezime",
                "nachname",
                "familienname",
                "cognome",
                "achternaam",
                "nazwisko",
                "prijmeni",
                "eftirnafn",
                "efternamn",
                "etternavn",
                "sukunimi",
                "last name",
            ],
            FieldName::GivenNames => &[
                "given name",
                "prenom",
                "vorname",
                "nombre",
                "ime",
                "forename",
                "nome",
                "voornam",
                "imie",
                "jmeno",
                "fornavn",
                "fornamn",
                "etunimi",
                "first name",
                "eiginnafn",
            ],
            FieldName::DateOfBirth => &[
                "birth",
                "naissance",
                "geburt",
                "nacimiento",
                "rodenja",
                "nascita",
                "geboorte",
                "urodzenia",
                "narozeni",
                "fodsel",
                "fodelse",
                "faedingar",
            ],
            FieldName::Sex => {
                &["sex", "geschlecht", "sexo", "spol", "sesso", "geslacht", "plec", "pohlavi", "kon", "kyn", "kjonn"]
            }
            FieldName::Nationality => &[
                "nationalit",
                "staatsang",
                "nacionalidad",
                "drzavljanstvo",
                "cittadinanza",
                "nationaliteit",
                "obywatelstwo",
                "statni obcan",
                "rikisfang",
                "statsborgerskap",
                "medborgarskap",
            ],
            FieldName::DocumentNumber => &[
                "document no",
                "document number",
                "card no",
                "card number",
                "no.",
                "nummer",
                "numero",
                "broj",
                "number",
                "doc no",
                "id no",
            ],
            FieldName::DateOfExpiry => &[
                "expiry",
                "expiration",
                "valid until",
                "gultig",
                "caducidad",
                "vrijedi",
                "scadenza",
                "geldig tot",
                "wazny",
                "platnost",
                "expires",
            ],
            FieldName::DateOfIssue => &[
                "issue",
                "delivrance",
                "ausstellung",
                "expedicion",
                "izdavanja",
                "rilascio",
                "afgifte",
                "wydania",
                "vydani",
                "issued",
            ],
        }
    }
}

/// Strips diacritics and lowercases (labels are matched accent-blind).
pub fn fold(text: &str) -> String {
    text.chars().flat_map(|c| transliterate_char(c).chars().collect::<Vec<_>>()).collect::<String>().to_lowercase()
}

/// ICAO 9303 part 3 transliteration of one Latin character to MRZ letters (upper case).
pub fn transliterate_char(c: char) -> String {
    let upper: String = c.to_uppercase().collect();
    let s = match upper.as_str() {
        "Ä" | "Æ" => "AE",
        "Ö" | "Ø" | "Œ" => "OE",
        "Ü" => "UE",
        "Å" => "AA",
        "ß" | "ẞ" => "SS",
        "Þ" => "TH",
        "Ð" | "Đ" => "D",
        "Ł" => "L",
        "Ĳ" => "IJ",
        "İ" | "I" => "I",
        _ => "",
    };
    if !s.is_empty() {
        return if c.is_lowercase() { s.to_lowercase() } else { s.to_string() };
    }
    strip_accent(c).to_string()
}

fn strip_accent(c: char) -> char {
    const FROM: &str = "ÀÁÂÃĀĂĄàáâãāăąÇĆĈĊČçćĉċčĎďÈÉÊËĒĔĖĘĚèéêëēĕėęěĜĞĠĢĝğġģĤĥÌÍÎÏĨĪĬĮìíîïĩīĭįıĴĵĶķĹĻĽĿĺļľŀÑŃŅŇñńņňÒÓÔÕŌŎŐòóôõōŏőŔŖŘŕŗřŚŜŞŠȘśŝşšșŢŤȚţťțÙÚÛŨŪŬŮŰŲùúûũūŭůűųŴŵÝŸŶýÿŷŹŻŽźżž";
    const TO: &str = "AAAAAAAaaaaaaaCCCCCcccccDdEEEEEEEEEeeeeeeeeeGGGGggggHhIIIIIIIIiiiiiiiiiJjKkLLLLllllNNNNnnnnOOOOOOOoooooooRRRrrrSSSSSsssssTTTtttUUUUUUUUUuuuuuuuuuWwYYYyyyZZZzzz";
    FROM.chars().position(|f| f == c).and_then(|i| TO.chars().nth(i)).unwrap_or(c)
}

/// The MRZ form of a printed name: transliterated, upper case, separators as spaces,
/// apostrophes dropped.
pub fn mrz_form_of_name(name: &str) -> String {
    let t: String = name.chars().filter(|c| *c != '\'' && *c != '’').map(transliterate_char).collect();
    t.to_uppercase().replace(['-', '<', ','], " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A printed value and the label it was found under.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintedField {
    pub name: FieldName,
    pub label: String,
    pub value: String,
    pub confidence: f32,
}

/// Finds each field's label among the card's text lines and takes the value laid out with it.
/// Fields whose label was not detected are then looked for by the form of their value
/// ([`super::unlabelled`]), names with the MRZ's help.
pub fn read_printed_fields(lines: &[TextLine], mrz: Option<&MrzFields>, today: &str) -> Vec<PrintedField> {
    let mut used = vec![false; lines.len()];
    let mut out = Vec::new();
    for name in FieldName::ALL {
        let Some(label_idx) = find_label(lines, name, &used) else { continue };
        used[label_idx] = true;
        let label = &lines[label_idx];
        if let Some(inline) = value_after_label(&label.recognition.text, name) {
            out.push(PrintedField {
                name,
                label: label.recognition.text.clone(),
                value: inline,
                confidence: label.recognition.confidence,
            });
            continue;
        }
        if let Some(value_idx) = value_below_or_right(lines, label_idx, &used) {
            used[value_idx] = true;
            let v = &lines[value_idx].recognition;
            out.push(PrintedField {
                name,
                label: label.recognition.text.clone(),
                value: v.text.trim().to_string(),
                confidence: v.confidence,
            });
        }
    }
    super::unlabelled::add_unlabelled(lines, &mut used, &mut out, mrz, today);
    out.sort_by_key(|f| f.name);
    out
}

fn find_label(lines: &[TextLine], name: FieldName, used: &[bool]) -> Option<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !used[*i])
        .filter(|(_, l)| is_label_of(&fold(&l.recognition.text), name))
        .min_by(|a, b| a.1.quad.0[0].y.total_cmp(&b.1.quad.0[0].y).then(a.1.quad.0[0].x.total_cmp(&b.1.quad.0[0].x)))
        .map(|(i, _)| i)
}

fn is_label_of(folded: &str, name: FieldName) -> bool {
    let hit = |words: &[&str]| words.iter().any(|w| contains_word(folded, w));
    if !hit(name.label_words()) {
        return false;
    }
    // "Given names / Prénoms" also contains "nom"; "Date of issue" vs "date of expiry" etc.
    match name {
        FieldName::Surname => !hit(FieldName::GivenNames.label_words()),
        FieldName::DocumentNumber => {
            !hit(FieldName::Surname.label_words()) && !hit(FieldName::GivenNames.label_words())
        }
        _ => true,
    }
}

/// Whole-word (prefix) match: `nom` matches "nom", "nom/surname" but not "nombre" → handled by
/// the word list order; here a word must start at a word boundary.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| i == 0 || !text[..i].chars().next_back().is_some_and(|c| c.is_alphabetic()))
}

/// "Sex: M" / "Nationality FRA" on one detected line: the value after the label text.
fn value_after_label(text: &str, name: FieldName) -> Option<String> {
    let (_, rest) = text.split_once(':')?;
    let rest = rest.trim();
    (!rest.is_empty() && !is_label_of(&fold(rest), name)).then(|| rest.to_string())
}

/// The nearest unused line that starts just below the label (left-aligned with it) or on the
/// same row to its right.
fn value_below_or_right(lines: &[TextLine], label_idx: usize, used: &[bool]) -> Option<usize> {
    let label = &lines[label_idx].quad;
    let (lx0, ly0, lx1, ly1) = label.bounding_box();
    let lh = (ly1 - ly0).max(1.0);
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| !used[*i] && !looks_like_label(&l.recognition.text))
        .filter_map(|(i, l)| {
            let (x0, y0, _, y1) = l.quad.bounding_box();
            let below = y0 > ly0 + 0.5 * lh && y0 - ly1 < 2.2 * lh && (x0 - lx0).abs() < 3.0 * lh;
            let right = (0.5 * (y0 + y1) - 0.5 * (ly0 + ly1)).abs() < 0.6 * lh && x0 > lx1 - 2.0 && x0 - lx1 < 6.0 * lh;
            (below || right).then_some((i, if below { y0 - ly1 } else { x0 - lx1 + lh }))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

fn looks_like_label(text: &str) -> bool {
    let folded = fold(text);
    FieldName::ALL.iter().any(|&n| is_label_of(&folded, n))
        && (text.contains('/') || text.chars().any(|c| c.is_lowercase()))
}

/// Parses printed dates: 12.08.1974, 12 08 1974, 12/08/1974, 12 AUG 1974, 12 AUG/AOÛT 1974,
/// and the same with the separators the recognizer dropped (12081974, 12AUG1974). The whole
/// line must be a date: any other word in it (a label) and it is not one.
pub fn parse_printed_date(text: &str) -> Option<String> {
    let folded = mend_zero_o(&fold(text).to_uppercase());
    let digit_runs: Vec<&str> = folded.split(|c: char| !c.is_ascii_digit()).filter(|t| !t.is_empty()).collect();
    let words: Vec<&str> = folded.split(|c: char| !c.is_ascii_alphabetic()).filter(|t| !t.is_empty()).collect();
    let months: Vec<u32> = words.iter().filter_map(|w| month_number(w)).collect();
    if months.len() != words.len() {
        return None;
    }
    let (day, month, year) = match (months.first(), digit_runs.as_slice()) {
        (Some(&m), [d, y]) => (*d, m, *y),
        (None, [d, m, y]) => (*d, m.parse().ok()?, *y),
        (None, _) => {
            // Every separator lost: ddmmyyyy.
            let all = digit_runs.concat();
            if all.len() != 8 {
                return None;
            }
            let (d, rest) = all.split_at(2);
            let (m, y) = rest.split_at(2);
            return date_iso(d.parse().ok()?, m.parse().ok()?, y);
        }
        _ => return None,
    };
    date_iso(day.parse().ok()?, month, year)
}

fn date_iso(day: u32, month: u32, year: &str) -> Option<String> {
    let year: u32 = if year.len() == 4 { year.parse().ok()? } else { return None };
    ((1..=31).contains(&day) && (1..=12).contains(&month) && (1900..=2100).contains(&year))
        .then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// The recognizer's 0/O confusion inside words (A0UT) and numbers (2O19).
fn mend_zero_o(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or(' ');
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let (before, after) = (if i == 0 { ' ' } else { at(i - 1) }, at(i + 1));
            match c {
                '0' if before.is_ascii_alphabetic() && after.is_ascii_alphabetic() => 'O',
                'O' if before.is_ascii_digit() && after.is_ascii_digit() => '0',
                _ => c,
            }
        })
        .collect()
}

fn month_number(token: &str) -> Option<u32> {
    const MONTHS: [&[&str]; 12] = [
        &["JAN", "JANV"],
        &["FEB", "FEV", "FEVR"],
        &["MAR", "MARS"],
        &["APR", "AVR", "AVRIL"],
        &["MAY", "MAI"],
        &["JUN", "JUIN"],
        &["JUL", "JUIL"],
        &["AUG", "AOUT"],
        &["SEP", "SEPT"],
        &["OCT"],
        &["NOV"],
        &["DEC"],
    ];
    MONTHS.iter().position(|names| names.contains(&token)).map(|i| i as u32 + 1)
}

/// "M", "F/F", "M/M", "X" → one letter.
pub fn parse_sex(text: &str) -> Option<String> {
    let first = text.trim().chars().next()?.to_ascii_uppercase();
    matches!(first, 'M' | 'F' | 'X').then(|| first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_dates_in_every_card_format_parse() {
        for text in ["12.08.1974", "12 08 1974", "12/08/1974", "12 AUG 1974", "12 AUG/AOÛT 1974", "12 aug 1974"] {
            assert_eq!(parse_printed_date(text).as_deref(), Some("1974-08-12"), "{text}");
        }
        assert_eq!(parse_printed_date("30 SEP/SEPT 1990").as_deref(), Some("1990-09-30"));
        assert_eq!(parse_printed_date("not a date"), None);
    }

    #[test]
    fn printed_dates_parse_with_lost_separators_and_zero_for_o() {
        for (text, iso) in [
            ("30SEP/SEPT1990", "1990-09-30"),
            ("23022003", "2003-02-23"),
            ("11AUG/A0UT1989", "1989-08-11"),
            ("29 DEC/DEC 2026", "2026-12-29"),
            ("21NOV 1989", "1989-11-21"),
        ] {
            assert_eq!(parse_printed_date(text).as_deref(), Some(iso), "{text}");
        }
        for text in ["Date of birth 1990", "IDENTITY CARD 2019", "230220031", "12 FOO 1974"] {
            assert_eq!(parse_printed_date(text), None, "{text}");
        }
    }

    #[test]
    fn names_transliterate_like_icao() {
        assert_eq!(mrz_form_of_name("MÜLLER-LÜDENSCHEID"), "MUELLER LUEDENSCHEID");
        assert_eq!(mrz_form_of_name("Łukasiewicz"), "LUKASIEWICZ");
        assert_eq!(mrz_form_of_name("O'BRIEN"), "OBRIEN");
        assert_eq!(mrz_form_of_name("SÆTHER"), "SAETHER");
        assert_eq!(mrz_form_of_name("GUÐMUNDSDÓTTIR"), "GUDMUNDSDOTTIR");
        assert_eq!(mrz_form_of_name("ȘTEFĂNESCU"), "STEFANESCU");
    }

    #[test]
    fn labels_are_recognised_across_languages() {
        assert!(is_label_of(&fold("Surname / Nom"), FieldName::Surname));
        assert!(!is_label_of(&fold("Given names / Prénoms"), FieldName::Surname));
        assert!(is_label_of(&fold("Given names / Prénoms"), FieldName::GivenNames));
        assert!(is_label_of(&fold("Apellidos"), FieldName::Surname));
        assert!(is_label_of(&fold("Prezime"), FieldName::Surname));
        assert!(is_label_of(&fold("Date of expiry"), FieldName::DateOfExpiry));
        assert_eq!(parse_sex("F/F").as_deref(), Some("F"));
    }
}
