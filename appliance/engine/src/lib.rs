//! The mediation engine: the [`Mediator`] seam the data plane calls on every exchange, and the
//! mediators that implement it.
//!
//! The engine never sees sockets. The data plane guarantees that a mediator error or timeout
//! refuses the exchange (fail closed); mediators only have to say what they decided.

pub mod allow_all;
pub mod mediator;

pub use allow_all::AllowAllMediator;
pub use mediator::{
    BodyVerdict, Exchange, HeadVerdict, HeaderRewrite, Inspection, MediationError, Mediator,
    ResponseVerdict,
};
