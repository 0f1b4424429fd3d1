//! Brokered credentials' own cost, without network: minting one token (EdDSA), attaching a
//! file secret after a decision, binding a placeholder before one, and scanning a request's
//! header values and body for the secrets and minted tokens aarmor holds.

use std::time::Instant;

use aarmor_core::credential::{CredentialAsk, SentRequest};
use aarmor_core::{Action, ActionId, ActionTarget, Identity, Protocol};
use aarmor_engine::credentials::mint::Minter;
use aarmor_engine::credentials::{CredentialBroker, CredentialConfig};
use anyhow::Result;
use serde_json::json;

fn action() -> Action {
    Action {
        envelope: Default::default(),
        action_id: ActionId("act_00000000000000000001".into()),
        timestamp: "2026-12-05T10:00:00.000Z".into(),
        protocol: Protocol::Rest,
        target: ActionTarget {
            host: "api.bench.test".into(),
            port: 443,
            method: "POST".into(),
            path: "/v1/tickets/4711".into(),
        },
        tool: "api.bench.test/v1/tickets/{id}".into(),
        operation: "post".into(),
        parameters: json!({"body": {"ticket": 4711, "status": "closed"}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        identity: Identity {
            agent: Some("bench".into()),
            session: Some("bench".into()),
            ..Identity::default()
        },
        context_ref: None,
        risk_signals: vec![],
        credential: None,
    }
}

fn report(what: &str, mut samples: Vec<u128>) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
        "credentials/{what}\tp50_us={:.1}\tp99_us={:.1}",
        at(0.5) as f64 / 1000.0,
        at(0.99) as f64 / 1000.0
    );
}

pub async fn run(iterations: usize) -> Result<()> {
    let dir = crate::scratch::ScratchDir::new()?;
    let secret = dir.path().join("bench.secret");
    std::fs::write(&secret, "bench-secret-0123456789abcdef")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600))?;
    }
    let yaml = r#"
credentials:
  bench-static:
    source: {file: bench.secret}
    scope: write
    bindings: [{host: api.bench.test}]
  bench-mint:
    source: {mint: {audience: "https://bench.test", ttl_s: 30}}
    scope: write
    bindings: [{host: api.bench.test}]
"#;
    let config = CredentialConfig::compile(dir.path(), yaml).map_err(anyhow::Error::msg)?;
    let broker = CredentialBroker::with_minter(Minter::load_or_create(&dir.path().join("keys"))?);
    broker.preload(&config).map_err(anyhow::Error::msg)?;
    let n = iterations.max(100);
    let sent = SentRequest {
        path: "/v1/tickets/4711",
        body: br#"{"ticket":4711,"status":"closed","comment":"resolved by the agent"}"#,
    };
    for name in ["bench-static", "bench-mint"] {
        let ask = || {
            Ok(Some(CredentialAsk {
                name: name.into(),
                headers: vec!["authorization".into()],
            }))
        };
        let mut bound = action();
        broker.bind(&config, &mut bound, ask(), "https").await;
        let mut bind = Vec::with_capacity(n);
        let mut attach = Vec::with_capacity(n);
        for _ in 0..n {
            let mut a = action();
            let t = Instant::now();
            broker.bind(&config, &mut a, ask(), "https").await;
            bind.push(t.elapsed().as_nanos());
            let t = Instant::now();
            let attached = broker.attach(&config, &bound, "rct_bench", sent).await;
            attach.push(t.elapsed().as_nanos());
            anyhow::ensure!(attached.is_ok(), "attach failed");
        }
        report(&format!("bind-{name}"), bind);
        report(&format!("attach-{name}"), attach);
    }
    // A request's header values and a 1 KiB body, scanned for every secret and minted token.
    let headers = [
        "localhost:9443",
        "aarmor-bench",
        "application/json",
        "Bearer aarmor:bench-static",
        "bench-post",
    ];
    let body = format!(r#"{{"note":"{}"}}"#, "n".repeat(1024));
    let mut scan = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut found = false;
        for h in headers {
            found |= broker.leak(h.as_bytes()).is_some();
        }
        found |= broker.leak(body.as_bytes()).is_some();
        scan.push(t.elapsed().as_nanos());
        anyhow::ensure!(!found, "a clean request was flagged");
    }
    report("leak-scan-5-headers-1KiB-body", scan);
    Ok(())
}
