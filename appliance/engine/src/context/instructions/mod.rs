//! Text inside tool outputs that speaks to the model instead of carrying data (the shape of a
//! prompt injection): which part of an output does, and the cues that say so.
//!
//! A tool output is data the user's task asked for; an instruction to "the assistant" in it, an
//! attempt to override earlier instructions, a fake conversation turn or system message, or a
//! request to hide a step from the user is not. Text is first normalized the way a reader sees
//! it (NFKC, so fullwidth letters are letters; invisible format characters removed; letters
//! that look Latin mapped to Latin; markup tags and emphasis removed), then each sentence is
//! scored on such cues (strong cues 2, weak cues 1). A block of text (the output, or each
//! string of a JSON output) is flagged when one sentence scores 2 or the block scores 3, from
//! its first cue sentence to the end of that paragraph. The cues are generic — addressing,
//! overriding, impersonating, concealing, pre-approving — in English and common European and
//! Asian languages; none names a product, a benchmark or a particular attack.
//!
//! Invariant: flagging never allows anything. It only marks values as coming from an
//! instruction addressed to the model, for rules that stop actions built from them.

use serde::Serialize;
use serde_json::Value;

mod cues;
mod normalize;
mod phrases;
#[cfg(test)]
mod tests;

use cues::{score_sentence, shouts_a_role};
pub use normalize::normalize;

/// A flagged part of a tool output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instruction {
    /// Why: the cue kinds found (`addresses_the_model`, `overrides_instructions`, ...).
    pub cues: Vec<&'static str>,
    /// The first words of the flagged text, for receipts and approvers.
    pub excerpt: String,
    /// The flagged text, normalized and lower-cased (values are looked up in it).
    #[serde(skip)]
    pub text: String,
    /// The flagged text, normalized, in its case (entities are extracted from it).
    #[serde(skip)]
    pub original: String,
}

/// Blocks examined per output, and the bytes of one block.
const MAX_BLOCKS: usize = 512;
const MAX_BLOCK_BYTES: usize = 16 * 1024;
const EXCERPT_CHARS: usize = 160;
/// A sentence with this score flags its block; so does a block whose sentences add up to
/// `BLOCK_SCORE` (weak cues spread over a paragraph).
const SENTENCE_SCORE: u32 = 2;
const BLOCK_SCORE: u32 = 3;

/// The parts of `output` addressed to the model.
pub fn find(output: &str) -> Vec<Instruction> {
    find_parsed(output, super::fields::json_output(output).as_ref())
}

/// `find`, given the output as `fields::json_output` reads it (parsed once per tool output).
pub fn find_parsed(output: &str, parsed: Option<&Value>) -> Vec<Instruction> {
    find_naming_tools(output, parsed, &[])
}

/// `find_parsed`, knowing the names of the agent's other tools (lower-case, as
/// [`tool_names`] keeps them): a tool output that names one of them (`use create_standing_order`,
/// `{"tool": "update_job", ...}`) speaks to the agent, not to the user; ordinary data has no
/// reason to know the agent's function names.
pub fn find_naming_tools(
    output: &str,
    parsed: Option<&Value>,
    tools: &[String],
) -> Vec<Instruction> {
    let mut found = Vec::new();
    let blocks: Vec<(String, bool)> = blocks(output, parsed, tools)
        .into_iter()
        .map(|(raw, directive)| (normalize(&raw), directive))
        .collect();
    let mut flagged_blocks = Vec::new();
    let mut announcing = false;
    for (index, (block, directive)) in blocks.iter().enumerate() {
        let directive = *directive;
        let lowered = block.to_lowercase();
        let aligned = lowered.len() == block.len();
        let mut score = 0;
        let mut best = 0;
        let mut cues: Vec<&'static str> = Vec::new();
        let mut start: Option<usize> = None;
        for (offset, sentence) in sentences(&lowered) {
            let (mut s, mut kinds) = score_sentence(sentence);
            if names_a_tool(sentence, tools) {
                s += 2;
                kinds.push("names_an_agent_tool");
            }
            if s > 0 && start.is_none() {
                start = Some(offset);
            }
            score += s;
            best = best.max(s);
            for k in kinds {
                if !cues.contains(&k) {
                    cues.push(k);
                }
            }
        }
        if directive {
            score += 2;
            best = best.max(2);
            cues.push("directive_member");
            // A directive embedded in prose (a message body ending in `{"_agent_directive": ...}`)
            // starts where its object opens (the `{` before it on its line), else with its
            // line: the text before it (an invoice's own lines) is data. A member that is one
            // block starts the block.
            let at = directive_key_at(&lowered).map_or(0, |at| object_start(&lowered, at));
            start = Some(start.map_or(at, |s| s.min(at)));
        }
        if let Some(at) = shouts_a_role(block).filter(|_| aligned) {
            score += 2;
            best = best.max(2);
            if !cues.contains(&"impersonates_a_turn_or_system") {
                cues.push("impersonates_a_turn_or_system");
            }
            start = Some(start.map_or(at, |s| s.min(at)));
        }
        if best < SENTENCE_SCORE && score < BLOCK_SCORE {
            continue;
        }
        let from = if aligned { start.unwrap_or(0) } else { 0 };
        let to = paragraph_end(&lowered, from);
        let text = lowered[from..to].trim().to_string();
        if announces_more(&text) {
            announcing = true;
        }
        flagged_blocks.push(index);
        let original = if aligned {
            block[from..to].trim().to_string()
        } else {
            block.clone()
        };
        found.push(Instruction {
            cues,
            excerpt: original
                .chars()
                .take(EXCERPT_CHARS)
                .collect::<String>()
                .trim()
                .to_string(),
            text,
            original,
        });
    }
    // An instruction that says it continues elsewhere ("the field below holds ..."): the other
    // free-text strings of the output (JSON members are not kept in order) continue it; short
    // fields are data.
    if announcing {
        for (index, (block, _)) in blocks.iter().enumerate() {
            if flagged_blocks.contains(&index)
                || block.split_whitespace().count() < MIN_CONTINUATION_WORDS
            {
                continue;
            }
            found.push(Instruction {
                cues: vec!["continues_an_instruction"],
                excerpt: block
                    .chars()
                    .take(EXCERPT_CHARS)
                    .collect::<String>()
                    .trim()
                    .to_string(),
                text: block.to_lowercase().trim().to_string(),
                original: block.trim().to_string(),
            });
        }
    }
    found
}

/// Does flagged text announce that the instruction continues elsewhere ("the field below")?
fn announces_more(text: &str) -> bool {
    [
        "below",
        "following",
        "next field",
        "next line",
        "ci-dessous",
        "unten",
        "abajo",
        "abaixo",
        "hieronder",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// How many words make a string free text rather than a data field.
const MIN_CONTINUATION_WORDS: usize = 6;

/// The end of the paragraph that `from` is in: the next blank line, or the end.
fn paragraph_end(text: &str, from: usize) -> usize {
    text[from..]
        .find("\n\n")
        .or_else(|| text[from..].find("\r\n\r\n"))
        .map_or(text.len(), |i| from + i)
}

/// The text blocks of an output: every string of a JSON output (a member whose name makes it a
/// directive to the agent is one block, marked), else the text itself.
fn blocks(output: &str, parsed: Option<&Value>, tools: &[String]) -> Vec<(String, bool)> {
    if let Some(v) = parsed {
        let mut out = Vec::new();
        collect(v, &mut out, 0, tools);
        return out;
    }
    vec![(cut(output), names_a_directive_key(output))]
}

/// The shortest tool name looked for, and how many are kept.
const MIN_TOOL_NAME: usize = 6;
pub const MAX_TOOL_NAMES: usize = 256;

/// The names a tool declaration list gives (OpenAI `tools`/`functions`, Anthropic and MCP
/// `tools`), lower-case, with an MCP `server.tool`'s own name too: only names of several
/// words (`send_money`, `bank.send_transfer`, `updateJob`) of [`MIN_TOOL_NAME`] characters or
/// more, which ordinary text does not write by chance.
pub fn tool_names(declarations: &Value) -> Vec<String> {
    let camel = |n: &str| {
        n.chars()
            .zip(n.chars().skip(1))
            .any(|(a, b)| a.is_lowercase() && b.is_uppercase())
    };
    let mut out: Vec<String> = Vec::new();
    let items = declarations.as_array().into_iter().flatten();
    for item in items.take(MAX_TOOL_NAMES) {
        let name = item
            .pointer("/function/name")
            .or_else(|| item.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let leaf = name.rsplit('.').next().unwrap_or(name);
        let candidates = [
            (name, name.contains(['_', '.', '-']) || camel(name)),
            (leaf, leaf.contains(['_', '-']) || camel(leaf)),
        ];
        for (n, several_words) in candidates {
            let n = n.to_lowercase();
            if several_words && n.chars().count() >= MIN_TOOL_NAME && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// Whether `sentence` (lower-case) names one of `tools` as a word of its own.
fn names_a_tool(sentence: &str, tools: &[String]) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '_';
    tools.iter().any(|tool| {
        sentence.match_indices(tool.as_str()).any(|(at, _)| {
            sentence[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !part(c) && c != '.')
                && sentence[at + tool.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !part(c))
        })
    })
}

/// Text that carries a JSON-like member named as a directive (`"_agent_directive": ...`).
fn names_a_directive_key(text: &str) -> bool {
    directive_key_at(text).is_some()
}

/// Where the first JSON-like member named as a directive starts in `text`.
fn directive_key_at(text: &str) -> Option<usize> {
    static KEY: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = KEY
        .get_or_init(|| regex::Regex::new(r#""([A-Za-z0-9_\-]{2,64})"\s*:"#).ok())
        .as_ref()?;
    re.captures_iter(text)
        .take(64)
        .filter_map(|c| c.get(1))
        .find(|k| key_is_directive(k.as_str()))
        .map(|k| k.start().saturating_sub(1))
}

/// Where the JSON-like object holding the member at `at` opens: the last `{` before it on its
/// line, else the start of that line.
fn object_start(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    if !text.is_char_boundary(at) {
        return 0;
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..at]
        .rfind('{')
        .map_or(line_start, |i| line_start + i)
}

fn cut(s: &str) -> String {
    let mut end = s.len().min(MAX_BLOCK_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn collect(v: &Value, out: &mut Vec<(String, bool)>, depth: usize, tools: &[String]) {
    if out.len() >= MAX_BLOCKS || depth > 32 {
        return;
    }
    match v {
        Value::String(s) => {
            // A string that is itself JSON (an output wrapping another) is read as JSON.
            let t = s.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                if let Ok(inner) = serde_json::from_str::<Value>(t) {
                    collect(&inner, out, depth + 1, tools);
                    return;
                }
            }
            let directive = names_a_directive_key(s);
            out.push((cut(s), directive));
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, out, depth + 1, tools)),
        Value::Object(m) => {
            // An object one of whose members is an agent tool's name (`{"tool":
            // "create_standing_order", "iban": ...}`) is a call prepared for the agent: all of
            // it is one directive.
            if m.values()
                .filter_map(Value::as_str)
                .any(|v| tools.iter().any(|t| v.trim().eq_ignore_ascii_case(t)))
            {
                out.push((cut(&Value::Object(m.clone()).to_string()), true));
                return;
            }
            for (k, v) in m {
                if key_is_directive(k) {
                    // A member named as a directive to the agent: its whole value is the text.
                    out.push((cut(&format!("{k}: {v}")), true));
                } else {
                    collect(v, out, depth + 1, tools);
                }
            }
        }
        _ => {}
    }
}

/// A key naming a directive to the agent: `_agent_directive`, `ai_instructions`,
/// `assistant_prompt`, `system_prompt` (but not `travel_agent_email` or
/// `delivery_instructions`).
fn key_is_directive(key: &str) -> bool {
    let words = key_words(key);
    let has = |w: &[&str]| words.iter().any(|k| w.contains(&k.as_str()));
    has(&["directive", "directives"])
        || (has(&["required", "pending", "mandatory"]) && has(&["followup", "follow", "action"]))
        || (has(&["agent", "assistant", "ai", "llm", "model", "bot", "system"])
            && has(&[
                "instruction",
                "instructions",
                "prompt",
                "command",
                "commands",
                "note",
                "message",
                "task",
            ]))
}

fn key_words(key: &str) -> Vec<String> {
    super::tool_words::words_by(key, char::is_alphanumeric)
}

/// Sentences with their byte offsets: split at line ends and at `.`, `!`, `?` followed by a space.
fn sentences(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let end = match b {
            b'\n' => true,
            b'.' | b'!' | b'?' => bytes.get(i + 1).is_some_and(|n| *n == b' '),
            _ => false,
        };
        if end {
            if i + 1 > start {
                out.push((start, &text[start..=i]));
            }
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push((start, &text[start..]));
    }
    out
}
