//! `aarmor cluster status | keys | context`: the replicas as Redis sees them, every replica's
//! public keys (to verify a merged receipt export), and a session's shared chain, verified.

use std::path::Path;
use std::sync::Arc;

use aarmor_core::SessionId;
use aarmor_engine::cluster::Cluster;
use aarmor_engine::context::verify_chain;
use anyhow::anyhow;

use crate::config::Config;

fn connect(config: &Config) -> anyhow::Result<(Arc<Cluster>, tokio::runtime::Runtime)> {
    if !config.cluster.enabled {
        return Err(anyhow!(
            "[cluster] enabled = false in this configuration: there is no cluster to ask"
        ));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cluster = Cluster::new(config.cluster.clone()).map_err(|e| anyhow!("cluster: {e}"))?;
    Ok((cluster, rt))
}

fn write_out(text: &str, out: Option<&Path>) -> anyhow::Result<()> {
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| anyhow!("{}: {e}", path.display())),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

pub fn status(config: &Config, json: bool) -> anyhow::Result<()> {
    let (cluster, rt) = connect(config)?;
    let replicas = rt
        .block_on(cluster.replicas())
        .map_err(|e| anyhow!("{}: {e}", config.cluster.redis_url_redacted()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&replicas)?);
        return Ok(());
    }
    println!("redis {}: reachable", config.cluster.redis_url_redacted());
    println!(
        "{:<24} {:<6} {:>6}  last heartbeat",
        "replica", "alive", "holds"
    );
    for r in &replicas {
        println!(
            "{:<24} {:<6} {:>6}  {}",
            r.replica,
            if r.alive { "yes" } else { "NO" },
            r.holds,
            r.last_heartbeat.as_deref().unwrap_or("-")
        );
    }
    let dead = replicas.iter().filter(|r| !r.alive).count();
    eprintln!("{} replica(s), {dead} not alive", replicas.len());
    Ok(())
}

pub fn keys(config: &Config, out: Option<&Path>) -> anyhow::Result<()> {
    let (cluster, rt) = connect(config)?;
    let keys = rt
        .block_on(cluster.public_keys())
        .map_err(|e| anyhow!("{}: {e}", config.cluster.redis_url_redacted()))?;
    if keys.is_empty() {
        return Err(anyhow!(
            "no replica has published its public keys yet (a replica publishes them once it reaches Redis)"
        ));
    }
    write_out(&serde_json::to_string_pretty(&keys)?, out)
}

pub fn context(config: &Config, session: &str, out: Option<&Path>) -> anyhow::Result<()> {
    let (cluster, rt) = connect(config)?;
    let chain = rt
        .block_on(cluster.shared_chain(&SessionId(session.to_string())))
        .map_err(|e| anyhow!("{}: {e}", config.cluster.redis_url_redacted()))?
        .ok_or_else(|| anyhow!("Redis holds no chain for session {session}"))?;
    if let Some(path) = out {
        let mut text = String::new();
        for (_, line) in &chain.raw {
            text.push_str(&String::from_utf8_lossy(line));
            text.push('\n');
        }
        std::fs::write(path, text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    }
    let problems = verify_chain(session, &chain.raw, Some(&chain.head));
    if problems.is_empty() {
        println!(
            "OK: session {session}: {} shared entries (seq {}..{}), chain intact",
            chain.raw.len(),
            chain.base,
            chain.head.seq
        );
        return Ok(());
    }
    for p in &problems {
        match p.seq {
            Some(s) => println!("seq {s}: {}", p.problem),
            None => println!("head: {}", p.problem),
        }
    }
    Err(anyhow!(
        "session {session}: {} problem(s) in the shared chain",
        problems.len()
    ))
}
