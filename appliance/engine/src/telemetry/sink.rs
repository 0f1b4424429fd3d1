//! One syslog sink: a worker thread that drains the sink's bounded queue, sends over UDP, TCP
//! or TLS, and spills to its file while the sink is unreachable, replaying the file (in order,
//! before anything newer) once it is back. Delivery over TCP and TLS is at-least-once: a batch
//! whose write failed is spilled whole and sent again. UDP is best effort: a datagram sent just
//! as the collector goes down is lost, later ones are spilled once the socket reports it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::spill::Spill;
use super::syslog::octet_counted;
use super::{Formatter, Outgoing, SinkMetrics};

/// Where a sink sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

#[derive(Clone)]
pub struct Endpoint {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
    /// TLS: the name the collector's certificate must carry.
    pub server_name: String,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

const BATCH: usize = 256;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

enum Conn {
    Udp(UdpSocket),
    Stream {
        writer: Box<dyn AsyncWrite + Unpin + Send>,
        /// Set when the collector closed the connection (it never sends anything else).
        closed: Arc<AtomicBool>,
        /// The same socket, to look (without reading) whether the collector has gone.
        probe: std::net::TcpStream,
    },
}

/// Connected TCP, and a second handle on its socket for [`peer_gone`].
fn with_probe(tcp: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    tcp.set_nodelay(true)?;
    let std = tcp.into_std()?;
    let probe = std.try_clone()?;
    Ok((TcpStream::from_std(std)?, probe))
}

/// Whether the collector closed or reset the connection: it sends nothing, so end-of-stream or
/// an error is what a peek sees. Pending bytes (TLS records) mean it is still there.
fn peer_gone(probe: &std::net::TcpStream) -> bool {
    match probe.peek(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

fn stream_conn<S>(stream: S, probe: std::net::TcpStream) -> Conn
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, writer) = tokio::io::split(stream);
    let closed = Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        flag.store(true, Ordering::Release);
    });
    Conn::Stream {
        writer: Box::new(writer),
        closed,
        probe,
    }
}

async fn connect(ep: &Endpoint) -> std::io::Result<Conn> {
    let addr = format!("{}:{}", ep.host, ep.port);
    match ep.transport {
        Transport::Udp => {
            let target = tokio::net::lookup_host(&addr)
                .await?
                .next()
                .ok_or_else(|| std::io::Error::other(format!("{addr} does not resolve")))?;
            let bind = if target.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let socket = UdpSocket::bind(bind).await?;
            socket.connect(target).await?;
            Ok(Conn::Udp(socket))
        }
        Transport::Tcp => {
            let s = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(&addr))
                .await
                .map_err(|_| std::io::Error::other("connect timed out"))??;
            let (s, probe) = with_probe(s)?;
            Ok(stream_conn(s, probe))
        }
        Transport::Tls => {
            let config = ep
                .tls
                .clone()
                .ok_or_else(|| std::io::Error::other("no TLS configuration"))?;
            let s = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(&addr))
                .await
                .map_err(|_| std::io::Error::other("connect timed out"))??;
            let (s, probe) = with_probe(s)?;
            let name = rustls::pki_types::ServerName::try_from(ep.server_name.clone())
                .map_err(|e| std::io::Error::other(format!("server name: {e}")))?;
            let tls = tokio::time::timeout(
                IO_TIMEOUT,
                tokio_rustls::TlsConnector::from(config).connect(name, s),
            )
            .await
            .map_err(|_| std::io::Error::other("TLS handshake timed out"))??;
            Ok(stream_conn(tls, probe))
        }
    }
}

async fn send(conn: &mut Conn, messages: &[String]) -> std::io::Result<()> {
    match conn {
        Conn::Udp(socket) => {
            for m in messages {
                socket.send(m.as_bytes()).await?;
            }
            Ok(())
        }
        Conn::Stream {
            writer,
            closed,
            probe,
        } => {
            // Lets the reader task take in a close that already arrived, then looks at the
            // socket itself: a write to a collector that is gone would be lost.
            tokio::task::yield_now().await;
            if closed.load(Ordering::Acquire) || peer_gone(probe) {
                return Err(std::io::Error::other("the collector closed the connection"));
            }
            let mut buf = Vec::new();
            for m in messages {
                buf.extend_from_slice(&octet_counted(m));
            }
            tokio::time::timeout(IO_TIMEOUT, async {
                writer.write_all(&buf).await?;
                writer.flush().await
            })
            .await
            .map_err(|_| std::io::Error::other("write timed out"))?
        }
    }
}

pub struct Worker {
    pub name: String,
    pub endpoint: Endpoint,
    pub formatter: Formatter,
    pub spill: Spill,
    pub metrics: SinkMetrics,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl Worker {
    fn spill(&mut self, messages: &[String]) {
        match self.spill.append(messages) {
            Ok(dropped) => {
                self.metrics
                    .spilled
                    .inc_by((messages.len() - dropped) as u64);
                if dropped > 0 {
                    self.metrics.dropped.inc_by(dropped as u64);
                    tracing::error!(sink = %self.name, dropped, "telemetry spill file is full; events dropped");
                }
            }
            Err(e) => {
                self.metrics.dropped.inc_by(messages.len() as u64);
                tracing::error!(sink = %self.name, error = %e, dropped = messages.len(), "cannot write the telemetry spill file; events dropped");
            }
        }
        self.metrics.spill_bytes.set(self.spill.bytes() as i64);
    }

    /// Sends what the spill file holds, oldest first; false when the sink failed meanwhile.
    async fn replay(&mut self, conn: &mut Conn) -> bool {
        let mut offset = 0;
        loop {
            let (batch, next) = match self.spill.read_from(offset, BATCH) {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(sink = %self.name, error = %e, "cannot read the telemetry spill file");
                    return false;
                }
            };
            if batch.is_empty() {
                break;
            }
            if let Err(e) = send(conn, &batch).await {
                tracing::warn!(sink = %self.name, error = %e, "sink failed while replaying spilled events");
                let _ = self.spill.consume(offset);
                self.metrics.spill_bytes.set(self.spill.bytes() as i64);
                return false;
            }
            self.metrics.sent.inc_by(batch.len() as u64);
            offset = next;
        }
        if let Err(e) = self.spill.consume(offset) {
            tracing::error!(sink = %self.name, error = %e, "cannot truncate the telemetry spill file");
        }
        self.metrics.spill_bytes.set(self.spill.bytes() as i64);
        true
    }

    /// Runs until the queue's senders are gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Arc<Outgoing>>) {
        let mut conn: Option<Conn> = None;
        let mut backoff = self.retry_initial;
        let mut next_try = tokio::time::Instant::now();
        let mut warned = false;
        loop {
            if conn.is_none() && tokio::time::Instant::now() >= next_try {
                match connect(&self.endpoint).await {
                    Ok(c) => {
                        if warned {
                            tracing::info!(sink = %self.name, "telemetry sink reachable again");
                        }
                        conn = Some(c);
                        backoff = self.retry_initial;
                        warned = false;
                        self.metrics.up.set(1);
                    }
                    Err(e) => {
                        if !warned {
                            tracing::warn!(sink = %self.name, error = %e, "telemetry sink unreachable; spilling events to disk and retrying");
                            warned = true;
                        }
                        next_try = tokio::time::Instant::now() + backoff;
                        backoff = (backoff * 2).min(self.retry_max);
                        self.metrics.up.set(0);
                    }
                }
            }
            if let Some(c) = conn.as_mut() {
                if !self.spill.is_empty() && !self.replay(c).await {
                    conn = None;
                    self.metrics.up.set(0);
                    next_try = tokio::time::Instant::now() + backoff;
                }
            }
            let wait = match conn {
                Some(_) => Duration::from_millis(500),
                None => next_try
                    .saturating_duration_since(tokio::time::Instant::now())
                    .max(Duration::from_millis(10)),
            };
            let first = match tokio::time::timeout(wait, rx.recv()).await {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(_) => continue,
            };
            let mut events = vec![first];
            while events.len() < BATCH {
                match rx.try_recv() {
                    Ok(e) => events.push(e),
                    Err(_) => break,
                }
            }
            self.metrics.queue_depth.set(rx.len() as i64);
            let messages: Vec<String> = events.iter().map(|e| self.formatter.format(e)).collect();
            let sent = match conn.as_mut() {
                Some(c) if self.spill.is_empty() => match send(c, &messages).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(sink = %self.name, error = %e, "telemetry sink failed; spilling events to disk and retrying");
                        warned = true;
                        conn = None;
                        self.metrics.up.set(0);
                        next_try = tokio::time::Instant::now() + backoff;
                        false
                    }
                },
                _ => false,
            };
            if sent {
                self.metrics.sent.inc_by(messages.len() as u64);
            } else {
                self.spill(&messages);
            }
        }
    }
}
