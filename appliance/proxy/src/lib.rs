//! aarmor's data plane: the listeners, CONNECT / transparent / bypass handling, the interception
//! CA and leaf minting, and the pingora HTTP engine that calls the mediator on every exchange.
//!
//! Only this crate knows pingora. The path of a connection: [`front`] classifies and terminates
//! TLS → [`facts`] records what is known about the connection → [`http_proxy`] routes and
//! mediates each request (→ [`inspect`] when the mediator wants bodies or the response). The
//! mediator is `aarmor-mediation`'s: the data plane only calls its `Mediator` seam.

pub mod admin;
pub mod admin_http;
pub mod budget;
pub mod bypass;
pub mod ca;
pub mod charts;
pub mod console;
pub mod console_views;
pub mod decode;
pub mod dial;
pub mod exchange;
pub mod facts;
pub mod front;
pub mod head;
pub mod host_names;
pub mod http_proxy;
pub mod inspect;
pub mod listeners;
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

pub use admin_http::AdminApprovals;
pub use server::{prepare, DataPlaneConfig, Decider, Prepared, ShutdownHook, StartError};
pub use settings::{AdminSettings, ProxySettings, UpstreamSettings};
