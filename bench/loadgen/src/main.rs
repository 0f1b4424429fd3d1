//! aarmor's benchmark tool: a TLS HTTP/1.1 origin (including a streaming LLM endpoint), a
//! bounded load generator that goes direct or through an HTTP CONNECT proxy, reporting p50/p99
//! latency and requests per second, and a parse-cost benchmark of the protocol layer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The allocator the appliance uses, so that costs compare.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod credentials_bench;
mod decide_bench;
mod embed_bench;
mod parse_bench;
mod retention_bench;
mod scratch;
mod stream_body;

#[derive(Parser)]
#[command(about = "aarmor benchmark: TLS origin and load generator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve GET /hello (73 bytes) and GET /big (256 KiB) over TLS with keep-alive. Writes the
    /// origin's CA certificate to <dir>/origin-ca.pem.
    Origin {
        #[arg(long, default_value = "127.0.0.1:9443")]
        listen: SocketAddr,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Send requests and report latency. Bounded by --requests and --max-seconds.
    Load {
        /// host:port of the origin (the name is used for SNI and Host).
        #[arg(long, default_value = "localhost:9443")]
        target: String,
        /// CA file to trust (the origin's, or the proxy's when it intercepts).
        #[arg(long)]
        ca: PathBuf,
        /// HTTP proxy host:port (CONNECT); direct when absent.
        #[arg(long)]
        proxy: Option<String>,
        /// The proxy speaks TLS (an HTTPS proxy, aarmor's `tls_listen`), trusted with --ca.
        #[arg(long)]
        proxy_tls: bool,
        #[arg(long, short = 'c', default_value_t = 1)]
        connections: usize,
        #[arg(long, short = 'n', default_value_t = 10000)]
        requests: usize,
        #[arg(long, default_value = "/hello")]
        path: String,
        /// Open a new connection (TCP + CONNECT + TLS) for every request.
        #[arg(long)]
        new_connection: bool,
        /// POST a chat completion with `stream: true` and measure time to first byte of the
        /// body and to its last byte (the origin streams text and three tool calls).
        #[arg(long)]
        stream: bool,
        /// POST a small JSON body to --path (an action, where GET is not).
        #[arg(long)]
        post: bool,
        /// With --post: add a `note` of this many bytes to the body (a large parameter).
        #[arg(long, default_value_t = 0)]
        pad: usize,
        /// With --post: each connection names a session of its own (`bench-post-<n>`) instead
        /// of all sharing `bench-post`.
        #[arg(long)]
        session_per_connection: bool,
        /// A header added to every request (`name: value`); repeatable.
        #[arg(long = "header")]
        headers: Vec<String>,
        #[arg(long, default_value_t = 60)]
        max_seconds: u64,
        /// Label printed in the result line.
        #[arg(long, default_value = "run")]
        label: String,
    },
    /// Per-message parse cost of aarmor's protocol layer (no network).
    Parse {
        #[arg(long, short = 'n', default_value_t = 20000)]
        iterations: usize,
    },
    /// Intent cost (no network): embedding latency on tract (8, 32, 64 tokens; single and
    /// batched), a cache hit, and decisions with and without a rule that needs intent.drift.
    Embed {
        #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
        model: PathBuf,
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        #[arg(long, short = 'n', default_value_t = 200)]
        iterations: usize,
        /// Write the texts used (for the onnxruntime comparison) to this JSON file.
        #[arg(long)]
        texts_out: Option<PathBuf>,
    },
    /// Retention cost (no network): a store of --receipts receipts sealed into archive
    /// segments and pruned in one pass; receipts/s, bytes per receipt, compression.
    Retention {
        #[arg(long, short = 'n', default_value_t = 100_000)]
        receipts: usize,
    },
    /// Brokered credentials' own cost (no network): minting a token, attaching a secret, and
    /// scanning a request for the secrets and tokens aarmor holds.
    Credentials {
        #[arg(long, short = 'n', default_value_t = 20000)]
        iterations: usize,
    },
    /// Decision cost of the engine (no network): policy evaluation, decision with receipt
    /// (strict and batched), and the receipt writer's throughput.
    Decide {
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        #[arg(long, short = 'n', default_value_t = 20000)]
        iterations: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.cmd {
            Cmd::Origin { listen, dir } => origin(listen, dir).await,
            Cmd::Load {
                target,
                ca,
                proxy,
                proxy_tls,
                connections,
                requests,
                path,
                new_connection,
                stream,
                post,
                pad,
                session_per_connection,
                headers,
                max_seconds,
                label,
            } => {
                load(
                    target,
                    ca,
                    Proxy {
                        addr: proxy,
                        tls: proxy_tls,
                    },
                    connections,
                    requests,
                    path,
                    new_connection,
                    stream,
                    post.then_some(pad),
                    session_per_connection,
                    &headers,
                    Duration::from_secs(max_seconds),
                    label,
                )
                .await
            }
            Cmd::Parse { iterations } => {
                parse_bench::run(iterations);
                Ok(())
            }
            Cmd::Decide {
                policies,
                iterations,
            } => decide_bench::run(&policies, iterations).await,
            Cmd::Retention { receipts } => retention_bench::run(receipts).await,
            Cmd::Credentials { iterations } => credentials_bench::run(iterations).await,
            Cmd::Embed {
                model,
                policies,
                iterations,
                texts_out,
            } => embed_bench::run(&model, &policies, iterations, texts_out.as_deref()).await,
        }
    })
}

async fn origin(listen: SocketAddr, dir: PathBuf) -> Result<()> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "aarmor bench origin CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?
            .signed_by(&leaf_key, &issuer)?;
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("origin-ca.pem"), ca_cert.pem())?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone(), ca_cert.der().clone()], key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(listen).await?;
    eprintln!("origin listening on {listen}");
    let responses = Arc::new(Responses::new());
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let responses = responses.clone();
        tokio::spawn(async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                let _ = serve(tls, &responses).await;
            }
        });
    }
}

/// The origin's two complete responses (head and body), built once: each is sent with one
/// write, so a small one is one TLS record, as production servers send it.
struct Responses {
    hello: Vec<u8>,
    big: Vec<u8>,
}

impl Responses {
    fn new() -> Self {
        let full = |body: &[u8]| {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(body);
            r
        };
        Self {
            hello: full(
                br#"{"message":"hello from the aarmor bench origin","padding":"0123456789ab"}"#,
            ),
            big: full(&vec![b'x'; 256 * 1024]),
        }
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, responses: &Responses) -> Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let len = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            if let httparse::Status::Complete(n) = req.parse(&buf)? {
                let content_length: usize = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                    .unwrap_or(0);
                let streaming = req.path == Some("/v1/chat/completions");
                let wants_big = req.path == Some("/big");
                while buf.len() < n + content_length {
                    let got = s.read(&mut chunk).await?;
                    if got == 0 {
                        return Ok(());
                    }
                    buf.extend_from_slice(&chunk[..got]);
                }
                if streaming {
                    stream_body::write_chat_stream(&mut s).await?;
                } else {
                    let response = if wants_big {
                        &responses.big
                    } else {
                        &responses.hello
                    };
                    s.write_all(response).await?;
                    s.flush().await?;
                }
                break n + content_length;
            }
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        buf.drain(..len);
    }
}

/// A byte stream: TCP, or TLS to an HTTPS proxy.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Tls = tokio_rustls::client::TlsStream<Box<dyn Io>>;

/// The proxy to go through, if any.
#[derive(Clone)]
struct Proxy {
    addr: Option<String>,
    /// An HTTPS proxy: TLS to the proxy, then CONNECT inside it.
    tls: bool,
}

fn host_of(addr: &str) -> String {
    addr.rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(addr)
        .trim_matches(|c| c == '[' || c == ']')
        .to_string()
}

async fn open(target: &str, proxy: &Proxy, connector: &tokio_rustls::TlsConnector) -> Result<Tls> {
    let tcp = TcpStream::connect(proxy.addr.as_deref().unwrap_or(target)).await?;
    tcp.set_nodelay(true)?;
    let mut io: Box<dyn Io> = Box::new(tcp);
    if let Some(addr) = &proxy.addr {
        if proxy.tls {
            let name = rustls::pki_types::ServerName::try_from(host_of(addr))?;
            io = Box::new(connector.connect(name, io).await?);
        }
        io.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
            .await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if io.read(&mut byte).await? == 0 {
                bail!("proxy closed during CONNECT");
            }
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 200") {
            bail!("CONNECT refused: {}", String::from_utf8_lossy(&head));
        }
    }
    let name = rustls::pki_types::ServerName::try_from(host_of(target))?;
    Ok(connector.connect(name, io).await?)
}

/// Sends `req` and reads the whole response into `buf`, reading through `chunk` (kept by the
/// caller across requests: zeroing a fresh 64 KiB buffer per request would cost the load
/// generator more CPU than the response it reads).
async fn request(s: &mut Tls, req: &[u8], buf: &mut Vec<u8>, chunk: &mut [u8]) -> Result<()> {
    s.write_all(req).await?;
    buf.clear();
    loop {
        let n = s.read(chunk).await?;
        if n == 0 {
            bail!("connection closed mid-response");
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = resp.parse(buf)? {
            if resp.code != Some(200) {
                bail!("status {:?}", resp.code);
            }
            let cl: usize = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                .context("response without content-length")?;
            while buf.len() < head + cl {
                let n = s.read(chunk).await?;
                if n == 0 {
                    bail!("connection closed mid-body");
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(());
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn load(
    target: String,
    ca: PathBuf,
    proxy: Proxy,
    connections: usize,
    requests: usize,
    path: String,
    new_connection: bool,
    stream: bool,
    post: Option<usize>,
    session_per_connection: bool,
    headers: &[String],
    cap: Duration,
    label: String,
) -> Result<()> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut std::fs::read(&ca)?.as_slice()) {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let req = Arc::new(if stream {
        let body = stream_body::CHAT_REQUEST;
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: {target}\r\nUser-Agent: aarmor-bench\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    } else if let Some(pad) = post {
        let note = "n".repeat(pad);
        let body = if pad == 0 {
            r#"{"ticket":4711,"status":"closed","comment":"resolved by the agent"}"#.to_string()
        } else {
            format!(
                r#"{{"ticket":4711,"status":"closed","comment":"resolved by the agent","note":"{note}"}}"#
            )
        };
        format!(
            "POST {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: aarmor-bench\r\nx-aarm-session: bench-post\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    } else {
        format!("GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: aarmor-bench\r\n\r\n")
            .into_bytes()
    });
    // Extra headers go right after the request line's Host header.
    let req = if headers.is_empty() {
        req
    } else {
        let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        let text = String::from_utf8_lossy(&req).replacen(
            "User-Agent: aarmor-bench\r\n",
            &format!("User-Agent: aarmor-bench\r\n{extra}"),
            1,
        );
        Arc::new(text.into_bytes())
    };
    let per_conn = requests.div_ceil(connections.max(1));
    let deadline = Instant::now() + cap;
    // Warm-up: one request per connection slot is not counted.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..connections.max(1) {
        let req = if session_per_connection {
            let text = String::from_utf8_lossy(&req).replace(
                "x-aarm-session: bench-post\r\n",
                &format!("x-aarm-session: bench-post-{index}\r\n"),
            );
            Arc::new(text.into_bytes())
        } else {
            req.clone()
        };
        let (connector, target, proxy) = (connector.clone(), target.clone(), proxy.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_conn);
            let mut first = Vec::with_capacity(per_conn);
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 65536];
            let mut conn = if new_connection {
                None
            } else {
                Some(open(&target, &proxy, &connector).await?)
            };
            if let Some(c) = conn.as_mut() {
                if stream {
                    stream_body::request_stream(c, &req, &mut buf, &mut chunk).await?;
                } else {
                    request(c, &req, &mut buf, &mut chunk).await?;
                }
            }
            for _ in 0..per_conn {
                if Instant::now() > deadline {
                    break;
                }
                let t0 = Instant::now();
                if new_connection {
                    let mut c = open(&target, &proxy, &connector).await?;
                    request(&mut c, &req, &mut buf, &mut chunk).await?;
                } else if let Some(c) = conn.as_mut() {
                    if stream {
                        let ttfb =
                            stream_body::request_stream(c, &req, &mut buf, &mut chunk).await?;
                        first.push(ttfb.saturating_duration_since(t0));
                    } else {
                        request(c, &req, &mut buf, &mut chunk).await?;
                    }
                }
                lat.push(t0.elapsed());
            }
            anyhow::Ok((lat, first))
        }));
    }
    let mut all = Vec::new();
    let mut firsts = Vec::new();
    for t in tasks {
        let (lat, first) = t.await??;
        all.extend(lat);
        firsts.extend(first);
    }
    let wall = started.elapsed();
    all.sort();
    firsts.sort();
    if all.is_empty() {
        bail!("no request completed");
    }
    let pct =
        |v: &[Duration], p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)].as_micros();
    let ttfb = if firsts.is_empty() {
        String::new()
    } else {
        format!(
            "\tttfb_p50_us={}\tttfb_p99_us={}",
            pct(&firsts, 0.50),
            pct(&firsts, 0.99)
        )
    };
    println!(
        "{label}\tc={connections}\tn={}\tp50_us={}\tp99_us={}\trps={:.0}{ttfb}",
        all.len(),
        pct(&all, 0.50),
        pct(&all, 0.99),
        all.len() as f64 / wall.as_secs_f64()
    );
    Ok(())
}
