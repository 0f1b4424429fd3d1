//! Mediation: what the data plane asks on every exchange, and the default answer.
//!
//! - [`seam`]: the [`Mediator`] contract the data plane calls (request head, body, response,
//!   upgraded messages, outcome) and the invariants the data plane keeps for it.
//! - [`action_engine`]: the [`ActionEngine`] contract: decide one canonical action, record what
//!   the agent saw and what an action did. The policy engine (`aarmor-engine`) implements it.
//! - [`action`]: [`ActionMediator`], the default mediator: it turns exchanges into canonical
//!   actions and observations with `aarmor-protocols`, asks the engine about each action, and
//!   renders the verdicts back into the wire format the agent speaks.
//! - [`allow_all`]: a mediator that forwards everything (mediation switched off), logged.
//! - [`scrub`]: brokered secrets found and replaced in what comes back (the response scrubber).
//!
//! The trip of a request runs one way: data plane → [`Mediator`] → protocols → [`ActionEngine`].
//! This crate knows neither pingora nor sockets, nor how a decision is made.
#![deny(missing_docs)]

pub mod action;
pub mod action_engine;
pub mod allow_all;
pub mod metrics;
pub mod scrub;
pub mod seam;
pub mod settings;

pub use action::ActionMediator;
pub use action_engine::ActionEngine;
pub use allow_all::AllowAllMediator;
pub use metrics::MediationMetrics;
pub use scrub::{ScrubSet, Scrubber};
pub use seam::{
    BodyVerdict, Direction, Exchange, ExchangeInspector, ExchangeOutcome, HeadVerdict,
    HeaderRewrite, MediationError, Mediator, Relayed, RequestEdit, ResponsePlan, ResponseVerdict,
};
pub use settings::MediationSettings;
