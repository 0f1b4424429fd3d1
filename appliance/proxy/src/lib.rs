//! aarmor's data plane: the listeners, CONNECT / transparent / bypass handling, the interception
//! CA and leaf minting, and the pingora HTTP engine that calls the mediator on every exchange.
//!
//! Only this crate knows pingora. The path of a connection: [`front`] classifies and terminates
//! TLS → [`facts`] records what is known about the connection → [`http_engine`] routes and
//! mediates each request (→ [`inspect`] when the mediator wants bodies or the response). The
//! default mediator is [`actions::ActionMediator`]: it turns exchanges into canonical actions
//! with `aarmor-protocols` and asks an `ActionEngine` about each.

pub mod actions;
pub mod admin;
pub mod budget;
pub mod bypass;
pub mod ca;
pub mod console;
pub mod decode;
pub mod dial;
pub mod facts;
pub mod front;
pub mod head;
pub mod host_names;
pub mod http_engine;
pub mod inspect;
pub mod metrics;
pub mod mint;
pub mod mtls;
pub mod plane;
pub mod refusal;
pub mod server;
pub mod settings;
pub mod sni;
pub mod tls_listener;
pub mod upstream;
pub mod ws_mediation;

pub use server::{prepare, AdminApprovals, DataPlaneConfig, Decider, Prepared, StartError};
pub use settings::{AdminSettings, MediationSettings, ProxySettings, UpstreamSettings};
