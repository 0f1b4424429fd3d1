//! Complete mediation as a property, in process: arbitrary requests (methods, paths, headers,
//! bodies) go through a real data plane with the action mediator to a recording upstream. The
//! engine records every action it is asked about and allows it, so everything decided reaches
//! the upstream. The property: **a request the upstream received was decided (an action of it
//! reached the engine), or it is a bodiless read** (`GET`, `HEAD`, `OPTIONS`, `TRACE`, no body, no
//! `Upgrade`).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aarmor_core::{Action, Verdict};
use aarmor_mediation::MediationSettings;
use aarmor_mediation::{ActionEngine, MediationError};
use aarmor_proxy::{AdminSettings, DataPlaneConfig, Decider, ProxySettings, UpstreamSettings};
use async_trait::async_trait;
use proptest::prelude::*;

/// Each request names its case in this header; actions carry it in their envelope.
const CASE: &str = "x-case";

#[derive(Default)]
struct RecordingEngine {
    decided: Mutex<HashSet<String>>,
}

#[async_trait]
impl ActionEngine for RecordingEngine {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn mediate(&self, action: &Action) -> Result<Verdict, MediationError> {
        if let Some(case) = action
            .envelope
            .get("headers")
            .and_then(|h| h.get(CASE))
            .and_then(|v| v.as_str())
        {
            self.decided.lock().unwrap().insert(case.to_string());
        }
        Ok(Verdict::Allow)
    }
}

struct Harness {
    proxy: SocketAddr,
    upstream: SocketAddr,
    seen: Arc<Mutex<HashSet<String>>>,
    engine: Arc<RecordingEngine>,
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// An upstream that records the case of every request whose head it receives.
fn recording_upstream(seen: Arc<Mutex<HashSet<String>>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || {
                conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                for _ in 0..64 {
                    let mut headers = [httparse::EMPTY_HEADER; 64];
                    let mut req = httparse::Request::new(&mut headers);
                    if let Ok(httparse::Status::Complete(_)) = req.parse(&buf) {
                        if let Some(h) = req
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(CASE))
                        {
                            seen.lock()
                                .unwrap()
                                .insert(String::from_utf8_lossy(h.value).into_owned());
                        }
                        let _ = conn.write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        );
                        return;
                    }
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let upstream = recording_upstream(seen.clone());
        let engine = Arc::new(RecordingEngine::default());
        let proxy = free_port();
        let data_dir = tempfile::tempdir().unwrap().keep();
        let config = DataPlaneConfig {
            data_dir,
            proxy: ProxySettings {
                listen: proxy,
                threads: 1,
                ..ProxySettings::default()
            },
            upstream: UpstreamSettings::default(),
            admin: AdminSettings {
                listen: free_port(),
            },
            mediation: MediationSettings::default(),
        };
        let decider = Decider::Actions {
            engine: engine.clone(),
            approvals: None,
            retention: None,
            jwks: None,
        };
        let prepared = aarmor_proxy::prepare(config, decider).expect("data plane prepares");
        std::thread::spawn(move || prepared.run_forever());
        for _ in 0..200 {
            if TcpStream::connect(proxy).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Harness {
            proxy,
            upstream,
            seen,
            engine,
        }
    })
}

/// A request as the generator builds it.
#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    /// `None`: no body and no framing header; `Some`: Content-Length framing (or chunked).
    body: Option<Vec<u8>>,
    chunked: bool,
}

fn header_strategy() -> impl Strategy<Value = Vec<(&'static str, &'static str)>> {
    prop::collection::vec(
        prop::sample::select(vec![
            ("content-type", "application/json"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-type", "text/plain; charset=utf-16"),
            ("content-type", "multipart/form-data; boundary=b"),
            ("content-type", "application/octet-stream"),
            ("content-encoding", "gzip"),
            ("content-encoding", "x-unknown"),
            ("upgrade", "websocket"),
            ("connection", "upgrade"),
            ("anthropic-version", "2023-06-01"),
            ("x-aarm-session", "s-1"),
            ("expect", "100-continue"),
        ]),
        0..4,
    )
}

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        Just(br#"{"jsonrpc":"2.0","method":"x","params":{"k":1}}"#.to_vec()),
        Just(br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}]"#.to_vec()),
        Just(br#"{"messages":[{"role":"user","content":"hi"}],"stream":false}"#.to_vec()),
        Just(br#"{"a": 1, "a": 2}"#.to_vec()),
        Just(b"a=1&b=2".to_vec()),
        Just(b"\xef\xbb\xbf{\"k\": NaN}".to_vec()),
    ]
}

fn request_strategy() -> impl Strategy<Value = Req> {
    (
        prop::sample::select(vec![
            "GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE", "PROPFIND",
        ]),
        prop::sample::select(vec![
            "/",
            "/v1/chat/completions",
            "/v1/responses",
            "/v1/messages",
            "/mcp",
            "/x/y?z=1",
            "/%68ooks/a",
        ]),
        header_strategy(),
        prop::option::of(body_strategy()),
        any::<bool>(),
    )
        .prop_map(|(method, path, headers, body, chunked)| Req {
            method,
            path,
            headers,
            body,
            chunked,
        })
}

/// Sends one request through the proxy (absolute form); what comes back does not matter.
fn send(h: &Harness, req: &Req, case: &str) {
    let Ok(mut s) = TcpStream::connect(h.proxy) else {
        return;
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut head = format!(
        "{} http://{}{} HTTP/1.1\r\nhost: {}\r\n{CASE}: {case}\r\nconnection: close\r\n",
        req.method, h.upstream, req.path, h.upstream
    );
    for (n, v) in &req.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    let mut bytes = Vec::new();
    match &req.body {
        None => head.push_str("\r\n"),
        Some(b) if req.chunked => {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            if !b.is_empty() {
                bytes.extend_from_slice(format!("{:x}\r\n", b.len()).as_bytes());
                bytes.extend_from_slice(b);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
        Some(b) => {
            head.push_str(&format!("content-length: {}\r\n\r\n", b.len()));
            bytes.extend_from_slice(b);
        }
    }
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
}

fn bodiless_read(req: &Req) -> bool {
    let has_body = match &req.body {
        None => false,
        Some(b) => req.chunked || !b.is_empty(),
    };
    matches!(req.method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
        && !has_body
        && !req.headers.iter().any(|(n, _)| *n == "upgrade")
}

static NEXT_CASE: AtomicU64 = AtomicU64::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, .. ProptestConfig::default() })]

    #[test]
    fn forwarded_means_decided_or_a_bodiless_read(req in request_strategy()) {
        let h = harness();
        let case = format!("c{}", NEXT_CASE.fetch_add(1, Ordering::Relaxed));
        send(h, &req, &case);
        let forwarded = h.seen.lock().unwrap().contains(&case);
        let decided = h.engine.decided.lock().unwrap().contains(&case);
        prop_assert!(
            !forwarded || decided || bodiless_read(&req),
            "{req:?} reached the upstream without a decision"
        );
    }
}

/// The control: the harness forwards, and the engine sees what is decided.
#[test]
fn a_post_is_decided_and_a_get_is_not() {
    let h = harness();
    let post = Req {
        method: "POST",
        path: "/v1/notes",
        headers: vec![("content-type", "application/json")],
        body: Some(br#"{"note": "hi"}"#.to_vec()),
        chunked: false,
    };
    send(h, &post, "control-post");
    let get = Req {
        method: "GET",
        path: "/v1/notes",
        headers: vec![],
        body: None,
        chunked: false,
    };
    send(h, &get, "control-get");
    let seen = h.seen.lock().unwrap();
    let decided = h.engine.decided.lock().unwrap();
    assert!(seen.contains("control-post") && decided.contains("control-post"));
    assert!(seen.contains("control-get") && !decided.contains("control-get"));
}
