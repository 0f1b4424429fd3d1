//! Detectors that classify text (tool outputs, responses of executed actions): e-mail addresses,
//! phone numbers, payment cards (Luhn), IBANs (ISO 13616 mod 97), US social security numbers,
//! API keys and private keys (known prefixes), and long high-entropy tokens.
//!
//! Candidates are found with regular expressions and then confirmed by their checksum or
//! structure, so that order numbers do not count as cards and random words as IBANs.

use std::sync::LazyLock;

use aarmor_core::{Classification, DataClass, DataLabel, Finding};
use regex::Regex;

struct Detector {
    name: &'static str,
    label: DataLabel,
    pattern: Regex,
    confirm: fn(&str) -> bool,
}

fn always(_: &str) -> bool {
    true
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants of this module; a typo fails the tests, not production.
    Regex::new(pattern).unwrap_or_else(|e| panic!("detector pattern {pattern}: {e}"))
}

/// Luhn checksum over the digits of `s` (13 to 19 of them).
pub fn luhn_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1.
pub fn iban_valid(s: &str) -> bool {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let rearranged = format!("{}{}", &compact[4..], &compact[..4]);
    let mut rem: u32 = 0;
    for c in rearranged.chars() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn ssn_valid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[0] != "000"
        && parts[0] != "666"
        && !parts[0].starts_with('9')
        && parts[1] != "00"
        && parts[2] != "0000"
}

fn phone_valid(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (8..=15).contains(&digits)
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = s.chars().count() as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn high_entropy(s: &str) -> bool {
    // Long tokens mixing cases and digits with high entropy; plain hex digests are excluded.
    let has_upper = s.chars().any(|c| c.is_ascii_uppercase());
    let has_lower = s.chars().any(|c| c.is_ascii_lowercase());
    let has_digit = s.chars().any(|c| c.is_ascii_digit());
    has_upper && has_lower && has_digit && entropy(s) >= 4.5
}

static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    vec![
        Detector {
            name: "private_key",
            label: DataLabel::Secret,
            pattern: re(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
            confirm: always,
        },
        Detector {
            name: "api_key",
            label: DataLabel::Credentials,
            pattern: re(
                r"\b(?:(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}|AIza[0-9A-Za-z_-]{35}|(?:sk|rk)_live_[0-9A-Za-z]{20,})",
            ),
            confirm: always,
        },
        Detector {
            name: "email",
            label: DataLabel::Pii,
            pattern: re(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
            confirm: always,
        },
        Detector {
            name: "payment_card",
            label: DataLabel::Financial,
            pattern: re(r"\b\d(?:[ -]?\d){12,18}\b"),
            confirm: luhn_valid,
        },
        Detector {
            name: "iban",
            label: DataLabel::Financial,
            pattern: re(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"),
            confirm: iban_valid,
        },
        Detector {
            name: "us_ssn",
            label: DataLabel::Pii,
            pattern: re(r"\b\d{3}-\d{2}-\d{4}\b"),
            confirm: ssn_valid,
        },
        Detector {
            name: "phone",
            label: DataLabel::Pii,
            // International numbers with a `+` prefix, and North American ones written
            // `(555) 123-4567` or `555-123-4567`; bare digit groups are too ambiguous.
            pattern: re(
                r"\+\d{1,3}[ .-]?\d{1,4}(?:[ .-]?\d{2,4}){2,4}\b|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}\b|\b\d{3}-\d{3}-\d{4}\b",
            ),
            confirm: phone_valid,
        },
        Detector {
            name: "high_entropy_token",
            label: DataLabel::Secret,
            pattern: re(r"\b[A-Za-z0-9+/_-]{40,}={0,2}"),
            confirm: high_entropy,
        },
    ]
});

/// What the detectors find in `text`. Detectors run in order of strength; text a confirmed
/// match covers is not offered to the detectors after it (a card number is not also a phone).
pub fn findings(text: &str) -> Vec<Finding> {
    let mut taken: Vec<std::ops::Range<usize>> = Vec::new();
    let mut out = Vec::new();
    for d in DETECTORS.iter() {
        let mut count = 0;
        for m in d.pattern.find_iter(text) {
            let overlaps = taken.iter().any(|r| r.start < m.end() && m.start() < r.end);
            if !overlaps && (d.confirm)(m.as_str()) {
                taken.push(m.range());
                count += 1;
            }
        }
        if count > 0 {
            out.push(Finding {
                label: d.label,
                detector: d.name.to_string(),
                count,
            });
        }
    }
    out
}

/// Classifies `text`; `default` applies when no detector fires (RESTRICTED per AARM R2, unless
/// the route is labelled otherwise).
pub fn classify(text: &str, default: DataClass) -> Classification {
    Classification::from_findings(findings(text), default)
}

/// One operator classification rule from `policies/classifiers/*.yaml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierRule {
    pub name: String,
    /// Fires when the regular expression matches the text.
    #[serde(default)]
    pub regex: Option<String>,
    /// Fires when the text is JSON and this JSONPath (RFC 9535) selects something.
    #[serde(default)]
    pub json_path: Option<String>,
    /// Applies to data returned by this route: `host` (exact, or `*.domain`) and an optional
    /// `path` glob. A route rule with only a `class` changes the default of unclassified data.
    #[serde(default)]
    pub route: Option<RouteMatch>,
    #[serde(default)]
    pub label: Option<DataLabel>,
    #[serde(default)]
    pub class: Option<DataClass>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    pub host: String,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifierFile {
    #[serde(default)]
    rules: Vec<ClassifierRule>,
}

struct Compiled {
    rule: ClassifierRule,
    regex: Option<Regex>,
    json_path: Option<serde_json_path::JsonPath>,
    path_glob: Option<globset::GlobMatcher>,
}

/// The built-in detectors plus the operator's rules.
#[derive(Default)]
pub struct Classifiers {
    rules: Vec<Compiled>,
}

impl std::fmt::Debug for Classifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifiers")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl Classifiers {
    /// Compiles rules given as `(file, YAML or JSON text)`; errors name the file and rule.
    pub fn compile(files: &[(String, String)]) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (file, text) in files {
            let parsed: ClassifierFile =
                yaml_serde::from_str(text).map_err(|e| format!("{file}: {e}"))?;
            for rule in parsed.rules {
                let at = format!("{file}: rule `{}`", rule.name);
                let matchers = [
                    rule.regex.is_some(),
                    rule.json_path.is_some(),
                    rule.route.is_some(),
                ];
                if matchers.iter().filter(|m| **m).count() != 1 {
                    return Err(format!("{at}: give exactly one of regex, json_path, route"));
                }
                if rule.label.is_none() && rule.class.is_none() {
                    return Err(format!("{at}: give a label, a class, or both"));
                }
                let regex = match &rule.regex {
                    Some(r) => Some(Regex::new(r).map_err(|e| format!("{at}: regex: {e}"))?),
                    None => None,
                };
                let json_path = match &rule.json_path {
                    Some(p) => Some(
                        serde_json_path::JsonPath::parse(p)
                            .map_err(|e| format!("{at}: json_path: {e}"))?,
                    ),
                    None => None,
                };
                let path_glob = match rule.route.as_ref().and_then(|r| r.path.as_ref()) {
                    Some(p) => Some(
                        globset::Glob::new(p)
                            .map_err(|e| format!("{at}: route path: {e}"))?
                            .compile_matcher(),
                    ),
                    None => None,
                };
                rules.push(Compiled {
                    rule,
                    regex,
                    json_path,
                    path_glob,
                });
            }
        }
        Ok(Self { rules })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Classifies data returned from `target`: built-in detectors, then operator rules. Data no
    /// detector or rule classified takes the route's class when a route rule gives one, else
    /// `default`.
    pub fn classify(
        &self,
        text: &str,
        target: &aarmor_core::ActionTarget,
        default: DataClass,
    ) -> Classification {
        let mut found = findings(text);
        let mut class: Option<DataClass> = None;
        let mut route_class: Option<DataClass> = None;
        let mut json: Option<Option<serde_json::Value>> = None;
        for c in &self.rules {
            let fired = if let Some(re) = &c.regex {
                re.find_iter(text).count()
            } else if let Some(path) = &c.json_path {
                let doc = json.get_or_insert_with(|| serde_json::from_str(text).ok());
                doc.as_ref().map(|d| path.query(d).len()).unwrap_or(0)
            } else if let Some(route) = &c.rule.route {
                let path_ok = c
                    .path_glob
                    .as_ref()
                    .is_none_or(|g| g.is_match(&target.path));
                usize::from(
                    aarmor_core::host::matches_pattern(&route.host, &target.host) && path_ok,
                )
            } else {
                0
            };
            if fired == 0 {
                continue;
            }
            if c.rule.route.is_some() && c.rule.label.is_none() {
                route_class = route_class.max(c.rule.class);
                continue;
            }
            if let Some(label) = c.rule.label {
                found.push(Finding {
                    label,
                    detector: c.rule.name.clone(),
                    count: fired,
                });
            }
            class = class.max(c.rule.class);
        }
        let mut result = Classification::from_findings(found, route_class.unwrap_or(default));
        if let Some(c) = class {
            if result.defaulted {
                result.class = c;
                result.defaulted = false;
            } else {
                result.class = result.class.max(c);
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(text: &str) -> Vec<String> {
        findings(text).into_iter().map(|f| f.detector).collect()
    }

    #[test]
    fn checksums() {
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(luhn_valid("5500-0000-0000-0004"));
        assert!(!luhn_valid("4111 1111 1111 1112"));
        assert!(!luhn_valid("0000000000000000"));
        assert!(iban_valid("DE89 3704 0044 0532 0130 00"));
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(!iban_valid("DE89 3704 0044 0532 0130 01"));
    }

    #[test]
    fn detectors_fire_on_what_they_are_for() {
        assert_eq!(detected("write to jane.doe@example.com please"), ["email"]);
        assert_eq!(
            detected("card 4111 1111 1111 1111 exp 12/29"),
            ["payment_card"]
        );
        assert_eq!(
            detected("pay to DE89 3704 0044 0532 0130 00 today"),
            ["iban"]
        );
        assert_eq!(detected("SSN 123-45-6789"), ["us_ssn"]);
        assert_eq!(detected("call +47 912 34 567 or (555) 123-4567"), ["phone"]);
        assert!(detected("key AKIAIOSFODNN7EXAMPLE").contains(&"api_key".to_string()));
        assert_eq!(
            detected("-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
            ["private_key"]
        );
        assert_eq!(
            detected("token Zx9Kq2LmP8vR4tYw7NbQ1cHs5JdF3gUe6AoXi0BzVnMk"),
            ["high_entropy_token"]
        );
    }

    #[test]
    fn near_misses_do_not_fire() {
        for text in [
            "order 4111 1111 1111 1112 shipped",
            "version 1.2.3, build 20261123",
            "room 123-45-678",
            "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "DE12 not an iban",
            "the quick brown fox jumps over the lazy dog",
        ] {
            assert!(detected(text).is_empty(), "{text}: {:?}", detected(text));
        }
    }

    #[test]
    fn labels_set_the_class_and_nothing_found_is_restricted() {
        let c = classify("contact jane@example.com", DataClass::Restricted);
        assert_eq!(c.class, DataClass::Confidential);
        assert!(c.labels.contains(&DataLabel::Pii));
        let c = classify(
            "IBAN GB82WEST12345698765432 and jane@example.com",
            DataClass::Restricted,
        );
        assert_eq!(c.class, DataClass::Restricted);
        let c = classify("the build is green", DataClass::Restricted);
        assert_eq!((c.class, c.defaulted), (DataClass::Restricted, true));
        let c = classify("the build is green", DataClass::Internal);
        assert_eq!(c.class, DataClass::Internal);
    }

    fn target(host: &str, path: &str) -> aarmor_core::ActionTarget {
        aarmor_core::ActionTarget {
            host: host.into(),
            port: 443,
            method: "GET".into(),
            path: path.into(),
        }
    }

    const RULES: &str = r#"
rules:
  - name: employee-id
    regex: '\bEMP-\d{6}\b'
    label: PII
  - name: salary-field
    json_path: '$..salary'
    label: FINANCIAL
  - name: marked
    regex: '(?i)internal use only'
    class: CONFIDENTIAL
  - name: status-page
    route: {host: "*.status.example", path: "/api/*"}
    class: PUBLIC
"#;

    #[test]
    fn operator_rules_add_labels_classes_and_route_defaults() {
        let c = Classifiers::compile(&[("classifiers/t.yaml".into(), RULES.into())]).unwrap();
        assert_eq!(c.len(), 4);
        let anywhere = target("api.example.com", "/x");
        let r = c.classify(
            "badge EMP-123456 checked in",
            &anywhere,
            DataClass::Restricted,
        );
        assert_eq!(
            (r.class, r.labels.contains(&DataLabel::Pii)),
            (DataClass::Confidential, true)
        );
        assert!(r.findings.iter().any(|f| f.detector == "employee-id"));
        let r = c.classify(
            r#"{"people": [{"name": "a", "salary": 10}]}"#,
            &anywhere,
            DataClass::Restricted,
        );
        assert_eq!(r.class, DataClass::Restricted);
        assert!(r.labels.contains(&DataLabel::Financial));
        let r = c.classify(
            "INTERNAL USE ONLY: roadmap",
            &anywhere,
            DataClass::Restricted,
        );
        assert_eq!((r.class, r.defaulted), (DataClass::Confidential, false));
        // The route's class replaces the default for what nothing else classified...
        let status = target("eu.status.example", "/api/v1/summary");
        let r = c.classify("all systems operational", &status, DataClass::Restricted);
        assert_eq!((r.class, r.defaulted), (DataClass::Public, true));
        // ...but detections still count.
        let r = c.classify("contact ops@example.com", &status, DataClass::Restricted);
        assert_eq!(r.class, DataClass::Confidential);
        // Another path of that host is not labelled.
        let r = c.classify(
            "all systems operational",
            &target("eu.status.example", "/admin"),
            DataClass::Restricted,
        );
        assert_eq!(r.class, DataClass::Restricted);
    }

    #[test]
    fn bad_rules_are_refused_with_the_file_and_rule_named() {
        for (text, want) in [
            (
                "rules:\n  - name: x\n    regex: '('\n    label: PII\n",
                "rule `x`: regex",
            ),
            (
                "rules:\n  - name: y\n    json_path: '$[?'\n    label: PII\n",
                "rule `y`: json_path",
            ),
            (
                "rules:\n  - name: z\n    label: PII\n",
                "exactly one of regex, json_path, route",
            ),
            (
                "rules:\n  - name: w\n    regex: 'a'\n",
                "a label, a class, or both",
            ),
            (
                "rules:\n  - name: v\n    regex: 'a'\n    label: SECRETS\n",
                "classifiers/bad.yaml",
            ),
        ] {
            let e =
                Classifiers::compile(&[("classifiers/bad.yaml".into(), text.into())]).unwrap_err();
            assert!(
                e.contains(want) && e.contains("classifiers/bad.yaml"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_shipped_classifiers_compile_and_fire() {
        let path = crate::repo_root().join("policies/classifiers/default.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let c = Classifiers::compile(&[("classifiers/default.yaml".into(), text)]).unwrap();
        let t = target("api.example.com", "/x");
        let jwt = "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert!(c
            .classify(jwt, &t, DataClass::Restricted)
            .labels
            .contains(&DataLabel::Credentials));
        let r = c.classify(r#"{"user": {"password": "x"}}"#, &t, DataClass::Restricted);
        assert!(r.labels.contains(&DataLabel::Secret));
    }
}
