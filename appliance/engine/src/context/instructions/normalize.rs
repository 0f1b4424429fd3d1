//! Text as a reader sees it: NFKC, invisible format characters removed, letters that look
//! Latin mapped to Latin, markup tags and emphasis removed (what the cues are read on).

use unicode_normalization::UnicodeNormalization;

/// Letters from other scripts that render like Latin ones, mapped to those.
const LOOKALIKES: &[(char, char)] = &[
    ('а', 'a'),
    ('е', 'e'),
    ('о', 'o'),
    ('р', 'p'),
    ('с', 'c'),
    ('у', 'y'),
    ('х', 'x'),
    ('і', 'i'),
    ('ј', 'j'),
    ('ѕ', 's'),
    ('ԁ', 'd'),
    ('һ', 'h'),
    ('ӏ', 'l'),
    ('ɡ', 'g'),
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Р', 'P'),
    ('С', 'C'),
    ('Т', 'T'),
    ('Х', 'X'),
    ('І', 'I'),
    ('Ѕ', 'S'),
    ('α', 'a'),
    ('ο', 'o'),
    ('ι', 'i'),
    ('κ', 'k'),
    ('ν', 'v'),
    ('τ', 't'),
    ('ρ', 'p'),
    ('Α', 'A'),
    ('Β', 'B'),
    ('Ε', 'E'),
    ('Ι', 'I'),
    ('Κ', 'K'),
    ('Μ', 'M'),
    ('Ν', 'N'),
    ('Ο', 'O'),
    ('Ρ', 'P'),
    ('Τ', 'T'),
    ('Χ', 'X'),
    ('Υ', 'Y'),
    ('Ζ', 'Z'),
];

/// Characters that take no space on screen (zero-width, joiners, soft hyphen, direction marks).
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The text as a reader sees it: NFKC, invisible characters removed, look-alike letters mapped
/// to Latin, tags (`<div ...>`, but not `<!--` comments) and emphasis (`**`, `__`, `` ` ``)
/// removed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    let chars: Vec<char> = text.nfkc().filter(|c| !invisible(*c)).collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                out.push(' ');
            }
            continue;
        }
        if c == '<'
            && chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == '/')
        {
            in_tag = true;
            continue;
        }
        if c == '*' || c == '`' || (c == '_' && chars.get(i + 1) == Some(&'_')) {
            continue;
        }
        let mapped = LOOKALIKES
            .iter()
            .find(|(from, _)| *from == c)
            .map_or(c, |(_, to)| *to);
        out.push(mapped);
    }
    out
}
