//! Text as words: a text's word line (for whole-word lookups of runs of words) and what a
//! parameter value names (a URL's path segments and query values).

/// The words of a text, lower-cased, each followed by one space and the first preceded by one:
/// ` a b c `. A run of words is looked up as ` a b `, so it matches whole words only; two lines
/// appended together never form a run across their seam (two spaces).
pub fn words_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        out.extend(w.chars().flat_map(char::to_lowercase));
        out.push(' ');
    }
    out
}

/// What a parameter value names: a URL's path segments and query values (`/canvases/Roadmap%20
/// (private)` names `Roadmap (private)`), else the value itself.
pub fn names_in(value: &str) -> Vec<String> {
    let segments = url_path_segments(value);
    if segments.is_empty() {
        vec![value.to_string()]
    } else {
        segments
    }
}

/// The segments of a URL's path and its query values, percent-decoded (at most 12).
pub fn url_path_segments(value: &str) -> Vec<String> {
    let v = value.trim();
    let Some(rest) = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
    else {
        return Vec::new();
    };
    let Some((_, path)) = rest.split_once('/') else {
        return Vec::new();
    };
    path.split(['/', '?', '&', '=', '#'])
        .map(|seg| {
            percent_encoding::percent_decode_str(seg)
                .decode_utf8_lossy()
                .trim_start_matches('#')
                .to_string()
        })
        .filter(|seg| !seg.is_empty())
        .take(12)
        .collect()
}
