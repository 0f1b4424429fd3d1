//! `aarmor approvals list | show | approve | deny`: a client of the admin approvals API.

use anyhow::anyhow;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::config::Config;

/// An approver's own token (`AARMOR_APPROVAL_TOKEN`), else the operator token of the config.
fn token(config: &Config) -> anyhow::Result<String> {
    if let Some(t) = std::env::var("AARMOR_APPROVAL_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
    {
        return Ok(t);
    }
    config
        .approvals
        .resolve_token()
        .map_err(anyhow::Error::msg)?
        .ok_or_else(|| {
            anyhow!("no approvals token: set AARMOR_APPROVAL_TOKEN to your approver token, or [approvals] token / token_file")
        })
}

fn call(config: &Config, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
    let token = token(config)?;
    let addr = config.admin.listen;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| anyhow!("cannot reach the admin listener {addr}: {e} (is aarmor running?)"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(&raw) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(anyhow!("malformed response from the admin listener")),
    };
    let status = resp.code.unwrap_or(0);
    let value: Value = serde_json::from_slice(&raw[head_len..]).unwrap_or(Value::Null);
    if !(200..300).contains(&status) {
        let msg = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("request failed");
        return Err(anyhow!("{status}: {msg}"));
    }
    Ok(value)
}

pub fn list(config: &Config) -> anyhow::Result<()> {
    let v = call(config, "GET", "/v1/approvals", None)?;
    let items = v["approvals"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("no pending approvals");
    }
    for a in items {
        println!(
            "{}  expires {}  {} {}  rule {}  {}",
            a["id"].as_str().unwrap_or("?"),
            a["expires"].as_str().unwrap_or("?"),
            a["action"]["tool"].as_str().unwrap_or("?"),
            a["action"]["operation"].as_str().unwrap_or("?"),
            a["rule"].as_str().unwrap_or("-"),
            a["reason"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

pub fn show(config: &Config, id: &str) -> anyhow::Result<()> {
    let v = call(config, "GET", &format!("/v1/approvals/{id}"), None)?;
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(())
}

pub fn answer(
    config: &Config,
    id: &str,
    approve: bool,
    approver: &str,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let verb = if approve { "approve" } else { "deny" };
    let body = serde_json::json!({"approver": approver, "reason": reason});
    let v = call(
        config,
        "POST",
        &format!("/v1/approvals/{id}/{verb}"),
        Some(&body),
    )?;
    match v["status"].as_str() {
        Some("waiting") => println!(
            "{} waiting: {} of {} approvals",
            v["id"].as_str().unwrap_or(id),
            v["approvals"],
            v["quorum"]
        ),
        status => println!(
            "{} {}",
            v["id"].as_str().unwrap_or(id),
            status.unwrap_or(verb)
        ),
    }
    Ok(())
}
