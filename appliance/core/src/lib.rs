//! Domain types shared by every aarmor crate: connections, HTTP exchanges, synthetic responses,
//! and the AARM action model (actions, observations, verdicts).
//!
//! This crate does no I/O.

pub mod action;
pub mod connection;
pub mod http;
pub mod observation;
pub mod verdict;

pub use action::{Action, ActionId, ActionTarget, Identity, Protocol, RiskSignal};
pub use connection::{ConnectionFacts, ConnectionMode, ProxyCredential, Target};
pub use http::{HeaderList, RequestHead, ResponseHead, SyntheticResponse};
pub use observation::{Observation, ObservationKind};
pub use verdict::{Denial, FinalVerdict, Hold, Modification, Verdict};
