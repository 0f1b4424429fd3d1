//! The answer to one action, as the data plane enforces it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Map, Value};

/// Why an action was refused, for the agent and for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The rule that decided, when one did.
    pub rule: Option<String>,
    /// Why, in plain words, for the agent and the log.
    pub reason: String,
}

/// Replacement parameters for an allowed action.
#[derive(Debug, Clone, PartialEq)]
pub struct Modification {
    /// The rule that modified, when one did (rules of one priority joined with `,`).
    pub rule: Option<String>,
    /// Why the parameters were changed.
    pub reason: String,
    /// The new parameters, replacing the old ones entirely.
    pub parameters: Map<String, Value>,
}

/// A decision that is not known yet (approval, deferral): the data plane parks the action until
/// `resolution` completes or `timeout` passes, which counts as a denial.
pub struct Hold {
    /// Why the action is held; repeated in the denial if the hold does not resolve.
    pub reason: String,
    /// How long the hold may last; the data plane also caps it at its own hold limit.
    pub timeout: Duration,
    /// Completes with the verdict once it is known; another hold from it is a denial.
    pub resolution: Pin<Box<dyn Future<Output = Verdict> + Send>>,
}

impl fmt::Debug for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hold")
            .field("reason", &self.reason)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What happens to one action.
#[derive(Debug)]
pub enum Verdict {
    /// Forward the action as it is.
    Allow,
    /// Refuse the action.
    Deny(Denial),
    /// Forward the action with the replacement parameters.
    Modify(Modification),
    /// Park the action until the decision is known or the hold times out (a denial).
    Hold(Hold),
}

/// A verdict after any hold has been resolved: what the data plane renders.
#[derive(Debug, Clone, PartialEq)]
pub enum FinalVerdict {
    /// Forward the action as it is.
    Allow,
    /// Refuse the action.
    Deny(Denial),
    /// Forward the action with the replacement parameters.
    Modify(Modification),
}

impl Verdict {
    /// Waits for a held verdict, bounded by its timeout and by `max_hold`. A timeout, or a hold
    /// that resolves to another hold, is a denial.
    pub async fn settle<S, F>(self, max_hold: Duration, sleep: S) -> FinalVerdict
    where
        S: FnOnce(Duration) -> F,
        F: Future<Output = ()>,
    {
        match self {
            Verdict::Allow => FinalVerdict::Allow,
            Verdict::Deny(d) => FinalVerdict::Deny(d),
            Verdict::Modify(m) => FinalVerdict::Modify(m),
            Verdict::Hold(hold) => {
                let limit = hold.timeout.min(max_hold);
                let reason = hold.reason.clone();
                let timer = sleep(limit);
                match select(hold.resolution, timer).await {
                    Some(Verdict::Allow) => FinalVerdict::Allow,
                    Some(Verdict::Deny(d)) => FinalVerdict::Deny(d),
                    Some(Verdict::Modify(m)) => FinalVerdict::Modify(m),
                    Some(Verdict::Hold(_)) => FinalVerdict::Deny(Denial {
                        rule: None,
                        reason: format!("held action ({reason}) was held again; refused"),
                    }),
                    None => FinalVerdict::Deny(Denial {
                        rule: None,
                        reason: format!(
                            "held action ({reason}) was not resolved within {} ms; refused",
                            limit.as_millis()
                        ),
                    }),
                }
            }
        }
    }
}

/// Polls `work` and `timer` together; `None` when the timer finishes first.
async fn select<W, T>(work: W, timer: T) -> Option<W::Output>
where
    W: Future,
    T: Future<Output = ()>,
{
    let mut work = std::pin::pin!(work);
    let mut timer = std::pin::pin!(timer);
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(v));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(None);
        }
        std::task::Poll::Pending
    })
    .await
}
