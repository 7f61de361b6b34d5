//! One running node: Raft (log + state machine on sled), the Raft RPC listener, the DNS
//! listeners and the public HTTP API, started in that order and stopped in reverse.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::{Listener, ListenerExt, TapIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::dns::notify::Notifier;
use crate::dns::xfr::XfrConfig;
use crate::dns::{DnsServer, DnsServerConfig, SnapshotPublisher};
use crate::model::ZoneTransfer;
use crate::raft::{NodeInfo, PartitionSwitch, RaftSettings};
use crate::secret::Secret;
use crate::service::Service;
use crate::state::Observers;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot create data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("cannot bind {what} on {addr}: {error}")]
    Bind { what: &'static str, addr: SocketAddr, error: std::io::Error },
    #[error("raft: {0}")]
    Raft(String),
    #[error("bootstrap: {0}")]
    Bootstrap(String),
    #[error("invalid zone in config: {0}")]
    Zone(String),
    #[error("invalid TLS configuration: {0}")]
    Tls(#[from] crate::http::tls::TlsError),
}

/// A started node. Dropping it does not stop it; call [`RunningNode::shutdown`].
pub struct RunningNode {
    pub dns_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub raft_addr: SocketAddr,
    pub service: Arc<Service>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The public HTTP API and the tasks that make changes: stopped (and drained) first.
    public_stop: watch::Sender<bool>,
    public_tasks: JoinSet<()>,
}

pub struct StartOptions {
    pub config: Config,
    pub admin_token: Secret,
    pub cluster_secret: Secret,
    /// Test hook: cut the node off from its peers (in-process partition tests).
    pub partition: PartitionSwitch,
}

pub async fn start(opts: StartOptions) -> Result<RunningNode, NodeError> {
    let StartOptions { config, admin_token, cluster_secret, partition } = opts;
    let n = &config.node;
    // The certificate first: a bad file is a configuration error before anything starts.
    let tls = match config.http.tls_files() {
        Some((cert, key)) => Some(crate::http::tls::CertStore::open(cert, key)?),
        None => None,
    };
    std::fs::create_dir_all(&n.data_dir).map_err(|e| NodeError::DataDir(n.data_dir.display().to_string(), e))?;

    let publisher = SnapshotPublisher::new();
    let snapshot = publisher.current.clone();
    let (config_keys, local_transfer, notifier) = transfer_setup(&config)?;
    // One key ring for UPDATE and transfers: config keys plus the replicated ones.
    let keyring = crate::dns::update::KeyRingPublisher::new(config_keys);
    let xfr = Arc::new(XfrConfig { keys: keyring.ring.clone(), local: local_transfer });
    let update = crate::dns::update::UpdateHandler::new(keyring.ring.clone());
    let cookie_keys = Arc::new(crate::dns::cookie::CookieKeys::default());
    let cookies = Arc::new(crate::dns::cookie::CookieObserver(cookie_keys.clone()));
    let publisher = Arc::new(Observers(vec![Arc::new(publisher), notifier.clone(), keyring, cookies]));
    let c = &config.cluster;
    let settings = RaftSettings {
        node_id: n.id,
        data_dir: n.data_dir.join("raft"),
        cluster_secret: cluster_secret.expose().to_vec(),
        cluster: config.cluster.clone(),
        partition,
    };

    let raft = crate::raft::open(settings, publisher).await.map_err(|e| NodeError::Raft(e.to_string()))?;

    crate::metrics::touch_all();
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let (public_stop, public_rx) = watch::channel(false);
    let mut public_tasks = JoinSet::new();

    let raft_listener = bind_tcp("raft", n.raft_addr).await?;
    let raft_addr =
        raft_listener.local_addr().map_err(|e| NodeError::Bind { what: "raft", addr: n.raft_addr, error: e })?;
    let rpc = raft.rpc_router();
    tasks.spawn(serve_http(tcp_io(raft_listener), rpc, stop_rx.clone()));
    tracing::info!("raft listening on {raft_addr}");

    let dns_config = DnsServerConfig {
        xfr,
        update: Some(update.clone()),
        policy: Arc::new(config.dns.edns_policy(cookie_keys)),
        rrl: Arc::new(crate::dns::rrl::Rrl::new(config.dns.rrl())),
        ..DnsServerConfig::from_config(&config.dns)
    };
    let dns = DnsServer::bind_with(n.dns_addr, snapshot.clone(), dns_config).map_err(|e| NodeError::Bind {
        what: "dns",
        addr: n.dns_addr,
        error: e,
    })?;
    let dns_addr = dns.local_addr();
    let dns_stop = stop_rx.clone();
    tasks.spawn(async move {
        if let Err(e) = dns.run(dns_stop).await {
            tracing::error!(error = %e, "dns server failed");
        }
    });
    tracing::info!("dns listening on {dns_addr} (udp+tcp)");

    public_tasks.spawn(notifier.run(public_rx.clone()));

    let http_listener = bind_tcp("http", n.http_addr).await?;
    let http_addr =
        http_listener.local_addr().map_err(|e| NodeError::Bind { what: "http", addr: n.http_addr, error: e })?;
    let info =
        NodeInfo { raft_addr: raft_addr.to_string(), http_addr: http_addr.to_string(), dns_addr: dns_addr.to_string() };
    let write_timeout = Duration::from_millis(c.write_timeout_ms);
    let initial_zones = config
        .zones
        .iter()
        .map(|z| z.command().map(|c| (z.name.clone(), c)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NodeError::Zone(e.to_string()))?;
    let service = Service::new(raft, admin_token, write_timeout, info, initial_zones);
    update.set_service(service.clone());
    // `serve --dev` may leave the public URL out (config validation requires it
    // otherwise): then it is this node's own listen address, never a request's Host.
    let public_url = config.dyndns.public_url.clone().unwrap_or_else(|| {
        let scheme = if tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{http_addr}")
    });
    let dyndns_config = crate::dyndns::config::DyndnsConfig { public_url: Some(public_url), ..config.dyndns.clone() };
    let dyndns = crate::dyndns::Dyndns::new(service.clone(), dyndns_config);
    crate::ops::probe_storage(&service).await;
    tasks.spawn(crate::ops::observe(service.clone(), stop_rx.clone()));
    public_tasks.spawn(crate::dyndns::expiry::run(dyndns.clone(), public_rx.clone()));
    let acme_dns = Arc::new(config.acme_dns());
    public_tasks.spawn(crate::http::acme_dns::expiry(service.clone(), acme_dns.clone(), public_rx.clone()));
    let context =
        crate::http::RouterContext { http: config.http.clone(), acme_dns, rejected_updates: update.rejected() };
    let router = crate::http::router_full(service.clone(), dyndns, context);
    if let Some(addr) = config.http.plain_addr {
        let plain = bind_tcp("plain http", addr).await?;
        let local = plain.local_addr().map_err(|error| NodeError::Bind { what: "plain http", addr, error })?;
        public_tasks.spawn(serve_http(tcp_io(plain), router.clone(), public_rx.clone()));
        tracing::info!("plain-http listener (no TLS) on {local}");
    }
    match tls {
        Some(store) => {
            let tls_listener = crate::http::tls::listen(http_listener, store.server_config()?, public_rx.clone())
                .map_err(|error| NodeError::Bind { what: "http", addr: http_addr, error })?;
            let tls_listener = tls_listener.tap_io(|_| {});
            let router = router.layer(axum::Extension(crate::http::tls::Transport::Tls));
            public_tasks.spawn(serve_http(tls_listener, router, public_rx));
            let interval = Duration::from_secs(config.http.tls_reload_interval_secs);
            tasks.spawn(crate::http::tls::watch_reloads(store, interval, stop_rx.clone()));
            tracing::info!("http listening on {http_addr} (https)");
        }
        None => {
            public_tasks.spawn(serve_http(tcp_io(http_listener), router, public_rx));
            tracing::info!("http listening on {http_addr}");
        }
    }
    tasks.spawn(crate::cluster::watch(service.clone(), stop_rx.clone()));
    tasks.spawn(crate::cluster::raise_format(service.clone(), stop_rx.clone()));
    if config.dns.cookies {
        tasks.spawn(crate::dns::cookie_secret::ensure(service.clone(), stop_rx.clone()));
    }

    let initialized = service.raft_node().raft.is_initialized().await.map_err(|e| NodeError::Raft(e.to_string()))?;
    let mut node = RunningNode { dns_addr, http_addr, raft_addr, service, stop, tasks, public_stop, public_tasks };
    if config.cluster.bootstrap && !initialized {
        if let Err(e) = bootstrap(&node.service).await {
            node.shutdown().await;
            return Err(e);
        }
    } else if !initialized {
        tracing::info!(
            node_id = n.id,
            "not part of a cluster yet: waiting to be added (cluster add) or initialized (cluster init)"
        );
    }
    Ok(node)
}

impl RunningNode {
    /// Stops taking requests, lets in-flight ones finish, shuts Raft down (flushing).
    /// The public API stops first and drains while Raft still runs, so an in-flight update
    /// still commits (and, on a follower, is applied here) before the node answers it.
    pub async fn shutdown(&mut self) {
        self.service.health().mark_shutting_down();
        crate::metrics::SHUTTING_DOWN.set(1);
        let _ = self.public_stop.send(true);
        while self.public_tasks.join_next().await.is_some() {}
        tracing::info!("public API drained; stopping DNS and Raft");
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        if let Err(e) = self.service.raft_node().shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        tracing::info!("node stopped");
    }
}

async fn bind_tcp(what: &'static str, addr: SocketAddr) -> Result<TcpListener, NodeError> {
    TcpListener::bind(addr).await.map_err(|error| NodeError::Bind { what, addr, error })
}

/// A TCP listener as `serve_http` takes it. axum gives `ConnectInfo<SocketAddr>` to any
/// `TapIo` listener whose address is a `SocketAddr`: that is how the TLS listener gets
/// it too (the no-op tap is only for that).
fn tcp_io(listener: TcpListener) -> TapIo<TcpListener, impl FnMut(&mut tokio::net::TcpStream) + Send + 'static> {
    listener.tap_io(|_| {})
}

/// Serves `router` on `listener` (plain TCP or TLS) with each request's peer address as
/// `ConnectInfo<SocketAddr>`, until `stop` turns true; in-flight requests finish.
async fn serve_http<L, F>(listener: TapIo<L, F>, router: axum::Router, mut stop: watch::Receiver<bool>)
where
    L: Listener<Addr = SocketAddr>,
    F: FnMut(&mut L::Io) + Send + 'static,
{
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "http server failed");
    }
}

/// First start of a bootstrap node: a one-member cluster, then the configured zones. A
/// node that already belongs to a cluster skips this (its peers may be down right now).
async fn bootstrap(svc: &Service) -> Result<(), NodeError> {
    svc.raft_node()
        .initialize_single(svc.self_info().clone())
        .await
        .map_err(|e| NodeError::Bootstrap(e.to_string()))?;
    wait_for_leader(svc, Duration::from_secs(30)).await?;
    let me = std::collections::BTreeMap::from([(svc.node_id(), svc.self_info().clone())]);
    svc.start_at_newest_format(&me).await;
    svc.create_configured_zones().await.map_err(|e| NodeError::Bootstrap(e.to_string()))
}

async fn wait_for_leader(svc: &Service, limit: Duration) -> Result<(), NodeError> {
    let deadline = Instant::now() + limit;
    let mut rx = svc.raft_node().raft.metrics();
    loop {
        if rx.borrow().current_leader.is_some() {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(NodeError::Bootstrap("no leader elected within 30 s".into()));
        }
        let _ = tokio::time::timeout(left, rx.changed()).await;
    }
}

/// This node's TSIG keys and per-zone transfer settings from its config file.
type TransferSetup =
    (Vec<crate::dns::tsig::TsigKey>, std::collections::HashMap<crate::model::Fqdn, ZoneTransfer>, Arc<Notifier>);

fn transfer_setup(config: &Config) -> Result<TransferSetup, NodeError> {
    let keys = config
        .tsig_keys
        .iter()
        .map(|k| k.load())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NodeError::Zone(e.to_string()))?;
    let local = config
        .zones
        .iter()
        .map(|z| {
            let t = ZoneTransfer {
                allow_transfer: z.allow_transfer.clone(),
                transfer_tsig: z.transfer_tsig.clone(),
                notify: z.notify.clone(),
                journal_versions: None,
            };
            (z.name.clone(), t)
        })
        .collect::<std::collections::HashMap<_, _>>();
    let notify = local.iter().map(|(z, t)| (z.clone(), t.notify.clone())).collect();
    Ok((keys, local, Notifier::new(notify)))
}
