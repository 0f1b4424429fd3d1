//! The engine's side of `[cluster]`: a decision reads its session from Redis first (fail
//! closed when it cannot), what the engine records in a session is appended to the shared
//! chain, a change another replica made wakes this replica's deferrals, the actions this
//! replica holds are published (and those of a replica that stopped are recorded as denied),
//! and answers given on other replicas reach the approvals held here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use aarmor_core::receipt_records::{Approval, Deferral};
use aarmor_core::{Action, Decision, ReceiptDecision, SessionId};
use async_trait::async_trait;
use serde_json::Value;

use crate::approvals::{ApprovalError, ApprovalRequest, Approver, RemoteApprovals, VoteOutcome};
use crate::cluster::holds::{fingerprint, ForwardedVote, HeldAction, HoldKind};
use crate::cluster::Cluster;
use crate::policy::Resolution;

use super::enforcement::{Decided, ReceiptExtra, Stage};
use super::evaluation::{agent_of, deny_resolution, session_of};
use super::Inner;

/// The DEFERs this replica holds (STEP_UPs are in the approvals queue), for publication.
#[derive(Default)]
pub(super) struct Deferrals(Mutex<HashMap<String, HeldAction>>);

/// Removes a deferral from [`Deferrals`] when its hold ends, however it ends.
pub(super) struct DeferralGuard {
    inner: Weak<Inner>,
    id: String,
}

impl Drop for DeferralGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            if let Ok(mut d) = inner.deferrals.0.lock() {
                d.remove(&self.id);
            }
        }
    }
}

impl Inner {
    /// Brings the action's session up to the shared chain; the denial to record when it cannot.
    /// `again`: a held action decided again reads the session whatever this replica read last.
    pub(super) async fn ready(&self, action: &Action, again: bool) -> Result<(), Box<Resolution>> {
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        let session = session_of(action);
        if cluster
            .name_taken
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(Box::new(deny_resolution(format!(
                "another process runs as cluster replica {}: replica names must be unique (its receipts would mix with this one's); refused (fail closed)",
                cluster.replica()
            ))));
        }
        if cluster.is_unattributed(&session) {
            return Err(Box::new(deny_resolution(format!(
                "context store unavailable: the agent's session could not be read from the shared state when this exchange began (session {session} is a guess); refused (fail closed)"
            ))));
        }
        let synced = if again {
            cluster.sync_now(&self.context, &session).await
        } else {
            cluster.sync(&self.context, &session).await
        };
        synced.map_err(|e| {
                Box::new(deny_resolution(format!(
                    "context store unavailable: the shared session state cannot be read ({e}); refused (fail closed)"
                )))
            })
    }

    /// Appends what was just recorded in the session to the shared chain, in the background
    /// (its order is kept: this replica's appends to one session are serialized).
    pub(super) fn share(&self, session: &SessionId) {
        if let Some(cluster) = &self.cluster {
            let (cluster, ctx, session) = (cluster.clone(), self.context.clone(), session.clone());
            tokio::spawn(async move {
                if let Err(e) = cluster.push(&ctx, &session).await {
                    tracing::warn!(session = %session, error = %e, "context not appended to the shared chain yet; the session's actions are refused until it is");
                }
            });
        }
    }

    /// [`Inner::share`], waited for: what an exchange showed is in the shared chain before the
    /// exchange goes on, so an agent cannot outrun it to another replica.
    pub(super) async fn share_now(&self, session: &SessionId) -> Result<(), String> {
        let Some(cluster) = &self.cluster else {
            return Ok(());
        };
        cluster.push(&self.context, session).await.map_err(|e| {
            tracing::warn!(session = %session, error = %e, "context not appended to the shared chain yet; the exchange is refused, and the session's actions until it is");
            format!("shared state: {e}")
        })
    }
}

/// This replica's lease on what it holds: when its heartbeat last reached Redis (milliseconds
/// on a monotonic clock since the process started; 0: never), and how many times it lapsed.
/// A hold taken under one lapse count is never released under another: in between, the other
/// replicas may have claimed it and recorded it as denied.
#[derive(Default)]
pub(super) struct Lease {
    renewed_ms: std::sync::atomic::AtomicU64,
    lapses: std::sync::atomic::AtomicU64,
}

impl Lease {
    /// The heartbeat that began at `started_ms` reached Redis.
    fn renew(&self, started_ms: u64) {
        self.renewed_ms
            .store(started_ms, std::sync::atomic::Ordering::Release);
    }

    /// Ends the current term, if one was running: `true` when it did (a lapse, not a start).
    fn lapse(&self) -> bool {
        if self.renewed_ms.swap(0, std::sync::atomic::Ordering::AcqRel) == 0 {
            return false;
        }
        self.lapses
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        true
    }
}

/// Milliseconds since the process started (monotonic: a clock step changes nothing).
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1
}

impl Inner {
    /// Whether this replica's heartbeat may have expired: the other replicas may then have
    /// claimed what it holds and recorded it as denied, so none of it may be released here.
    pub(super) fn lease_lost(&self) -> bool {
        let Some(cluster) = &self.cluster else {
            return false;
        };
        let last = self
            .lease
            .renewed_ms
            .load(std::sync::atomic::Ordering::Acquire);
        let timeout_ms = cluster.settings().replica_timeout_s.saturating_mul(1000);
        // A margin of one heartbeat: the lease is given up before the others may claim.
        let margin = cluster.settings().heartbeat_s.saturating_mul(1000);
        last == 0 || monotonic_ms().saturating_sub(last) > timeout_ms.saturating_sub(margin)
    }

    /// The lease's lapse count now (taken when a hold starts).
    pub(super) fn lease_term(&self) -> u64 {
        self.lease.lapses.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether a hold taken in lease term `term` may be released now.
    pub(super) fn may_release(&self, term: u64) -> bool {
        self.cluster.is_none() || (!self.lease_lost() && self.lease_term() == term)
    }

    pub(super) fn replica_name(&self) -> String {
        self.cluster
            .as_ref()
            .map(|c| c.replica().to_string())
            .unwrap_or_default()
    }

    /// Registers a DEFER this replica holds (`[cluster]`); it leaves when the guard drops.
    pub(super) fn hold_deferral(
        self: &Arc<Self>,
        action: &Action,
        receipt_id: &str,
    ) -> Option<DeferralGuard> {
        let cluster = self.cluster.as_ref()?;
        let held = HeldAction {
            replica: cluster.replica().to_string(),
            kind: HoldKind::Defer,
            id: receipt_id.to_string(),
            receipt_id: receipt_id.to_string(),
            action: action.clone(),
            context: Value::Null,
            since: aarmor_core::timestamp::now_rfc3339_millis(),
            approval: None,
        };
        if let Ok(mut d) = self.deferrals.0.lock() {
            d.insert(receipt_id.to_string(), held);
        }
        Some(DeferralGuard {
            inner: Arc::downgrade(self),
            id: receipt_id.to_string(),
        })
    }

    /// What this replica holds now: its STEP_UPs and DEFERs.
    fn held_here(&self, replica: &str) -> Vec<HeldAction> {
        let mut out: Vec<HeldAction> = self
            .approvals
            .list_local()
            .into_iter()
            .map(|r| HeldAction {
                replica: replica.to_string(),
                kind: HoldKind::StepUp,
                id: r.id.clone(),
                receipt_id: r.receipt_id.clone(),
                action: r.action.clone(),
                context: r.context.clone(),
                since: r.created.clone(),
                approval: Some(r),
            })
            .collect();
        if let Ok(d) = self.deferrals.0.lock() {
            out.extend(d.values().cloned());
        }
        out
    }

    /// Records the denial of an action a replica held when it stopped: its agent's connection
    /// went with it, so the action never ran.
    async fn deny_lost(&self, held: HeldAction, me: &str) {
        let replica = held.replica.clone();
        let (approval, deferral) = match held.kind {
            HoldKind::StepUp => (
                Some(Approval::ReplicaLost {
                    id: held.id.clone(),
                    replica: replica.clone(),
                }),
                None,
            ),
            HoldKind::Defer => (
                None,
                Some(Deferral::ReplicaLost {
                    replica: replica.clone(),
                }),
            ),
        };
        let rule = "cluster.replica_lost";
        let reason = if replica == me {
            "this replica restarted while it held the action (its agent's connection went with it); recorded as denied".to_string()
        } else {
            format!("replica {replica} stopped while it held the action (its agent's connection went with it); recorded as denied by replica {me}")
        };
        let receipt = self
            .receipt(Decided {
                stage: Stage::Resolution {
                    follows: held.receipt_id.clone(),
                },
                action: &held.action,
                input: &held.context,
                decision: ReceiptDecision {
                    result: Decision::Deny,
                    class: None,
                    rule: Some(rule.into()),
                    reason,
                    enforced: true,
                    policy: self.current().policy.clone(),
                },
                extra: ReceiptExtra {
                    approval,
                    deferral,
                    ..ReceiptExtra::default()
                },
            })
            .await;
        match receipt {
            Ok(r) => {
                tracing::warn!(replica = %replica, action = %held.action.action_id, receipt = %r.receipt_id, "an action held by a stopped replica recorded as denied")
            }
            Err(e) => {
                tracing::error!(replica = %replica, action = %held.action.action_id, error = %e, "cannot record the denial of an action a stopped replica held")
            }
        }
        let session = session_of(&held.action);
        self.context.record_resolution(
            &session,
            agent_of(&held.action),
            &held.action,
            Decision::Deny.as_str(),
            Some(rule),
        );
        self.share(&session);
    }
}

/// The approvals other replicas hold, as this replica's queue shows them.
struct ClusterApprovals {
    cluster: Arc<Cluster>,
    cache: Mutex<Vec<HeldAction>>,
    /// Who may answer (this replica's configuration).
    directory: Weak<crate::approvals::Approvals>,
}

#[async_trait]
impl RemoteApprovals for ClusterApprovals {
    fn held_elsewhere(&self) -> Vec<ApprovalRequest> {
        self.cache
            .lock()
            .map(|c| c.iter().filter_map(|h| h.approval.clone()).collect())
            .unwrap_or_default()
    }

    async fn vote(
        &self,
        id: &str,
        approver: &Approver,
        approve: bool,
        comment: Option<String>,
        via: &str,
    ) -> Option<Result<VoteOutcome, ApprovalError>> {
        let holder = self.cache.lock().ok().and_then(|c| {
            c.iter()
                .find(|h| h.kind == HoldKind::StepUp && h.id == id)
                .map(|h| h.replica.clone())
        })?;
        let Some(credential) = self
            .directory
            .upgrade()
            .and_then(|a| a.directory().vote_key(&approver.name, approver.operator))
        else {
            return Some(Err(ApprovalError::NotFound(id.to_string())));
        };
        let key = self
            .cluster
            .vote_key(&approver.name, approver.operator, credential);
        let vote = ForwardedVote {
            nonce: String::new(),
            id: id.to_string(),
            approver: approver.name.clone(),
            operator: approver.operator,
            approve,
            comment,
            via: via.to_string(),
            from: String::new(),
            deadline_ms: 0,
            mac: String::new(),
        };
        Some(match self.cluster.forward_vote(&holder, vote, &key).await {
            Ok(outcome) => outcome,
            Err(e) => Err(ApprovalError::Unreachable(
                id.to_string(),
                holder,
                e.to_string(),
            )),
        })
    }
}

/// Runs [`start`] on a thread of its own with its own runtime, so that the replica says it is
/// alive, publishes its keys and claims what it held before a restart from the moment it starts,
/// traffic or not.
pub(super) fn start_thread(inner: &Arc<Inner>) {
    let Some(cluster) = inner.cluster.clone() else {
        return;
    };
    let inner = Arc::downgrade(inner);
    let spawned = std::thread::Builder::new()
        .name("aarmor-cluster".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the cluster tasks");
                    return;
                }
            };
            rt.block_on(async move {
                if let Some(inner) = inner.upgrade() {
                    start(&inner, cluster);
                }
                // The tasks end when the engine is dropped; the thread lives with the process.
                std::future::pending::<()>().await
            });
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the cluster thread");
    }
}

/// Wakes deferrals when another replica changed a session, and retries appends that failed
/// while Redis was away; runs until the engine is dropped.
fn start(inner: &Arc<Inner>, cluster: Arc<Cluster>) {
    let weak = Arc::downgrade(inner);
    let listener = cluster.clone();
    tokio::spawn(async move {
        let replica = listener.replica().to_string();
        let channel = format!("{}changed", listener.prefix());
        let holds_channel = format!("{}holds", listener.prefix());
        let mut pause = Duration::from_millis(100);
        loop {
            match listener.subscriber().await {
                Ok(mut sub) => {
                    if sub.subscribe(&channel).await.is_ok()
                        && sub.subscribe(&holds_channel).await.is_ok()
                    {
                        pause = Duration::from_millis(100);
                        // Changes made while unsubscribed were not heard: every session is read
                        // again at its next decision, and waiting deferrals look again now.
                        listener.forget_all_synced();
                        if let Some(inner) = weak.upgrade() {
                            inner.context_changed.send_modify(|g| *g += 1);
                        }
                        let mut messages = sub.on_message();
                        use futures_util::StreamExt;
                        while let Some(m) = messages.next().await {
                            let Some(inner) = weak.upgrade() else { return };
                            let text: String = m.get_payload().unwrap_or_default();
                            if m.get_channel_name() == holds_channel {
                                // Another replica's holds changed: this replica's queue reads
                                // them now, not at its next heartbeat.
                                if text != replica {
                                    inner.approvals.remote_changed();
                                }
                                continue;
                            }
                            // `<replica> <session>`: this replica's own appends woke it already.
                            let (from, session) = text.split_once(' ').unwrap_or(("", ""));
                            if from != replica {
                                listener.forget_synced(session);
                                inner.context_changed.send_modify(|g| *g += 1);
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot subscribe to session changes"),
            }
            if weak.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    });
    let remote = Arc::new(ClusterApprovals {
        cluster: cluster.clone(),
        cache: Mutex::new(Vec::new()),
        directory: Arc::downgrade(&inner.approvals),
    });
    inner.approvals.set_remote(remote.clone());
    tokio::spawn(publish_holds(
        Arc::downgrade(inner),
        cluster.clone(),
        remote,
    ));
    tokio::spawn(answer_forwarded_votes(
        Arc::downgrade(inner),
        cluster.clone(),
    ));
    let weak = Arc::downgrade(inner);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { return };
            for session in inner.context.unpushed_sessions() {
                if cluster.push(&inner.context, &session).await.is_err() {
                    break;
                }
            }
        }
    });
}

/// Every `heartbeat_s`, and at once when the local queue changes: says this replica is alive,
/// publishes what it holds, reads what the others hold, and claims the holds of replicas that
/// stopped (its own from before a restart on the first round).
async fn publish_holds(weak: Weak<Inner>, cluster: Arc<Cluster>, remote: Arc<ClusterApprovals>) {
    let mut changes = match weak.upgrade() {
        Some(inner) => inner.approvals.changes(),
        None => return,
    };
    let period = Duration::from_secs(cluster.settings().heartbeat_s.max(1));
    let me = cluster.replica().to_string();
    let mut first = true;
    // What this replica published last (hold ids and vote counts).
    let mut published: Vec<(String, usize)> = Vec::new();
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if first {
            match cluster.claim_lost_holds(true).await {
                Ok(lost) => {
                    first = false;
                    for h in lost {
                        inner.deny_lost(h, &me).await;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cannot claim this replica's earlier holds yet")
                }
            }
        }
        if !first {
            // Each round: a Redis that was restarted empty has them again.
            if let Err(e) = cluster.publish_keys(&cluster.own_public_keys()).await {
                tracing::debug!(error = %e, "cannot publish this replica's public keys");
            }
            if inner.lease_lost() && inner.lease.lapse() {
                tracing::error!(replica = %me, "this replica's lease lapsed: nothing it holds now will be released");
            }
            let started = monotonic_ms();
            let held = inner.held_here(&me);
            let now_held = fingerprint(&held);
            let changed = now_held != published;
            match cluster.publish_holds(&held, changed).await {
                Ok(()) => {
                    published = now_held;
                    inner.lease.renew(started);
                }
                Err(e @ crate::cluster::ClusterError::NameTaken(_)) => {
                    tracing::error!(replica = %me, error = %e, "replica name taken");
                }
                Err(_) => {}
            }
            if let Ok(others) = cluster.held_by_others().await {
                let changed = remote
                    .cache
                    .lock()
                    .map(|mut c| {
                        let changed = fingerprint(&c) != fingerprint(&others);
                        *c = others;
                        changed
                    })
                    .unwrap_or(false);
                if changed {
                    inner.approvals.remote_changed();
                }
            }
            if let Ok(lost) = cluster.claim_lost_holds(false).await {
                for h in lost {
                    inner.deny_lost(h, &me).await;
                }
            }
        }
        drop(inner);
        // A local change is published at once; others' changes are read each period.
        let _ = tokio::time::timeout(period, changes.changed()).await;
    }
}

/// Applies the votes other replicas forward to the approvals this replica holds.
async fn answer_forwarded_votes(weak: Weak<Inner>, cluster: Arc<Cluster>) {
    let mut conn = None;
    loop {
        if weak.strong_count() == 0 {
            return;
        }
        match cluster
            .next_forwarded_vote(&mut conn, Duration::from_secs(2))
            .await
        {
            Ok(Some(v)) => {
                let Some(inner) = weak.upgrade() else { return };
                let directory = inner.approvals.directory();
                let key = directory
                    .vote_key(&v.approver, v.operator)
                    .map(|c| cluster.vote_key(&v.approver, v.operator, c));
                let approver = directory.approver_named(&v.approver, v.operator);
                let (Some(key), Some(approver)) = (key, approver) else {
                    tracing::warn!(approval = %v.id, approver = %v.approver, from = %v.from, "a forwarded answer names no approver of this replica; dropped");
                    continue;
                };
                if !v.verify(&key, crate::cluster::holds::unix_ms()) {
                    tracing::warn!(approval = %v.id, approver = %v.approver, from = %v.from, "a forwarded answer that is forged, altered or late; dropped");
                    continue;
                }
                let outcome =
                    inner
                        .approvals
                        .vote(&v.id, &approver, v.approve, v.comment.clone(), &v.via);
                tracing::info!(approval = %v.id, approver = %v.approver, from = %v.from, ok = outcome.is_ok(), "answer forwarded by another replica");
                if let Err(e) = cluster.answer_vote(&v.nonce, &outcome).await {
                    tracing::warn!(approval = %v.id, error = %e, "cannot send the outcome of a forwarded answer back");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "cannot read forwarded answers; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
