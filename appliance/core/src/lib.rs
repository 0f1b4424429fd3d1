//! Domain types shared by every aarmor crate: connections, HTTP exchanges, synthetic responses,
//! the AARM action model (actions, observations, decisions, verdicts) and signed receipts.
//!
//! This crate does no I/O.
#![deny(missing_docs)]

pub mod action;
pub mod canonical;
pub mod connection;
pub mod credential;
pub mod data_class;
pub mod decision;
pub mod elide;
pub mod host;
pub mod http;
pub mod ids;
pub mod observation;
pub mod receipt;
pub mod receipt_records;
pub mod session;
pub mod timestamp;
pub mod verdict;

pub use action::{Action, ActionId, ActionTarget, Identity, Protocol, RiskSignal};
pub use connection::{ClientCertificate, ConnectionFacts, ConnectionMode, ProxyCredential, Target};
pub use credential::{Attachment, CredentialAsk, CredentialUse, SentRequest};
pub use data_class::{Classification, DataClass, DataLabel, Finding};
pub use decision::{Decision, DecisionClass};
pub use http::{HeaderList, RequestHead, ResponseHead, SyntheticResponse};
pub use observation::{Observation, ObservationKind, ToolCall};
pub use receipt::{Receipt, ReceiptDecision, ReceiptKind};
pub use session::{SessionId, SessionRef};
pub use verdict::{Denial, FinalVerdict, Hold, Modification, Verdict};
