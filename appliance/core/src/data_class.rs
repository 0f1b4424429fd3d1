//! Data classification: how sensitive what an action touched is (AARM R2).
//!
//! Classes are ordered PUBLIC < INTERNAL < CONFIDENTIAL < RESTRICTED; labels say why. Data that
//! nothing classified counts as RESTRICTED unless the caller says otherwise (the R2 default).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// How sensitive data is (AARM R2), ordered least to most: `PUBLIC` < `INTERNAL` <
/// `CONFIDENTIAL` < `RESTRICTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataClass {
    /// Fit for anyone to see.
    Public,
    /// For the organisation's own use.
    Internal,
    /// Harmful if disclosed; the least class of personal data (PII).
    Confidential,
    /// The most sensitive: health and financial data, secrets, credentials; also the R2 default
    /// for data nothing classified.
    Restricted,
}

/// Why data is sensitive: the kind of data a detector or an operator rule found. Each label
/// implies a least class ([`DataLabel::class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataLabel {
    /// Personal data (e-mail addresses, phone numbers, US social security numbers): CONFIDENTIAL.
    Pii,
    /// Protected health information: RESTRICTED.
    Phi,
    /// Financial account data (payment cards, IBANs): RESTRICTED.
    Financial,
    /// Private keys and high-entropy tokens: RESTRICTED.
    Secret,
    /// API keys of known providers: RESTRICTED.
    Credentials,
}

impl DataLabel {
    /// The least class data with this label has.
    pub fn class(self) -> DataClass {
        match self {
            Self::Pii => DataClass::Confidential,
            Self::Phi | Self::Financial | Self::Secret | Self::Credentials => DataClass::Restricted,
        }
    }
}

/// One detector's hits in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The kind of data the detector finds.
    pub label: DataLabel,
    /// Which detector (`email`, `payment_card`, `iban`, ...).
    pub detector: String,
    /// How many confirmed, non-overlapping matches; at least 1.
    pub count: usize,
}

/// The classification of one piece of data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// The highest class any label (or operator rule) gives the data, else the default.
    pub class: DataClass,
    /// The labels of the findings, each once; empty when nothing was found.
    pub labels: BTreeSet<DataLabel>,
    /// What each detector or rule found; empty when nothing fired.
    pub findings: Vec<Finding>,
    /// True when nothing classified the data and the class is the default.
    pub defaulted: bool,
}

impl Classification {
    /// From findings; `default` applies when there are none.
    pub fn from_findings(findings: Vec<Finding>, default: DataClass) -> Self {
        let labels: BTreeSet<DataLabel> = findings.iter().map(|f| f.label).collect();
        match labels.iter().map(|l| l.class()).max() {
            Some(class) => Self {
                class,
                labels,
                findings,
                defaulted: false,
            },
            None => Self {
                class: default,
                labels,
                findings,
                defaulted: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_ordered_and_unclassified_data_takes_the_default() {
        assert!(DataClass::Public < DataClass::Internal);
        assert!(DataClass::Confidential < DataClass::Restricted);
        let c = Classification::from_findings(vec![], DataClass::Restricted);
        assert_eq!((c.class, c.defaulted), (DataClass::Restricted, true));
        let c = Classification::from_findings(
            vec![Finding {
                label: DataLabel::Pii,
                detector: "email".into(),
                count: 2,
            }],
            DataClass::Restricted,
        );
        assert_eq!((c.class, c.defaulted), (DataClass::Confidential, false));
        assert_eq!(serde_json::to_value(DataLabel::Pii).unwrap(), "PII");
    }
}
