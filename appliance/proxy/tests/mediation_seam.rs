//! The mediation seam end to end, in process: a real data plane on loopback, a recording
//! upstream, and a mediator whose behaviour is chosen by the request path. Proves that a
//! mediator error or timeout refuses the request (fail closed) and that nothing of a refused
//! request reaches the upstream.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aarmor_core::{ResponseHead, SyntheticResponse};
use aarmor_mediation::MediationSettings;
use aarmor_mediation::{
    BodyVerdict, Exchange, ExchangeInspector, HeadVerdict, HeaderRewrite, MediationError, Mediator,
    RequestEdit, ResponsePlan, ResponseVerdict,
};
use aarmor_proxy::{AdminSettings, DataPlaneConfig, Decider, ProxySettings, UpstreamSettings};
use async_trait::async_trait;
use bytes::Bytes;

struct PathMediator;

/// Per-exchange behaviour, chosen by the request path.
struct PathInspector {
    path: String,
    inspect_response: bool,
}

#[async_trait]
impl Mediator for PathMediator {
    fn name(&self) -> &'static str {
        "test-by-path"
    }

    async fn on_request_head(&self, ex: &Exchange) -> Result<HeadVerdict, MediationError> {
        let inspect = |inspect_response| {
            HeadVerdict::Inspect(Box::new(PathInspector {
                path: ex.request.path.clone(),
                inspect_response,
            }))
        };
        Ok(match ex.request.path.as_str() {
            "/fail" => return Err(MediationError::Other("policy engine down".into())),
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                HeadVerdict::Forward
            }
            "/deny" => HeadVerdict::Respond(SyntheticResponse::problem(
                403,
                "denied",
                "Denied by policy",
                "test rule",
            )),
            "/rewrite" => HeadVerdict::Rewrite(HeaderRewrite {
                set: vec![("x-aarmor-test".into(), "rewritten".into())],
                remove: vec!["x-secret".into()],
            }),
            "/body-deny" | "/body-fail" | "/body-replace" => inspect(false),
            "/resp-replace" | "/resp-fail" => inspect(true),
            _ => HeadVerdict::Forward,
        })
    }
}

#[async_trait]
impl ExchangeInspector for PathInspector {
    async fn on_request_body(&mut self, body: &Bytes) -> Result<BodyVerdict, MediationError> {
        match self.path.as_str() {
            "/body-fail" => Err(MediationError::Other("cannot parse".into())),
            "/body-replace" => Ok(BodyVerdict::Edit(RequestEdit {
                path: None,
                body: Some(Bytes::from_static(b"replaced")),
            })),
            _ if body.windows(4).any(|w| w == b"DROP") => Ok(BodyVerdict::Respond(
                SyntheticResponse::problem(403, "denied", "Denied", "destructive SQL"),
            )),
            _ => Ok(BodyVerdict::Forward),
        }
    }

    fn response_plan(&mut self, _head: &ResponseHead) -> ResponsePlan {
        if self.inspect_response {
            ResponsePlan::Buffer
        } else {
            ResponsePlan::Pass
        }
    }

    async fn on_response(
        &mut self,
        head: &ResponseHead,
        _body: &Bytes,
    ) -> Result<ResponseVerdict, MediationError> {
        assert_eq!(head.status, 200);
        match self.path.as_str() {
            "/resp-fail" => Err(MediationError::Other("classifier crashed".into())),
            _ => Ok(ResponseVerdict::Replace(Bytes::from_static(b"redacted"))),
        }
    }
}

/// What the upstream received: (path, headers, body).
type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>, Vec<u8>)>>>;

fn recording_upstream() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(200) {
            let Ok(mut conn) = conn else { continue };
            let record = record.clone();
            std::thread::spawn(move || serve_one(&mut conn, &record));
        }
    });
    (addr, seen)
}

fn serve_one(conn: &mut TcpStream, record: &Seen) {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(len)) = req.parse(&buf) {
            let cl: usize = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                .unwrap_or(0);
            let hs: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let path = req.path.unwrap_or_default().to_string();
            while buf.len() < len + cl {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            record
                .lock()
                .unwrap()
                .push((path, hs, buf[len..len + cl].to_vec()));
            let body = b"upstream says hi";
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = conn.write_all(body);
            return;
        }
        let n = conn.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Send one absolute-form request through the proxy; returns (status, body).
fn through_proxy(
    proxy: SocketAddr,
    upstream: SocketAddr,
    path: &str,
    extra: &str,
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!(
        "POST http://{upstream}{path} HTTP/1.1\r\nhost: {upstream}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn mediation_seam_enforces_and_fails_closed() {
    let data_dir = tempfile::tempdir().unwrap();
    let (upstream, seen) = recording_upstream();
    let proxy_addr = free_port();
    let config = DataPlaneConfig {
        data_dir: data_dir.path().to_path_buf(),
        proxy: ProxySettings {
            listen: proxy_addr,
            threads: 1,
            ..ProxySettings::default()
        },
        upstream: UpstreamSettings::default(),
        admin: AdminSettings {
            listen: free_port(),
        },
        mediation: MediationSettings {
            decision_timeout_ms: 300,
            max_hold_ms: 0,
            ..MediationSettings::default()
        },
    };
    let prepared = aarmor_proxy::prepare(config, Decider::Mediator(Arc::new(PathMediator)))
        .expect("data plane prepares");
    std::thread::spawn(move || prepared.run_forever());
    for _ in 0..100 {
        if TcpStream::connect(proxy_addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let reached = |path: &str| seen.lock().unwrap().iter().any(|(p, _, _)| p == path);

    // Forwarded.
    let (status, body) = through_proxy(proxy_addr, upstream, "/ok", "", "hello");
    assert_eq!((status, body.as_str()), (200, "upstream says hi"));
    assert!(reached("/ok"));

    // Mediator error ⇒ refused, upstream untouched.
    let (status, body) = through_proxy(proxy_addr, upstream, "/fail", "", "x");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("mediation-failed") && body.contains("policy engine down"),
        "{body}"
    );
    assert!(!reached("/fail"));

    // Mediator timeout ⇒ refused, upstream untouched.
    let (status, body) = through_proxy(proxy_addr, upstream, "/slow", "", "x");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("mediation-timeout"), "{body}");
    assert!(!reached("/slow"));

    // Deny with the mediator's own response.
    let (status, body) = through_proxy(proxy_addr, upstream, "/deny", "", "x");
    assert_eq!(status, 403);
    assert!(body.contains("test rule"));
    assert!(!reached("/deny"));

    // Rewrite headers.
    let (status, _) = through_proxy(
        proxy_addr,
        upstream,
        "/rewrite",
        "x-secret: s3cr3t\r\n",
        "x",
    );
    assert_eq!(status, 200);
    {
        let seen = seen.lock().unwrap();
        let (_, headers, _) = seen.iter().find(|(p, _, _)| p == "/rewrite").unwrap();
        assert!(headers
            .iter()
            .any(|(n, v)| n == "x-aarmor-test" && v == "rewritten"));
        assert!(!headers.iter().any(|(n, _)| n == "x-secret"));
    }

    // Body inspection: allowed body forwarded intact; denied body never leaves; failure refuses.
    let (status, _) = through_proxy(proxy_addr, upstream, "/body-deny", "", "SELECT 1");
    assert_eq!(status, 200);
    let (status, body) = through_proxy(proxy_addr, upstream, "/body-deny", "", "DROP TABLE users");
    assert_eq!(status, 403, "{body}");
    let (status, body) = through_proxy(proxy_addr, upstream, "/body-fail", "", "x");
    assert_eq!(status, 503, "{body}");
    assert!(!reached("/body-fail"));
    {
        let seen = seen.lock().unwrap();
        let bodies: Vec<_> = seen
            .iter()
            .filter(|(p, _, _)| p == "/body-deny")
            .map(|(_, _, b)| b.clone())
            .collect();
        assert_eq!(
            bodies,
            vec![b"SELECT 1".to_vec()],
            "only the allowed body reached the upstream"
        );
    }

    // Body rewrite, with Content-Length recomputed.
    let (status, _) = through_proxy(proxy_addr, upstream, "/body-replace", "", "original body");
    assert_eq!(status, 200);
    {
        let seen = seen.lock().unwrap();
        let (_, headers, body) = seen.iter().find(|(p, _, _)| p == "/body-replace").unwrap();
        assert_eq!(body, b"replaced");
        assert!(headers
            .iter()
            .any(|(n, v)| n == "content-length" && v == "8"));
    }

    // Response inspection: replaced before the client sees it; failure refuses the response.
    let (status, body) = through_proxy(proxy_addr, upstream, "/resp-replace", "", "");
    assert_eq!((status, body.as_str()), (200, "redacted"));
    let (status, body) = through_proxy(proxy_addr, upstream, "/resp-fail", "", "");
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("upstream says hi"));

    // Proxy credentials never reach the upstream.
    let (status, _) = through_proxy(
        proxy_addr,
        upstream,
        "/auth",
        "proxy-authorization: Basic YTpi\r\n",
        "",
    );
    assert_eq!(status, 200);
    let seen = seen.lock().unwrap();
    let (_, headers, _) = seen.iter().find(|(p, _, _)| p == "/auth").unwrap();
    assert!(!headers.iter().any(|(n, _)| n == "proxy-authorization"));
}
