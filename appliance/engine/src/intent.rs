//! Intent signals (AARM R3, R7): embedding drift between what the user asked and what the agent
//! is doing, computed only when a rule needs it.
//!
//! The model itself lives behind [`Embedder`] (the cli's adapter implements it over
//! `aarmor-intent`'s model, so this crate does not build the ONNX runtime). [`IntentService`] puts it on the hot path safely:
//! - a bounded pool of `threads` blocking threads runs the model, never the async workers;
//! - texts queued while the model is busy are embedded together, up to `max_batch`;
//! - an LRU cache answers texts seen before without running the model;
//! - every wait is bounded by `timeout_ms`; past it the signal stays unknown (and rules that
//!   require it defer, then deny).

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use prometheus::IntCounter;
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use crate::settings::IntentSettings;

/// Why an embedding is not available: the action's drift is then unknown (a rule that needs it
/// decides without it, as its policy says).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntentError {
    /// The model failed to load (its loader's message); it is not retried.
    #[error("the embedding model did not load: {0}")]
    LoadFailed(String),
    #[error("the embedding model is still loading")]
    StillLoading,
    #[error("the embedding model is not loaded")]
    NotLoaded,
    /// More requests wait than the service queues; this one fails at once.
    #[error("the embedding queue is full")]
    QueueFull,
    #[error("the embedding worker stopped")]
    WorkerStopped,
    #[error("no embedding within {0} ms")]
    Timeout(u128),
    /// The model answered, but not one vector per text.
    #[error("the model returned {got} vectors for {asked} texts")]
    WrongCount { asked: usize, got: usize },
    /// The model itself failed on this batch.
    #[error("the embedding model failed: {0}")]
    Model(String),
}

/// A sentence-embedding model: L2-normalized vectors, one per text, in order.
pub trait Embedder: Send + Sync + 'static {
    fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String>;
}

/// Loads the model (in the background, once).
pub type Loader = Box<dyn FnOnce() -> Result<Arc<dyn Embedder>, String> + Send>;

enum ModelState {
    NotLoaded(Option<Loader>),
    Loading,
    Ready(Arc<dyn Embedder>),
    Failed(String),
}

type Vector = Arc<Vec<f32>>;

struct Job {
    text: String,
    reply: oneshot::Sender<Result<Vector, IntentError>>,
}

/// Counters, exported as `aarmor_intent_*` metrics.
#[derive(Debug, Clone)]
pub struct IntentStats {
    /// Texts answered from the cache.
    pub cache_hits: IntCounter,
    /// Texts run through the model.
    pub embedded: IntCounter,
    /// Runs of the model (a batch is one run).
    pub batches: IntCounter,
    /// Embeddings that failed or timed out (drift stayed unknown).
    pub failures: IntCounter,
    /// Decisions whose drift was not known within `timeout_ms`: deferred, then resolved when
    /// the model answered (a busy appliance decides them later, not differently).
    pub late: IntCounter,
}

fn counter(name: &str, help: &str) -> IntCounter {
    // Names and help are constants of this module: valid by construction.
    IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"))
}

impl Default for IntentStats {
    fn default() -> Self {
        Self {
            cache_hits: counter(
                "intent_cache_hits_total",
                "Texts whose embedding came from the cache",
            ),
            embedded: counter(
                "intent_embeddings_total",
                "Texts run through the embedding model",
            ),
            batches: counter(
                "intent_model_runs_total",
                "Runs of the embedding model (a batch is one run)",
            ),
            failures: counter(
                "intent_failures_total",
                "Embeddings that failed or timed out (drift unknown)",
            ),
            late: counter(
                "intent_drift_late_total",
                "Decisions whose drift missed timeout_ms (deferred until the model answered)",
            ),
        }
    }
}

impl IntentStats {
    pub fn register(&self, registry: &prometheus::Registry) {
        for c in [
            &self.cache_hits,
            &self.embedded,
            &self.batches,
            &self.failures,
            &self.late,
        ] {
            if let Err(e) = registry.register(Box::new(c.clone())) {
                tracing::warn!(error = %e, "cannot register an intent metric");
            }
        }
    }
}

struct Shared {
    settings: IntentSettings,
    model: Mutex<ModelState>,
    model_changed: Condvar,
    queue: Mutex<VecDeque<Job>>,
    queued: Condvar,
    cache: Mutex<lru::LruCache<String, Vector>>,
    stats: IntentStats,
}

/// The embedding service; cheap to clone.
#[derive(Clone)]
pub struct IntentService {
    shared: Arc<Shared>,
}

/// Jobs waiting at most; beyond, a request fails at once (drift unknown).
const MAX_QUEUE: usize = 1024;

impl IntentService {
    /// A service whose model is loaded by `loader` the first time it is needed (or by
    /// [`IntentService::load_now`]).
    pub fn new(settings: IntentSettings, loader: Loader) -> Self {
        let cache = NonZeroUsize::new(settings.cache_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        let shared = Arc::new(Shared {
            model: Mutex::new(ModelState::NotLoaded(Some(loader))),
            model_changed: Condvar::new(),
            queue: Mutex::new(VecDeque::new()),
            queued: Condvar::new(),
            cache: Mutex::new(lru::LruCache::new(cache)),
            stats: IntentStats::default(),
            settings,
        });
        for i in 0..shared.settings.threads.max(1) {
            let s = shared.clone();
            let _ = std::thread::Builder::new()
                .name(format!("aarmor-intent-{i}"))
                .spawn(move || worker(s));
        }
        Self { shared }
    }

    /// A service over a model that is already loaded.
    pub fn with_embedder(settings: IntentSettings, embedder: Arc<dyn Embedder>) -> Self {
        Self::new(settings, Box::new(move || Ok(embedder)))
    }

    pub fn settings(&self) -> &IntentSettings {
        &self.shared.settings
    }

    pub fn stats(&self) -> &IntentStats {
        &self.shared.stats
    }

    /// Starts loading the model if it is not; returns at once.
    pub fn start_loading(&self) {
        let loader = {
            let mut m = self.shared.model.lock().unwrap_or_else(|p| p.into_inner());
            match &mut *m {
                ModelState::NotLoaded(l) => {
                    let l = l.take();
                    *m = ModelState::Loading;
                    l
                }
                _ => None,
            }
        };
        let Some(loader) = loader else { return };
        let shared = self.shared.clone();
        let _ = std::thread::Builder::new()
            .name("aarmor-intent-load".into())
            .spawn(move || {
                let result = loader();
                let mut m = shared.model.lock().unwrap_or_else(|p| p.into_inner());
                *m = match result {
                    Ok(e) => ModelState::Ready(e),
                    Err(e) => {
                        tracing::error!(error = %e, "the embedding model did not load; intent.drift stays unknown");
                        ModelState::Failed(e)
                    }
                };
                shared.model_changed.notify_all();
                shared.queued.notify_all();
            });
    }

    /// Loads the model and waits for it (at start, when the policy bundle needs it).
    pub fn load_now(&self, timeout: Duration) -> Result<(), IntentError> {
        self.start_loading();
        let m = self.shared.model.lock().unwrap_or_else(|p| p.into_inner());
        let (m, _) = self
            .shared
            .model_changed
            .wait_timeout_while(m, timeout, |m| matches!(m, ModelState::Loading))
            .unwrap_or_else(|p| p.into_inner());
        match &*m {
            ModelState::Ready(_) => Ok(()),
            ModelState::Failed(e) => Err(IntentError::LoadFailed(e.clone())),
            _ => Err(IntentError::StillLoading),
        }
    }

    /// The embedding of `text`, from the cache or the model, within `timeout_ms`.
    pub async fn embed(&self, text: &str) -> Result<Vector, IntentError> {
        let timeout = Duration::from_millis(self.shared.settings.timeout_ms);
        self.embed_within(text, timeout).await
    }

    /// The embedding of `text`, from the cache or the model, within `timeout`.
    pub async fn embed_within(&self, text: &str, timeout: Duration) -> Result<Vector, IntentError> {
        if let Some(v) = self
            .shared
            .cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(text).cloned())
        {
            self.shared.stats.cache_hits.inc();
            return Ok(v);
        }
        self.start_loading();
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            if q.len() >= MAX_QUEUE {
                self.shared.stats.failures.inc();
                return Err(IntentError::QueueFull);
            }
            q.push_back(Job {
                text: text.to_string(),
                reply: tx,
            });
        }
        self.shared.queued.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(IntentError::WorkerStopped),
            Err(_) => {
                self.shared.stats.failures.inc();
                Err(IntentError::Timeout(timeout.as_millis()))
            }
        }
    }
}

fn worker(shared: Arc<Shared>) {
    loop {
        // Wait for work, then for the model.
        let jobs: Vec<Job> = {
            let q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            let mut q = shared
                .queued
                .wait_while(q, |q| q.is_empty())
                .unwrap_or_else(|p| p.into_inner());
            let n = q.len().min(shared.settings.max_batch.max(1));
            q.drain(..n).collect()
        };
        let model = {
            let m = shared.model.lock().unwrap_or_else(|p| p.into_inner());
            let m = shared
                .model_changed
                .wait_while(m, |m| matches!(m, ModelState::Loading))
                .unwrap_or_else(|p| p.into_inner());
            match &*m {
                ModelState::Ready(e) => Ok(e.clone()),
                ModelState::Failed(e) => Err(IntentError::LoadFailed(e.clone())),
                _ => Err(IntentError::NotLoaded),
            }
        };
        // Callers that gave up already are not embedded for.
        let jobs: Vec<Job> = jobs.into_iter().filter(|j| !j.reply.is_closed()).collect();
        if jobs.is_empty() {
            continue;
        }
        let texts: Vec<String> = jobs.iter().map(|j| j.text.clone()).collect();
        let result = model.and_then(|m| m.embed_batch(&texts).map_err(IntentError::Model));
        shared.stats.batches.inc();
        match result {
            Ok(vectors) if vectors.len() == jobs.len() => {
                shared.stats.embedded.inc_by(jobs.len() as u64);
                let mut cache = shared.cache.lock().unwrap_or_else(|p| p.into_inner());
                for (job, v) in jobs.into_iter().zip(vectors) {
                    let v = Arc::new(v);
                    cache.put(job.text, v.clone());
                    let _ = job.reply.send(Ok(v));
                }
            }
            Ok(vectors) => {
                let wrong = IntentError::WrongCount {
                    asked: jobs.len(),
                    got: vectors.len(),
                };
                for job in jobs {
                    let _ = job.reply.send(Err(wrong.clone()));
                }
            }
            Err(e) => {
                shared.stats.failures.inc();
                for job in jobs {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// The text an action is embedded as: `tool.operation(key=value, ...)`, cut to `max_chars`.
/// Parameters nested in objects (a REST body) are listed by their own key; empty values are left
/// out; a REST tool (`host/path`) is named by its path, since the host carries no intent.
pub fn action_text(
    tool: &str,
    operation: &str,
    params: &Map<String, Value>,
    max_chars: usize,
) -> String {
    fn flatten(params: &Map<String, Value>, depth: usize, out: &mut Vec<String>) {
        for (k, v) in params {
            match v {
                Value::String(s) if s.is_empty() => {}
                Value::String(s) => out.push(format!("{k}={s}")),
                Value::Object(inner) if depth < 3 => flatten(inner, depth + 1, out),
                Value::Object(inner) if inner.is_empty() => {}
                Value::Array(a) if a.is_empty() => {}
                Value::Null => {}
                other => out.push(format!("{k}={other}")),
            }
        }
    }
    let mut args = Vec::new();
    flatten(params, 0, &mut args);
    let name = match tool.split_once('/') {
        Some((host, path)) if host.contains('.') || host == "localhost" => path,
        _ => tool,
    };
    let text = format!("{name}.{operation}({})", args.join(", "));
    text.chars().take(max_chars).collect()
}

/// Cosine similarity of two L2-normalized vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A toy embedder for tests: letter counts, L2-normalized — texts with the same letters are
/// close, texts with different ones far. Counts its model runs and texts.
pub mod testing {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::Embedder;

    #[derive(Default)]
    pub struct Letters {
        pub calls: AtomicU64,
        pub texts: AtomicU64,
    }

    impl Embedder for Letters {
        fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.texts.fetch_add(texts.len() as u64, Ordering::Relaxed);
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = [0f32; 26];
                    for c in t
                        .to_ascii_lowercase()
                        .bytes()
                        .filter(u8::is_ascii_lowercase)
                    {
                        v[(c - b'a') as usize] += 1.0;
                    }
                    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
                    v.iter().map(|x| x / n).collect()
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    use super::testing::Letters;

    #[tokio::test]
    async fn embeds_through_the_pool_and_caches() {
        let model = Arc::new(Letters::default());
        let s = IntentService::with_embedder(IntentSettings::default(), model.clone());
        let a = s.embed("send the report").await.unwrap();
        let b = s.embed("send the report").await.unwrap();
        assert_eq!(a, b);
        assert_eq!(model.calls.load(Ordering::Relaxed), 1);
        assert_eq!(s.stats().cache_hits.get(), 1);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
    }

    /// Letters, but slow: texts queued meanwhile are batched.
    struct Slow(Letters);

    impl Embedder for Slow {
        fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
            std::thread::sleep(Duration::from_millis(60));
            self.0.embed_batch(texts)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_texts_are_embedded_in_batches() {
        let model = Arc::new(Slow(Letters::default()));
        let settings = IntentSettings {
            timeout_ms: 5000,
            ..IntentSettings::default()
        };
        let s = IntentService::with_embedder(settings, model.clone());
        let handles: Vec<_> = (0..17)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move { s.embed(&format!("text number {i}")).await })
            })
            .collect();
        for h in handles {
            assert!(h.await.unwrap().is_ok());
        }
        let calls = model.0.calls.load(Ordering::Relaxed);
        assert_eq!(s.stats().embedded.get(), 17);
        assert!((3..17).contains(&calls), "17 texts in {calls} model calls");
    }

    #[tokio::test]
    async fn a_model_that_fails_to_load_leaves_drift_unknown() {
        let settings = IntentSettings {
            timeout_ms: 500,
            ..IntentSettings::default()
        };
        let s = IntentService::new(settings, Box::new(|| Err("no model here".into())));
        let e = s.embed("x").await.unwrap_err();
        assert_eq!(e, IntentError::LoadFailed("no model here".into()));
        assert!(s.load_now(Duration::from_secs(1)).is_err());
    }

    #[test]
    fn action_text_is_tool_operation_and_arguments_cut() {
        let p = json!({"to": "a@b.example", "amount": 5});
        let t = action_text("email.send", "call", p.as_object().unwrap(), 512);
        assert_eq!(t, "email.send.call(amount=5, to=a@b.example)");
        assert_eq!(action_text("x", "y", p.as_object().unwrap(), 5), "x.y(a");
        let rest = json!({"body": {"name": "blue widget", "tags": []}, "query": {}});
        assert_eq!(
            action_text(
                "api.example.com/v1/items",
                "post",
                rest.as_object().unwrap(),
                512
            ),
            "v1/items.post(name=blue widget)"
        );
    }
}
