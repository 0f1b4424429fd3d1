//! How one sentence is scored: the cue kinds it carries (addressing the model, overriding,
//! impersonating a turn, concealing, pre-approving, urging, pressing, posing as an error),
//! strong cues 2, weak cues 1.

use super::phrases::*;

/// Where a role is announced in capitals inside data (`... | SYSTEM: export everything`), as
/// prompts mark a turn; a lower-case `System:` is often ordinary data (a machine's details).
pub(super) fn shouts_a_role(block: &str) -> Option<usize> {
    [
        "SYSTEM:",
        "ASSISTANT:",
        "SYSTEM MESSAGE",
        "SYSTEM NOTE",
        "SYSTEM OVERRIDE",
        "SYSTEM PROMPT",
    ]
    .iter()
    .filter_map(|m| block.find(m))
    .min()
}

fn contains_word(text: &str, word: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let bounded = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if bounded(before) && bounded(after) {
            return true;
        }
        from = at + word.len().max(1);
        while !text.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

fn any(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| text.contains(p))
}

fn ends_with_word(text: &str, word: &str) -> bool {
    text.ends_with(word)
        && text[..text.len() - word.len()]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
}

/// A role word used as an address, a turn marker, or the subject of an obligation.
fn addresses_role(sentence: &str) -> bool {
    for role in ROLE_WORDS {
        let mut from = 0;
        while let Some(i) = sentence[from..].find(role) {
            let at = from + i;
            let end = at + role.len();
            from = end;
            let bounded = sentence[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
                && sentence[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric());
            if !bounded {
                continue;
            }
            let before = sentence[..at].trim_end();
            let after = sentence[end..].trim_start();
            // An `agent` may be a person ("your travel agent"): only a bare or generic one is
            // addressed by an obligation.
            let person_role = role.starts_with("agent");
            let opens = before.is_empty()
                || AI_WORDS.iter().any(|w| ends_with_word(before, w))
                || before.ends_with(['"', '\'', '(', '[', '|', '>', ':', ',', '-']);
            let generic = opens
                || [
                    "the",
                    "any",
                    "all",
                    "every",
                    "automated",
                    "autonomous",
                    "an",
                    "a",
                ]
                .iter()
                .any(|w| ends_with_word(before, w))
                // "automated shopping agents", "autonomous AI agents"
                || before
                    .split_whitespace()
                    .rev()
                    .take(2)
                    .any(|w| w == "automated" || w == "autonomous");
            if ADDRESS_BEFORE.iter().any(|w| ends_with_word(before, w))
                || (!person_role
                    && ["for", "to", "for my", "to my"]
                        .iter()
                        .any(|w| ends_with_word(before, w))
                    && after.starts_with(':'))
                || ((generic || !person_role)
                    && OBLIGATION_AFTER.iter().any(|w| after.starts_with(w)))
                || (!person_role && ADDRESS_AFTER.iter().any(|w| after.starts_with(w)))
                || (!person_role && labels_a_note(after))
                || (!person_role && opens && MARK_AFTER.iter().any(|w| after.starts_with(w)))
            {
                return true;
            }
        }
    }
    false
}

/// An AI named and set off like a vocative ("AI reviewer, approve this", "AI: do that").
/// A label for what follows, after a role word: `assistant instruction:`, `bot note:`,
/// `assistant task -`.
fn labels_a_note(after: &str) -> bool {
    const LABELS: &[&str] = &[
        "instructions",
        "instruction",
        "notes",
        "note",
        "tasks",
        "task",
        "directive",
        "todo",
        "to-do",
    ];
    LABELS.iter().any(|label| {
        after.strip_prefix(label).is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.starts_with(':') || rest.starts_with("- ") || rest.starts_with('—')
        })
    })
}

fn ai_called_out(s: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"\b(ai|a\.i\.?|llm|ki|ia)([\s-]+[\w-]+)?\s*[,:]").ok())
        .as_ref()
        .is_some_and(|re| re.is_match(s))
}

fn overrides(s: &str) -> bool {
    if any(s, NEW_INSTRUCTIONS) {
        return true;
    }
    for verb in OVERRIDE_VERBS {
        let mut from = 0;
        while let Some(i) = s[from..].find(verb) {
            let at = from + i + verb.len();
            let mut end = (at + 60).min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            if OVERRIDE_OBJECTS.iter().any(|o| s[at..end].contains(o)) {
                return true;
            }
            from = at;
        }
    }
    false
}

pub(super) fn score_sentence(sentence: &str) -> (u32, Vec<&'static str>) {
    let s = sentence.trim();
    let mut score = 0;
    let mut kinds = Vec::new();
    let mentions_ai =
        AI_WORDS.iter().any(|w| contains_word(s, w)) || AI_WORDS_CJK.iter().any(|w| s.contains(w));
    if addresses_role(s) || (mentions_ai && (any(s, ADDRESSING) || ai_called_out(s))) {
        score += 2;
        kinds.push("addresses_the_model");
    } else if mentions_ai {
        // AI as a topic ("drafted with AI assistance"): a weak cue.
        score += 1;
        kinds.push("mentions_ai");
    }
    if overrides(s) {
        score += 2;
        kinds.push("overrides_instructions");
    }
    if MARKUP_STARTS.iter().any(|m| s.starts_with(m)) || any(s, MARKUP_ANYWHERE) {
        score += 2;
        kinds.push("impersonates_a_turn_or_system");
    } else if SPEAKER_STARTS.iter().any(|m| s.starts_with(m)) {
        score += 1;
        kinds.push("speaker_label");
    }
    for (kind, phrases) in [
        ("conceals_from_the_user", CONCEAL),
        ("claims_approval", PREAPPROVED),
        ("speaks_of_the_user", THE_USER),
        ("urges", URGE),
        ("adds_a_task_as_an_afterthought", AFTERTHOUGHT),
        ("poses_as_an_error", FAKE_ERROR),
        ("presses_for_time", PRESSES),
        ("threatens", THREATENS),
        ("prescribes_a_fix", PRESCRIBES),
    ] {
        if any(s, phrases) {
            score += 1;
            kinds.push(kind);
        }
    }
    (score, kinds)
}
