//! Data classification: how sensitive what an action touched is (AARM R2).
//!
//! Classes are ordered PUBLIC < INTERNAL < CONFIDENTIAL < RESTRICTED; labels say why. Data that
//! nothing classified counts as RESTRICTED unless the caller says otherwise (the R2 default).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataClass {
    Public,
    Internal,
    Confidential,
    Restricted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataLabel {
    Pii,
    Phi,
    Financial,
    Secret,
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
    pub label: DataLabel,
    /// Which detector (`email`, `payment_card`, `iban`, ...).
    pub detector: String,
    pub count: usize,
}

/// The classification of one piece of data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub class: DataClass,
    pub labels: BTreeSet<DataLabel>,
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
