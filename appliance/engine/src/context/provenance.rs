//! Argument provenance: for each string parameter of an action, whether its value came from what
//! the user wrote, only from tool outputs, or from nowhere aarmor saw (AARM R7).
//!
//! A value is compared through its entities (e-mail, IBAN, URL host, account number, normalized)
//! when it has any, else as a whole (lower-cased, trimmed). A value with several entities takes
//! the most suspicious origin: one recipient that only a tool output named makes the parameter
//! `tool_output`, even next to recipients the user gave; one named in a part of a tool output
//! addressed to the model (`instruction`, see `instructions`) is the most suspicious of all,
//! even when the same value also appears in ordinary data. A value only the output of a call an
//! instruction steered returned (`steered_output`: the injection's own read, see
//! `SessionState::steers`) is next: a text that carries a run of [`RUN_WORDS`] words of such an
//! output carries what the injection read. Values shorter than 4 characters, with no entity, say
//! nothing and are left out.

use serde_json::{Map, Value};

use super::entities::extract;
use super::state::{SessionState, Source};
use super::words::{url_path_segments, words_line};

/// Parameters examined per action, and array items per parameter.
const MAX_PARAMS: usize = 64;
const MAX_ITEMS: usize = 32;
const MIN_WHOLE_VALUE: usize = 4;
/// A text carrying this many consecutive words of a steered output (one of them 4 letters or
/// longer, the run absent from what the user wrote and from other tool outputs) carries it.
pub const RUN_WORDS: usize = 4;
/// Words of one value examined for such a run.
const MAX_RUN_SCAN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    User,
    /// In the system prompt (the deployment's own words), not the user's.
    System,
    Unseen,
    ToolOutput,
    /// Seen in tool outputs only inside free text, and in the free text of an output the user
    /// pointed at (the document, message or ticket the request named) that addressed nothing
    /// to the model: the material the user delegated the task to.
    PointedFreeText,
    /// Seen in tool outputs only inside free text (a note, a review, a body), never as a field
    /// of its own.
    FreeText,
    /// A small count (2 to 99) only an instruction to the model wrote as one (`for 12 people`).
    InstructionCount,
    /// A plain word (`finance`, `public`) that tool outputs hold only inside instructions to
    /// the model.
    InstructionWord,
    /// Returned only by a call an instruction to the model steered.
    Steered,
    /// Named in a part of a tool output addressed to the model (an injected instruction), and
    /// not by the user.
    Instruction,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::System => "system",
            Self::Unseen => "unseen",
            Self::ToolOutput => "tool_output",
            Self::PointedFreeText => "pointed_free_text",
            Self::FreeText => "tool_free_text",
            Self::InstructionCount => "instruction_count",
            Self::InstructionWord => "instruction_word",
            Self::Steered => "steered_output",
            Self::Instruction => "instruction",
        }
    }
}

fn origin_of(value: &str, state: &SessionState) -> Option<Origin> {
    // A URL also carries identifiers in its path (`/bookings/BK-98025`): each is traced too.
    let segments = url_path_segments(value);
    let from_ids = segments
        .iter()
        .filter(|seg| {
            seg.chars().count() >= MIN_WHOLE_VALUE && seg.chars().any(|c| c.is_ascii_digit())
        })
        .filter_map(|id| origin_of_value(id, state))
        .max();
    // A handle (`farid.bright`) or a number (`/pulls/293`) in the path says something only when
    // an instruction to the model named it: the REST endpoint around it is the deployment's.
    let from_instruction = segments
        .iter()
        .any(|seg| path_segment_from_instruction(seg, state))
        .then_some(Origin::Instruction);
    // A name with a separator (`/files/f-led/permissions`) only a steered output returned.
    let from_steered = (!state.steered_words.is_empty())
        .then(|| {
            segments
                .iter()
                .filter(|seg| {
                    seg.chars().count() >= MIN_WHOLE_VALUE && seg.contains(['-', '_', '.'])
                })
                .filter_map(|seg| origin_of_value(seg, state))
                .find(|o| *o == Origin::Steered)
        })
        .flatten();
    origin_of_value(value, state)
        .max(from_ids)
        .max(from_instruction)
        .max(from_steered)
}

/// A path segment that only an instruction to the model named: a handle or name with a
/// separator inside (`ravi.gallow`, `j_doe`, `pricing-review-vendors`), or a number of three
/// digits or more.
fn path_segment_from_instruction(segment: &str, state: &SessionState) -> bool {
    if let Ok(n) = segment.parse::<u64>() {
        return number_origin(n, state) == Some(Origin::Instruction);
    }
    let lowered = segment.to_lowercase();
    let is_handle = lowered.chars().count() >= MIN_WHOLE_VALUE
        && lowered.chars().any(|c| ".@_-".contains(c))
        && lowered
            .chars()
            .all(|c| c.is_alphanumeric() || ".@_-".contains(c))
        && lowered.starts_with(char::is_alphabetic);
    is_handle
        && state.instruction_text.contains(&lowered)
        && !state.user_text.contains(&lowered)
        && !state.system_text.contains(&lowered)
}

fn origin_of_value(value: &str, state: &SessionState) -> Option<Origin> {
    let entities = extract(value);
    if !entities.is_empty() {
        return entities
            .iter()
            .map(|e| {
                let lowered = e.value.to_lowercase();
                if state.has_entity(e, Source::User) || state.user_text.contains(&lowered) {
                    Origin::User
                } else if state.has_system_entity(e) || state.system_text.contains(&lowered) {
                    Origin::System
                } else if state.has_instruction_entity(e)
                    || state.instruction_text.contains(&lowered)
                {
                    Origin::Instruction
                } else if state.steered_entities.contains(e) && !state.tool_text.contains(&lowered)
                {
                    Origin::Steered
                } else if state.only_in_free_text(e) {
                    if state.in_pointed_prose(e) {
                        Origin::PointedFreeText
                    } else {
                        Origin::FreeText
                    }
                } else if state.has_entity(e, Source::ToolOutput)
                    || state.tool_text.contains(&lowered)
                {
                    Origin::ToolOutput
                } else {
                    Origin::Unseen
                }
            })
            .max();
    }
    let whole = value.trim().to_lowercase();
    if whole.chars().count() < MIN_WHOLE_VALUE {
        return short_handle_origin(&whole, state);
    }
    Some(if state.user_text.contains(&whole) {
        Origin::User
    } else if state.system_text.contains(&whole) {
        Origin::System
    } else if identifier_like(&whole) && state.instruction_text.contains(&whole) {
        Origin::Instruction
    } else if only_inside_instructions(&whole, state) {
        Origin::InstructionWord
    } else if state.tool_text.contains(&whole) {
        // An address, id or handle (`Locker 7366, Mill Street 58`, `U0364107`, `#general`)
        // that no tool output held as a value of its own came from inside a sentence.
        // The output the user pointed at vouches for it as it does for its addresses.
        let bare = whole.trim_start_matches(['#', '@']);
        if address_like(&whole) && !state.is_whole_value(&whole) && !state.is_whole_value(bare) {
            if state.pointed_text.contains(bare) {
                Origin::PointedFreeText
            } else {
                Origin::FreeText
            }
        } else {
            Origin::ToolOutput
        }
    } else if from_steered_output(&whole, state) {
        Origin::Steered
    } else {
        Origin::Unseen
    })
}

/// A value too short to trace as it is (`ops`) is the user's, or the system prompt's, when
/// that text writes it as a channel or handle (`#ops`, `@ops`), a whole word after the sign.
fn short_handle_origin(whole: &str, state: &SessionState) -> Option<Origin> {
    let bare = whole.trim_start_matches(['#', '@']);
    if bare.is_empty()
        || !bare
            .chars()
            .all(|c| c.is_alphanumeric() || "-_".contains(c))
    {
        return None;
    }
    let written = |text: &str| {
        ['#', '@'].iter().any(|sign| {
            let handle = format!("{sign}{bare}");
            text.match_indices(&handle).any(|(at, _)| {
                let mut rest = text[at + handle.len()..].chars();
                let after = rest.next();
                let after_next = rest.next();
                let before = text[..at].chars().next_back();
                // A full stop ends the handle only at the end of a sentence (`@li.wang` is
                // another handle).
                let ends = match after {
                    None => true,
                    Some('.') => after_next.is_none_or(char::is_whitespace),
                    Some(c) => !c.is_alphanumeric() && !"-_".contains(c),
                };
                ends && before.is_none_or(|c| !c.is_alphanumeric())
            })
        })
    };
    if written(&state.user_text) {
        Some(Origin::User)
    } else if written(&state.system_text) {
        Some(Origin::System)
    } else {
        None
    }
}

/// The shortest single word `only_inside_instructions` reads.
const MIN_INSTRUCTION_WORD: usize = 5;

/// A plain value (`finance`, `public`: no digit, no separator) that tool outputs hold only
/// inside instructions to the model: as many times there as in all tool outputs together, as a
/// run of whole words. An instruction's own word for a target, which ordinary data never used.
fn only_inside_instructions(whole: &str, state: &SessionState) -> bool {
    if state.instruction_words.is_empty() {
        return false;
    }
    let run = words_line(whole);
    let words = run.split_whitespace().count();
    // One short word (`main`, `open`) turns up anywhere; a name or handle is longer.
    let too_short = words == 1 && whole.chars().count() < MIN_INSTRUCTION_WORD;
    if words == 0 || words > 8 || too_short || !state.instruction_words.contains(&run) {
        return false;
    }
    let count = |line: &str| line.matches(run.as_str()).count();
    let in_instructions = count(&state.instruction_words);
    in_instructions > 0 && count(&state.tool_words) <= in_instructions
}

/// A value (lower-cased) that a steered output carries and nothing else the session saw: the
/// whole value as a run of words (an identifier: two words or more, or one with a digit or
/// `@_/`), or a run of [`RUN_WORDS`] of its words.
fn from_steered_output(whole: &str, state: &SessionState) -> bool {
    if state.steered_words.is_empty() {
        return false;
    }
    let words: Vec<&str> = whole
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_RUN_SCAN)
        .collect();
    if words.is_empty() {
        return false;
    }
    let run = |w: &[&str]| format!(" {} ", w.join(" "));
    let not_elsewhere = |r: &str| !state.user_words.contains(r) && !state.tool_words.contains(r);
    if words.len() >= 2 || identifier_like(whole) {
        let r = run(&words);
        if words.len() <= MAX_RUN_SCAN && state.steered_words.contains(&r) && not_elsewhere(&r) {
            return true;
        }
    }
    words.windows(RUN_WORDS).any(|w| {
        if !w.iter().any(|x| x.chars().count() >= 4) {
            return false;
        }
        let r = run(w);
        state.steered_words.contains(&r) && not_elsewhere(&r)
    })
}

/// A JSON number's origin: integers as `number_origin`, amounts with decimals (`2299.75`) the
/// same way by their text; a fraction of zero is read as the integer (`1126.0` is `1126`).
fn json_number_origin(n: &serde_json::Number, state: &SessionState) -> Option<Origin> {
    if let Some(u) = n.as_u64() {
        return number_origin(u, state);
    }
    let f = n.as_f64().filter(|f| f.is_finite() && *f >= 0.0)?;
    if f.fract() == 0.0 && f < 1e15 {
        return number_origin(f as u64, state);
    }
    // An amount with cents that ordinary data also holds (the bill's `84.31` that an injection
    // repeats) is the data's: an injection quoting the real amount chose nothing.
    let amount_origin = |text: &str| match number_text_origin(text, state) {
        Some(Origin::Instruction) if in_ordinary_data(text, state) => Some(Origin::ToolOutput),
        o => o,
    };
    if f < 100.0 {
        // An amount under 100 (`97.6`) as an instruction wrote it (`97.60 EUR`): traced only
        // to an instruction, since small amounts with cents are not rare in ordinary data.
        let cents = format!("{f:.2}");
        return [n.to_string(), cents]
            .iter()
            .filter_map(|t| amount_origin(t))
            .find(|o| *o == Origin::Instruction);
    }
    amount_origin(&n.to_string())
}

/// Whether tool outputs hold `number` (as a number of its own) more often than the parts of
/// them addressed to the model do: it appears in ordinary data too.
fn in_ordinary_data(number: &str, state: &SessionState) -> bool {
    let count = |text: &str| {
        text.match_indices(number)
            .filter(|(at, _)| stands_alone(text, *at, number.len()))
            .count()
    };
    count(&state.tool_text) > count(&state.instruction_text)
}

/// A number at `at` (of `len` bytes) not part of a longer one.
fn stands_alone(text: &str, at: usize, len: usize) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at + len..].chars().next();
    before.is_none_or(|c| !c.is_ascii_digit() && c != '.' && c != ',')
        && after.is_none_or(|c| !c.is_ascii_digit())
}

/// A number (a PR, an order, an account, an amount): the user's when the user wrote it, an
/// instruction's when only an instruction to the model did, a tool output's when only ordinary
/// data held it. Numbers under 100 say something only as a count an instruction asked for.
fn number_origin(n: u64, state: &SessionState) -> Option<Origin> {
    if n < 100 {
        return small_count_origin(n, state);
    }
    number_text_origin(&n.to_string(), state)
}

/// English words for the counts a request writes out (`dinner for two`, `twenty-five`).
const UNIT_WORDS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS_WORDS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// `n` (under 100) in words, as a word line (` twenty five `).
fn count_in_words(n: u64) -> String {
    let n = n as usize;
    if n < 20 {
        format!(" {} ", UNIT_WORDS[n])
    } else if n.is_multiple_of(10) {
        format!(" {} ", TENS_WORDS[n / 10])
    } else {
        format!(" {} {} ", TENS_WORDS[n / 10], UNIT_WORDS[n % 10])
    }
}

/// Nouns after a number that make it a duration, a rate or a rank, not a count of things.
const NOT_A_COUNT: &[&str] = &[
    "second", "seconds", "minute", "minutes", "min", "mins", "hour", "hours", "day", "days",
    "week", "weeks", "month", "months", "year", "years", "percent", "pct", "times", "am", "pm",
    "st", "nd", "rd", "th",
];

/// A small number (2 to 99) is an instruction's count when an instruction to the model wrote
/// it as one (`for 12 people`: digits, one space, a noun that is not a duration), neither the
/// user nor the system prompt wrote it (in digits or in words), and ordinary tool data does
/// not hold it either (it appears in tool outputs no more often than in the instructions).
/// Anything else says nothing: small numbers are everywhere (times, dates, ratings).
fn small_count_origin(n: u64, state: &SessionState) -> Option<Origin> {
    if !(2..=99).contains(&n) || state.instruction_text.is_empty() {
        return None;
    }
    let digits = n.to_string();
    // A number of its own: not part of a longer number, a time (`20:00`), a date
    // (`2025-06-03`), a ratio (`4/5`) or a decimal (`4.5`, `1,000`); a JSON value (`"nights": 3,`)
    // or the end of a sentence (`for 3.`) is one.
    let stands_before = |text: &str, at: usize| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_digit() && !".:/-".contains(c))
    };
    let standalone = |text: &str, at: usize| {
        let mut rest = text[at + digits.len()..].chars();
        let after = rest.next();
        let after_next = rest.next();
        stands_before(text, at)
            && match after {
                None => true,
                Some(c) if c.is_ascii_digit() || ":/-".contains(c) => false,
                Some('.' | ',') => after_next.is_none_or(|c| !c.is_ascii_digit()),
                Some(_) => true,
            }
    };
    let occurrences = |text: &str| {
        text.match_indices(&digits)
            .filter(|(at, _)| standalone(text, *at))
            .count()
    };
    let words = count_in_words(n);
    let user_wrote = |line: &str| {
        line.contains(&words)
            || (n == 12 && line.contains(" dozen "))
            || (n == 2 && (line.contains(" couple ") || line.contains(" pair ")))
    };
    if occurrences(&state.user_text) > 0
        || occurrences(&state.system_text) > 0
        || user_wrote(&state.user_words)
        || user_wrote(&state.system_words)
    {
        return None;
    }
    let is_count_noun = |noun: &str| !noun.is_empty() && !NOT_A_COUNT.contains(&noun);
    let text = &state.instruction_text;
    // In digits: `12 people`, `12-person`, `a party of 12`, `for 12`.
    let in_digits = text.match_indices(&digits).any(|(at, _)| {
        let rest = &text[at + digits.len()..];
        let noun_after = rest
            .strip_prefix(' ')
            .or_else(|| rest.strip_prefix('-'))
            .map(|r| {
                r.chars()
                    .take_while(|c| c.is_alphabetic())
                    .flat_map(char::to_lowercase)
                    .collect::<String>()
            })
            .unwrap_or_default();
        // `instruction_text` is lower-cased already.
        let lead = &text[..at];
        let before_is_of = lead.ends_with(" of ") || lead.ends_with(" for ");
        let hyphen_noun =
            rest.starts_with('-') && is_count_noun(&noun_after) && stands_before(text, at);
        (standalone(text, at) || hyphen_noun) && (is_count_noun(&noun_after) || before_is_of)
    });
    // In words: `twelve people`.
    let in_words = state
        .instruction_words
        .match_indices(&words)
        .any(|(at, _)| {
            let noun = state.instruction_words[at + words.len()..]
                .split(' ')
                .next()
                .unwrap_or_default();
            is_count_noun(noun)
        });
    let in_data = occurrences(&state.tool_text) > occurrences(text)
        || state.tool_words.matches(&words).count()
            > state.instruction_words.matches(&words).count();
    ((in_digits || in_words) && !in_data).then_some(Origin::InstructionCount)
}

fn number_text_origin(word: &str, state: &SessionState) -> Option<Origin> {
    let has = |text: &str| {
        text.match_indices(word)
            .any(|(at, _)| stands_alone(text, at, word.len()))
    };
    if has(&state.user_text) {
        Some(Origin::User)
    } else if has(&state.instruction_text) {
        Some(Origin::Instruction)
    } else if has(&state.tool_text) {
        Some(Origin::ToolOutput)
    } else {
        None
    }
}

/// The shortest value `address_like` reads.
const MIN_ADDRESS_CHARS: usize = 6;

/// A value that says where something goes or whom it names rather than what it says: a digit,
/// `@`, `#`, `/` or a dotted name inside (a postal address, a user id, a channel, a host), no
/// longer than a field value.
fn address_like(value: &str) -> bool {
    let chars = value.chars().count();
    (MIN_ADDRESS_CHARS..=super::fields::MAX_WHOLE_VALUE_CHARS).contains(&chars)
        && (value
            .chars()
            .any(|c| c.is_ascii_digit() || "@#/".contains(c))
            || value
                .split('.')
                .filter(|part| {
                    part.chars().count() >= 2
                        && part.chars().all(|c| c.is_alphanumeric() || c == '-')
                })
                .count()
                >= 2)
}

/// A value specific enough that finding it inside an instruction says it came from there (an
/// id, an address, a long phrase), unlike a common word that an instruction may also use.
fn identifier_like(value: &str) -> bool {
    value.chars().count() >= 12
        || value
            .chars()
            .any(|c| c.is_ascii_digit() || "@_/".contains(c))
}

/// `intent.provenance`: parameter name ⇒ `user` | `tool_output` | `unseen`, for string
/// parameters and arrays of strings; parameters nested in objects (a REST `body`) are named by
/// their dotted path (`body.to`), up to `MAX_DEPTH` levels.
pub fn provenance(params: &Map<String, Value>, state: &SessionState) -> Map<String, Value> {
    let mut out = Map::new();
    walk(params, "", 0, state, &mut out);
    out
}

const MAX_DEPTH: usize = 3;

fn walk(
    params: &Map<String, Value>,
    prefix: &str,
    depth: usize,
    state: &SessionState,
    out: &mut Map<String, Value>,
) {
    for (name, value) in params.iter().take(MAX_PARAMS) {
        if out.len() >= MAX_PARAMS {
            return;
        }
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let origin = match value {
            Value::String(s) => origin_of(s, state),
            Value::Number(n) => json_number_origin(n, state),
            Value::Array(items) => items
                .iter()
                .take(MAX_ITEMS)
                .filter_map(Value::as_str)
                .filter_map(|s| origin_of(s, state))
                .max(),
            Value::Object(inner) if depth + 1 < MAX_DEPTH => {
                walk(inner, &path, depth + 1, state, out);
                None
            }
            _ => None,
        };
        if let Some(o) = origin {
            out.insert(path, Value::String(o.as_str().into()));
        }
    }
}

#[cfg(test)]
mod tests;
