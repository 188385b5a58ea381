//! A printed name put together with its MRZ form: the printed name keeps its accents, the MRZ
//! (read far more reliably) supplies what the recognizer lost.
//!
//! - Spaces: the recognizer often drops the space between two words ("LAERDALSAETHER"); the
//!   MRZ's word breaks put it back.
//! - Letters the recognizer has no class for: ICAO transliterates Ä/Æ → AE, Ö/Ø → OE,
//!   Ü → UE, Å → AA, Þ → TH, and the recognizer reads those printed letters as A, O, U, A, P.
//!   It also reads a capital I as a small l, which the MRZ's I shows.
//!   Where the printed name has one letter and the MRZ two, the letter is restored. Ö and Ø
//!   (Ä and Æ) have the same MRZ form; the issuing state's language decides between them.

use super::fields::transliterate_char;

/// The MRZ name may be cut to fit its field; a printed name may run on past an MRZ name at
/// least this long.
const TRUNCATED_MRZ_NAME: usize = 10;

/// The printed name with the spaces and letters the MRZ shows it lost; `None` when the two
/// do not spell the same name. `mrz` is the MRZ's name with words separated by spaces,
/// `state` the issuing state (ICAO code).
pub fn restore_name(printed: &str, mrz: &str, state: &str) -> Option<String> {
    let p: Vec<char> = printed.trim().chars().collect();
    let m: Vec<char> = mrz.chars().collect();
    align(&p, &m, &Context { state, truncatable: m.len() >= TRUNCATED_MRZ_NAME })
}

struct Context<'a> {
    state: &'a str,
    /// The MRZ name is long enough to have been cut to fit its field.
    truncatable: bool,
}

/// Aligns the printed characters `p` with the MRZ characters `m`, trying a plain match before
/// a lost letter or space (names are short: the backtracking stays small).
fn align(p: &[char], m: &[char], cx: &Context) -> Option<String> {
    let Some(&c) = p.first() else { return m.is_empty().then(String::new) };
    let then =
        |head: char, p_rest: &[char], m_rest: &[char]| align(p_rest, m_rest, cx).map(|tail| format!("{head}{tail}"));
    match c {
        ' ' | '-' => return then(c, &p[1..], m.strip_prefix(&[' ']).unwrap_or(m)),
        '\'' | '’' => return then(c, &p[1..], m),
        _ => {}
    }
    if m.is_empty() {
        // A printed name runs on past an MRZ name cut to fit its field.
        return cx.truncatable.then(|| p.iter().collect());
    }
    // The recognizer reads a capital I as a small l.
    let c = if c == 'l' && m[0] == 'I' { 'I' } else { c };
    let t: Vec<char> = transliterate_char(c).to_uppercase().chars().collect();
    m.starts_with(&t)
        .then(|| then(c, &p[1..], &m[t.len()..]))
        .flatten()
        .or_else(|| lost_letter(c, m, cx.state).and_then(|letter| then(letter, &p[1..], &m[2..])))
        .or_else(|| (m[0] == ' ').then(|| then(' ', p, &m[1..])).flatten())
}

/// The printed letter whose two-letter MRZ form starts `rest`, given what the recognizer read.
fn lost_letter(read: char, rest: &[char], state: &str) -> Option<char> {
    let upper = read.to_uppercase().next()?;
    let letter = match (upper, rest.get(..2)?) {
        ('A', ['A', 'E']) if nordic_ligatures(state) => 'Æ',
        ('A', ['A', 'E']) => 'Ä',
        ('O' | '0', ['O', 'E']) if nordic_ligatures(state) => 'Ø',
        ('O' | '0', ['O', 'E']) => 'Ö',
        ('U', ['U', 'E']) => 'Ü',
        // A printed A or P never has these MRZ forms, so no language is needed.
        ('A', ['A', 'A']) => 'Å',
        ('P', ['T', 'H']) => 'Þ',
        _ => return None,
    };
    Some(if read.is_lowercase() { letter.to_lowercase().next()? } else { letter })
}

/// States whose names write Æ and Ø rather than Ä and Ö.
fn nordic_ligatures(state: &str) -> bool {
    matches!(state, "DNK" | "NOR" | "FRO" | "ISL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_spaces_come_back_from_the_mrz() {
        assert_eq!(restore_name("LAERDALSAETHER", "LAERDAL SAETHER", "NOR").as_deref(), Some("LAERDAL SAETHER"));
        assert_eq!(restore_name("LARDALSATHER", "LAERDAL SAETHER", "NOR").as_deref(), Some("LÆRDAL SÆTHER"));
        assert_eq!(restore_name("MAXHANS", "MAX HANS", "DEU").as_deref(), Some("MAX HANS"));
        assert_eq!(restore_name("JEAN-LUC", "JEAN LUC", "FRA").as_deref(), Some("JEAN-LUC"));
        assert_eq!(restore_name("O'SULLIVAN", "OSULLIVAN", "IRL").as_deref(), Some("O'SULLIVAN"));
    }

    #[test]
    fn letters_without_a_recognizer_class_come_back_by_language() {
        assert_eq!(restore_name("MOLGAARD", "MOELGAARD", "DNK").as_deref(), Some("MØLGAARD"));
        assert_eq!(restore_name("Soren", "SOEREN", "DNK").as_deref(), Some("Søren"));
        assert_eq!(restore_name("BJORN KLAUS", "BJOERN KLAUS", "DEU").as_deref(), Some("BJÖRN KLAUS"));
        assert_eq!(restore_name("BACKER", "BAECKER", "DEU").as_deref(), Some("BÄCKER"));
        assert_eq!(restore_name("POR", "THOR", "ISL").as_deref(), Some("ÞOR"));
        assert_eq!(restore_name("loana", "IOANA", "ROU").as_deref(), Some("Ioana"));
        // Accents the recognizer did read stay.
        assert_eq!(restore_name("FEHÉR", "FEHER", "HUN").as_deref(), Some("FEHÉR"));
    }

    #[test]
    fn different_names_do_not_restore() {
        assert_eq!(restore_name("MULLER", "MILLER", "DEU"), None);
        assert_eq!(restore_name("ANNA MARTA", "ANNA MARIA", "SWE"), None);
        assert_eq!(restore_name("BAKKER", "BAKKERS", "NLD"), None);
        // Only an MRZ name long enough to have been cut lets the printed one run on.
        assert_eq!(restore_name("GUDMUNDSDOTTIRSON", "GUDMUNDSDOTTIR", "ISL").as_deref(), Some("GUDMUNDSDOTTIRSON"));
    }
}
