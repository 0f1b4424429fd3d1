//! Assembling and running the data plane: CA, trust bundle, pingora server and its listeners.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aarmor_mediation::{ActionEngine, Mediator};
use pingora::connectors::http::Connector;
use pingora::connectors::ConnectorOptions;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use pingora::services::listening::Service;

use crate::admin::AdminApp;
use crate::admin_http::AdminApprovals;
use crate::ca::{CaError, CaPaths, CertificateAuthority};
use crate::front::{FrontEnd, ListenerKind};
use crate::http_proxy::AarmorHttp;
use crate::metrics::Metrics;
use crate::mint::{ConnectionResolver, LeafMinter, MintError};
use crate::plane::Plane;
use crate::settings::{AdminSettings, ProxySettings, UpstreamSettings};
use crate::upstream::{build_root_bundle, TrustError};
use aarmor_mediation::{ActionMediator, MediationSettings};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Mint(#[from] MintError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("{key}: cannot listen on {addr}: {source}")]
    Listen {
        key: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Conflict(String),
}

/// Everything the data plane needs to start.
#[derive(Debug, Clone)]
pub struct DataPlaneConfig {
    pub data_dir: PathBuf,
    pub proxy: ProxySettings,
    pub upstream: UpstreamSettings,
    pub admin: AdminSettings,
    pub mediation: MediationSettings,
}

/// Who decides: a raw [`Mediator`] on exchanges, or an [`ActionEngine`] on canonical actions
/// (the protocol layer turns exchanges into actions for it).
pub enum Decider {
    Mediator(Arc<dyn Mediator>),
    Actions {
        engine: Arc<dyn ActionEngine>,
        /// Approvals and receipts served to approvers by the admin listener.
        approvals: Option<AdminApprovals>,
        /// The stores' fill levels (`/v1/storage`, the console's banner).
        retention: Option<Arc<aarmor_engine::retention::Retention>>,
        /// The JWKS that verifies the credentials aarmor mints (`/.well-known/jwks.json`).
        jwks: Option<serde_json::Value>,
    },
}

/// What start-up prepared, reported to the operator before serving.
pub struct Prepared {
    pub ca_cert: PathBuf,
    pub ca_created: bool,
    server: Server,
}

/// What runs when the appliance is told to stop (SIGTERM, SIGINT), before the data plane stops
/// serving: the engine ends its held actions, so their agents get an answer and their receipts
/// are written.
pub type ShutdownHook =
    Box<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// The Unix signals pingora watches, with [`ShutdownHook`] run before a shutdown goes on (not
/// before a graceful upgrade, SIGQUIT, which hands the listeners to a new process).
struct HookedShutdown(Option<ShutdownHook>);

#[async_trait::async_trait]
impl pingora::server::ShutdownSignalWatch for HookedShutdown {
    async fn recv(&self) -> pingora::server::ShutdownSignal {
        let signal = pingora::server::UnixShutdownSignalWatch.recv().await;
        if !matches!(signal, pingora::server::ShutdownSignal::GracefulUpgrade) {
            if let Some(hook) = &self.0 {
                tracing::info!("shutting down");
                hook().await;
            }
        }
        signal
    }
}

impl Prepared {
    /// Serve until SIGINT/SIGTERM. Never returns.
    pub fn run_forever(self) -> ! {
        self.run_until_stopped(None)
    }

    /// Serve until SIGINT/SIGTERM, running `on_shutdown` first. Never returns.
    pub fn run_until_stopped(self, on_shutdown: Option<ShutdownHook>) -> ! {
        self.server.run(pingora::server::RunArgs {
            shutdown_signal: Box::new(HookedShutdown(on_shutdown)),
        });
        std::process::exit(0)
    }
}

fn check_bindable(key: &'static str, addr: SocketAddr) -> Result<(), StartError> {
    std::net::TcpListener::bind(addr)
        .map(drop)
        .map_err(|source| StartError::Listen { key, addr, source })
}

/// Validate the configuration against the machine and build the server, without serving yet.
pub fn prepare(config: DataPlaneConfig, decider: Decider) -> Result<Prepared, StartError> {
    let DataPlaneConfig {
        data_dir,
        proxy,
        upstream,
        admin,
        mediation,
    } = config;
    if Some(proxy.listen) == proxy.transparent_listen {
        return Err(StartError::Conflict(
            "proxy.listen and proxy.transparent_listen must differ".into(),
        ));
    }
    if let Some(t) = proxy.tls_listen {
        if t == proxy.listen || Some(t) == proxy.transparent_listen || t == admin.listen {
            return Err(StartError::Conflict(
                "proxy.tls_listen must differ from proxy.listen, proxy.transparent_listen and admin.listen".into(),
            ));
        }
        check_bindable("proxy.tls_listen", t)?;
    }
    if proxy.listen == admin.listen || proxy.transparent_listen == Some(admin.listen) {
        return Err(StartError::Conflict(
            "admin.listen must differ from the proxy listeners".into(),
        ));
    }
    check_bindable("proxy.listen", proxy.listen)?;
    if let Some(t) = proxy.transparent_listen {
        check_bindable("proxy.transparent_listen", t)?;
    }
    check_bindable("admin.listen", admin.listen)?;

    let paths = CaPaths::in_data_dir(&data_dir);
    let (ca, ca_created) = CertificateAuthority::load_or_init(&paths)?;
    let bundle = build_root_bundle(&data_dir, &upstream.ca_files)?;

    let metrics = Arc::new(Metrics::new()?);
    let minted = metrics.certificates_minted.clone();
    let minter = Arc::new(LeafMinter::new(
        ca,
        proxy.leaf_cache_size,
        Box::new(move || minted.inc()),
    )?);
    let tls_template = Arc::new(tls_template(&minter, proxy.http2)?);
    let client_verifier = match &proxy.client_ca_file {
        Some(path) => Some(
            crate::mtls::client_verifier(path, proxy.require_client_cert)
                .map_err(StartError::Conflict)?,
        ),
        None if proxy.require_client_cert => {
            return Err(StartError::Conflict(
                "proxy.require_client_cert needs proxy.client_ca_file".into(),
            ))
        }
        None => None,
    };

    let threads = if proxy.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        proxy.threads
    };
    let conf = ServerConf {
        threads,
        ca_file: Some(bundle.to_string_lossy().into_owned()),
        upstream_keepalive_pool_size: upstream.pool_size,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let server_conf = server.configuration.clone();
    let connector = Connector::new(Some(ConnectorOptions::from_server_conf(&server_conf)));

    let (mediator, approvals, retention, jwks): (Arc<dyn Mediator>, _, _, _) = match decider {
        Decider::Mediator(m) => (m, None, None, None),
        Decider::Actions {
            engine,
            approvals,
            retention,
            jwks,
        } => (
            {
                engine.register_metrics(metrics.registry());
                Arc::new(ActionMediator::new(
                    engine,
                    &mediation,
                    metrics.mediation.clone(),
                ))
            },
            approvals,
            retention,
            jwks,
        ),
    };
    let plane = Arc::new(Plane::new(
        proxy.clone(),
        upstream,
        mediation,
        mediator,
        metrics.clone(),
        minter,
        tls_template,
        client_verifier,
        connector,
        admin.listen,
    ));
    let http = Arc::new(pingora::proxy::http_proxy(
        &server_conf,
        AarmorHttp {
            plane: plane.clone(),
        },
    ));

    let mut explicit = Service::new(
        "aarmor explicit proxy".into(),
        FrontEnd {
            kind: ListenerKind::Explicit,
            plane: plane.clone(),
            http: http.clone(),
        },
    );
    explicit.add_tcp(&proxy.listen.to_string());
    server.add_service(explicit);
    if let Some(addr) = proxy.tls_listen {
        let mut tls_front = Service::new(
            "aarmor TLS proxy listener".into(),
            crate::tls_listener::TlsProxyFront {
                plane: plane.clone(),
                listen: addr,
            },
        );
        tls_front.add_tcp(&addr.to_string());
        server.add_service(tls_front);
    }
    if let Some(addr) = proxy.transparent_listen {
        let mut transparent = Service::new(
            "aarmor transparent proxy".into(),
            FrontEnd {
                kind: ListenerKind::Transparent,
                plane: plane.clone(),
                http,
            },
        );
        transparent.add_tcp(&addr.to_string());
        server.add_service(transparent);
    }
    let mut admin_svc = Service::new(
        "aarmor admin".into(),
        AdminApp::new(metrics, approvals, retention, jwks),
    );
    admin_svc.add_tcp(&admin.listen.to_string());
    admin_svc.threads = Some(1);
    server.add_service(admin_svc);

    Ok(Prepared {
        ca_cert: paths.cert,
        ca_created,
        server,
    })
}

fn tls_template(
    minter: &Arc<LeafMinter>,
    http2: bool,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(ConnectionResolver {
            minter: minter.clone(),
            fallback_name: None,
        }));
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}
