//! What each agent read across all of its sessions, kept for `session_ttl_s`: naming a fresh
//! session (a new `x-aarm-session` value per request) must not wash away the data an agent has
//! seen (AARM R2). Policy sees these reads merged into any session of the agent.
//!
//! Bounded: at most `max_agents` agents (the least recently active go first) and
//! [`MAX_AGENT_ENTITIES`] entities each.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aarmor_core::{Classification, DataClass, DataLabel};
use serde::Deserialize as _;

use super::entities::Entity;

/// Entities remembered per agent (the most recent).
pub const MAX_AGENT_ENTITIES: usize = 256;

/// What an agent read, as replicas share it (`[cluster]`): every class and label of the data it
/// read, and the most recent entities in it (at most [`MAX_AGENT_ENTITIES`]). One aggregate per
/// agent, merged, never a list that could push an old read out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedReads {
    #[serde(default, deserialize_with = "list_or_empty")]
    pub classes: Vec<DataClass>,
    #[serde(default, deserialize_with = "list_or_empty")]
    pub labels: Vec<DataLabel>,
    #[serde(default, deserialize_with = "list_or_empty")]
    pub entities: Vec<Entity>,
}

impl SharedReads {
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty() && self.labels.is_empty() && self.entities.is_empty()
    }

    /// Adds one read.
    pub fn add(
        &mut self,
        class: DataClass,
        labels: impl Iterator<Item = DataLabel>,
        entities: &[Entity],
    ) {
        if !self.classes.contains(&class) {
            self.classes.push(class);
        }
        for l in labels {
            if !self.labels.contains(&l) {
                self.labels.push(l);
            }
        }
        for e in entities {
            if !self.entities.contains(e) {
                if self.entities.len() >= MAX_AGENT_ENTITIES {
                    self.entities.remove(0);
                }
                self.entities.push(e.clone());
            }
        }
    }

    /// Adds everything `other` holds.
    pub fn merge(&mut self, other: &SharedReads) {
        for c in &other.classes {
            self.add(*c, other.labels.iter().copied(), &[]);
        }
        for l in &other.labels {
            if !self.labels.contains(l) {
                self.labels.push(*l);
            }
        }
        for e in &other.entities {
            if !self.entities.contains(e) {
                if self.entities.len() >= MAX_AGENT_ENTITIES {
                    self.entities.remove(0);
                }
                self.entities.push(e.clone());
            }
        }
    }
}

/// A JSON list, or the empty object Redis's Lua JSON encoder writes for an empty list.
fn list_or_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum ListOrEmpty<T> {
        List(Vec<T>),
        Empty(#[allow(dead_code)] serde_json::Map<String, serde_json::Value>),
    }
    Ok(match ListOrEmpty::deserialize(d)? {
        ListOrEmpty::List(v) => v,
        ListOrEmpty::Empty(_) => Vec::new(),
    })
}

/// One agent's reads.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    pub classes: BTreeSet<DataClass>,
    pub labels: BTreeSet<DataLabel>,
    pub entities: VecDeque<Entity>,
}

pub struct AgentReads {
    by_agent: Mutex<HashMap<String, (Reads, Instant)>>,
    ttl: Duration,
    max_agents: usize,
}

impl AgentReads {
    pub fn new(ttl: Duration, max_agents: usize) -> Self {
        Self {
            by_agent: Mutex::new(HashMap::new()),
            ttl,
            max_agents: max_agents.max(1),
        }
    }

    /// Records that `agent` read data of this classification, with these entities in it.
    pub fn record(&self, agent: &str, c: &Classification, entities: &[Entity]) {
        self.record_parts(agent, c.class, c.labels.iter().copied(), entities);
    }

    /// Records what other replicas shared of `agent`'s reads.
    pub fn record_shared(&self, agent: &str, reads: &SharedReads) {
        for c in &reads.classes {
            self.record_parts(agent, *c, reads.labels.iter().copied(), &reads.entities);
        }
    }

    fn record_parts(
        &self,
        agent: &str,
        class: DataClass,
        labels: impl Iterator<Item = DataLabel>,
        entities: &[Entity],
    ) {
        let now = Instant::now();
        let mut map = self.by_agent.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(agent) && map.len() >= self.max_agents {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| now.duration_since(*at) <= ttl);
            if map.len() >= self.max_agents {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        let (reads, at) = map
            .entry(agent.to_string())
            .or_insert_with(|| (Reads::default(), now));
        if now.duration_since(*at) > self.ttl {
            *reads = Reads::default();
        }
        *at = now;
        reads.classes.insert(class);
        reads.labels.extend(labels);
        for e in entities {
            if !reads.entities.contains(e) {
                if reads.entities.len() >= MAX_AGENT_ENTITIES {
                    reads.entities.pop_front();
                }
                reads.entities.push_back(e.clone());
            }
        }
    }

    /// What `agent` read within the TTL, if anything.
    pub fn of(&self, agent: &str) -> Option<Reads> {
        let map = self.by_agent.lock().unwrap_or_else(|p| p.into_inner());
        map.get(agent)
            .filter(|(_, at)| at.elapsed() <= self.ttl)
            .map(|(r, _)| r.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pii() -> Classification {
        Classification {
            class: DataClass::Confidential,
            labels: [DataLabel::Pii].into_iter().collect(),
            findings: vec![],
            defaulted: false,
        }
    }

    #[test]
    fn reads_follow_the_agent_not_the_session_and_expire() {
        let r = AgentReads::new(Duration::from_millis(200), 2);
        r.record("a", &pii(), &[]);
        assert!(r.of("a").unwrap().labels.contains(&DataLabel::Pii));
        assert!(r.of("b").is_none());
        r.record("b", &pii(), &[]);
        r.record("c", &pii(), &[]);
        assert!(
            r.of("a").is_none(),
            "the least recently active agent goes first"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(r.of("c").is_none(), "expired after the TTL");
    }
}
