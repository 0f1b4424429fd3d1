//! Doctor's network checks: each SIEM sink accepts a connection (and a TLS handshake, for
//! `tls://`), the object store and the approval webhooks accept a connection, and the running
//! appliance's admin listener answers `/healthz` and reports its stores (`/v1/storage`).
//! Nothing is sent to a sink, a webhook or the object store beyond the connection itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use aarmor_engine::telemetry::{parse_url, Transport};
use serde_json::Value;

use super::Check;
use crate::config::Config;

/// Longest wait for one connection, handshake or answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest admin answer read.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

pub fn check(config: &Config, admin: Option<&str>) -> Vec<Check> {
    let mut checks = Vec::new();
    for sink in &config.telemetry.sinks {
        checks.push(siem_sink(
            &sink.name,
            &sink.url,
            sink.ca_file.as_deref(),
            sink.server_name.as_deref(),
        ));
    }
    if config.telemetry.sinks.is_empty() {
        checks.push(Check::skip(
            "siem",
            "no [[telemetry.sinks]]: decisions are not streamed to a SIEM",
        ));
    }
    if let Some(s3) = &config.retention.s3 {
        checks.push(http_endpoint("object store", &s3.endpoint));
    }
    for (i, hook) in config.approvals.webhooks.iter().enumerate() {
        checks.push(http_endpoint(&format!("webhook {}", i + 1), &hook.url));
    }
    if config.cluster.enabled {
        checks.push(cluster(config));
    }
    let admin = admin
        .map(str::to_string)
        .unwrap_or_else(|| config.admin.listen.to_string());
    checks.push(appliance(&admin));
    checks
}

/// `[cluster]`: Redis answers, and which replicas it knows are alive (this one among them when
/// it runs).
fn cluster(config: &Config) -> Check {
    let url = config.cluster.redis_url_redacted();
    let me = config.cluster.replica_name();
    let replicas = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            let cluster = aarmor_engine::cluster::Cluster::new(config.cluster.clone())
                .map_err(|e| e.to_string())?;
            rt.block_on(cluster.replicas()).map_err(|e| e.to_string())
        });
    match replicas {
        Err(e) => Check::fail(
            "cluster",
            format!("Redis at {url} does not answer: {e}"),
            "start Redis or fix [cluster] redis_url (and its password); while it is away every action is refused",
        ),
        Ok(list) => {
            let alive: Vec<&str> = list
                .iter()
                .filter(|r| r.alive)
                .map(|r| r.replica.as_str())
                .collect();
            let dead: Vec<&str> = list
                .iter()
                .filter(|r| !r.alive)
                .map(|r| r.replica.as_str())
                .collect();
            let detail = format!(
                "Redis at {url} answers; this replica is {me}; alive: {}{}",
                if alive.is_empty() { "none".to_string() } else { alive.join(", ") },
                if dead.is_empty() {
                    String::new()
                } else {
                    format!("; not alive: {}", dead.join(", "))
                }
            );
            if config.cluster.secret_file.is_none() {
                Check::warn(
                    "cluster",
                    detail,
                    "set [cluster] secret_file (the same secret on every replica: openssl rand -hex 32): answers forwarded between replicas are otherwise authenticated with approvers' token hashes from the configuration",
                )
            } else if dead.is_empty() {
                Check::ok("cluster", detail)
            } else {
                Check::warn(
                    "cluster",
                    detail,
                    "a replica that stopped is forgotten once another replica claims what it held; if it was removed for good, nothing to do",
                )
            }
        }
    }
}

/// Connects to the first address of `host:port` that accepts, within [`CONNECT_TIMEOUT`] each.
fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    let mut last = format!("{host}:{port} has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(CONNECT_TIMEOUT));
                let _ = s.set_write_timeout(Some(CONNECT_TIMEOUT));
                return Ok(s);
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

fn siem_sink(
    name: &str,
    url: &str,
    ca_file: Option<&std::path::Path>,
    server_name: Option<&str>,
) -> Check {
    let label = format!("sink {name}");
    let (transport, host, port) = match parse_url(url) {
        Ok(t) => t,
        Err(e) => {
            return Check::fail(
                label,
                format!("{url}: {e}"),
                "correct [[telemetry.sinks]] url",
            )
        }
    };
    let unreachable = |e: String| {
        Check::fail(
            label.clone(),
            format!("{url} is unreachable: {e}; events queue, then spill to disk"),
            "start the collector or open the path to it (firewall, DNS); spilled events are sent once it is back",
        )
    };
    match transport {
        Transport::Udp => Check::skip(
            label,
            format!("{url}: UDP cannot be probed (delivery is best effort)"),
        ),
        Transport::Tcp => match connect(&host, port) {
            Ok(_) => Check::ok(label, format!("{url} accepts connections")),
            Err(e) => unreachable(e),
        },
        Transport::Tls => {
            let tcp = match connect(&host, port) {
                Ok(s) => s,
                Err(e) => return unreachable(e),
            };
            match tls_handshake(tcp, ca_file, server_name.unwrap_or(&host)) {
                Ok(()) => Check::ok(
                    label,
                    format!("{url} accepts connections and its certificate verifies"),
                ),
                Err(e) => Check::fail(
                    label,
                    format!("{url}: the TLS handshake fails: {e}"),
                    "give the collector's CA in ca_file and its certificate name in server_name",
                ),
            }
        }
    }
}

fn tls_handshake(
    mut tcp: TcpStream,
    ca_file: Option<&std::path::Path>,
    name: &str,
) -> Result<(), String> {
    let config = aarmor_engine::tls::client_config(ca_file).map_err(|e| e.to_string())?;
    let server = rustls::pki_types::ServerName::try_from(name.to_string())
        .map_err(|e| format!("{name} is not a server name: {e}"))?;
    let mut conn = rustls::ClientConnection::new(config, server).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// An `http(s)://` endpoint accepts a TCP connection.
fn http_endpoint(label: &str, url: &str) -> Check {
    let uri: http::Uri = match url.parse() {
        Ok(u) => u,
        Err(e) => return Check::fail(label, format!("{url}: {e}"), "correct the URL"),
    };
    let Some(host) = uri.host() else {
        return Check::fail(label, format!("{url} names no host"), "correct the URL");
    };
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    match connect(host.trim_start_matches('[').trim_end_matches(']'), port) {
        Ok(_) => Check::ok(label, format!("{url} accepts connections")),
        Err(e) => Check::fail(
            label,
            format!("{url} is unreachable: {e}"),
            "open the path to it (firewall, DNS, proxy) or correct the URL",
        ),
    }
}

/// `GET path` on the admin listener: status and body.
fn admin_get(addr: &str, path: &str) -> Result<(u16, Vec<u8>), String> {
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("{addr} is not HOST:PORT"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // A listener on every address answers on loopback.
    let host = match host {
        "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    };
    let mut s = connect(host, port)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER_BYTES)
        .read_to_end(&mut raw)
        .map_err(|e| e.to_string())?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&raw) {
        Ok(httparse::Status::Complete(n)) => Ok((resp.code.unwrap_or(0), raw[n..].to_vec())),
        _ => Err("not an HTTP answer".into()),
    }
}

fn appliance(addr: &str) -> Check {
    match admin_get(addr, "/healthz") {
        Err(e) => Check::warn(
            "appliance",
            format!("nothing answers on http://{addr}/healthz ({e}): aarmor is not running here, or its admin listener is elsewhere"),
            "start it (`systemctl start aarmor`), or pass --admin HOST:PORT",
        ),
        Ok((200, _)) => match admin_get(addr, "/v1/storage") {
            Ok((200, body)) => storage(addr, &body),
            Ok((404, _)) => Check::ok("appliance", format!("running: http://{addr}/healthz answers (mediation off: no stores)")),
            Ok((code, _)) => Check::warn("appliance", format!("running, but /v1/storage answers {code}"), "see the appliance's log"),
            Err(e) => Check::warn("appliance", format!("running, but /v1/storage: {e}"), "see the appliance's log"),
        },
        Ok((code, _)) => Check::fail(
            "appliance",
            format!("http://{addr}/healthz answers {code}"),
            "see the appliance's log (`journalctl -u aarmor`)",
        ),
    }
}

/// What the running appliance says of its stores.
fn storage(addr: &str, body: &[u8]) -> Check {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Check::warn(
            "appliance",
            format!("running, but http://{addr}/v1/storage is not JSON: is this aarmor's admin listener?"),
            "pass --admin HOST:PORT of the appliance's [admin] listen",
        );
    };
    let banner = v.get("banner").filter(|b| !b.is_null());
    let fix = "archive or prune ([retention]), or give the stores more room; `aarmor receipts verify` after any manual change";
    match banner {
        None => Check::ok(
            "appliance",
            format!(
                "running: http://{addr}/healthz answers; stores below their warning levels, archive lag {}",
                v.get("archive_lag").and_then(Value::as_u64).unwrap_or(0)
            ),
        ),
        Some(b) => {
            let message = b.get("message").and_then(Value::as_str).unwrap_or("a store needs attention");
            if b.get("level").and_then(Value::as_str) == Some("critical") {
                Check::fail("appliance", format!("running, but: {message}"), fix)
            } else {
                Check::warn("appliance", format!("running, but: {message}"), fix)
            }
        }
    }
}
