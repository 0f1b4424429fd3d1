//! Domain types shared by every aarmor crate: connections, HTTP exchanges and synthetic responses.
//!
//! This crate does no I/O. Later layers (actions, decisions, receipts) build on these types.

pub mod connection;
pub mod http;

pub use connection::{ConnectionFacts, ConnectionMode, ProxyCredential, Target};
pub use http::{HeaderList, RequestHead, ResponseHead, SyntheticResponse};
