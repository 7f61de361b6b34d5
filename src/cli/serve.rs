use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::{Config, Overrides};
use crate::node::{self, StartOptions};
use crate::secret::Secret;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["config", "dev"])))]
pub struct ServeArgs {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Embedded development default: one node on 127.0.0.1 (DNS :5353, HTTP :8053,
    /// Raft :7053), data in ./quorumdns-data, zone dyn.example.test.
    #[arg(long)]
    pub dev: bool,
    /// DNS listen address (UDP and TCP); port 0 picks a free port.
    #[arg(long)]
    pub dns_addr: Option<SocketAddr>,
    /// Public HTTP API listen address.
    #[arg(long)]
    pub http_addr: Option<SocketAddr>,
    /// Internal Raft RPC listen address (never the public port).
    #[arg(long)]
    pub raft_addr: Option<SocketAddr>,
    /// Data directory (Raft log, snapshots).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Overrides `dns.udp_coalesce_us` (0 = never wait; see docs/configuration.md).
    #[arg(long)]
    pub udp_coalesce_us: Option<u64>,
}

impl ServeArgs {
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let base = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::dev(),
        };
        let o = Overrides {
            dns_addr: self.dns_addr,
            http_addr: self.http_addr,
            raft_addr: self.raft_addr,
            data_dir: self.data_dir.clone(),
            udp_coalesce_us: self.udp_coalesce_us,
        };
        Ok(base.apply(&o)?)
    }
}

pub async fn run(args: ServeArgs, config: Config) -> anyhow::Result<()> {
    // SIGHUP's default action ends the process. Operators (and logrotate-style tooling)
    // send it expecting a reload; only the TLS certificates reload (src/http/tls.rs), so
    // without TLS a hangup must do nothing but say so.
    ignore_hangups();
    let admin_token = match Secret::load("QUORUMDNS_ADMIN_TOKEN", config.auth.admin_token_file.as_deref())? {
        Some(t) => t,
        None if args.dev => {
            let t = Secret::generate();
            // Shown once, on the terminal, never through the log pipeline.
            eprintln!(
                "quorumdns: generated admin token (shown once; set QUORUMDNS_ADMIN_TOKEN to choose one): {}",
                String::from_utf8_lossy(t.expose())
            );
            t
        }
        None => anyhow::bail!(
            "no admin token: set QUORUMDNS_ADMIN_TOKEN or auth.admin_token_file in {}",
            args.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
        ),
    };
    let cluster_secret = match Secret::load("QUORUMDNS_CLUSTER_SECRET", config.cluster.secret_file.as_deref())? {
        Some(s) => s,
        // A single bootstrap node has no peers to authenticate; a fresh random secret
        // keeps its Raft port closed to everyone.
        None if config.cluster.bootstrap => Secret::generate(),
        None => anyhow::bail!("no cluster secret: set QUORUMDNS_CLUSTER_SECRET or cluster.secret_file"),
    };
    let mut node = node::start(StartOptions { config, admin_token, cluster_secret, partition: Default::default() })
        .await
        .context("starting the node")?;
    tracing::info!(dns = %node.dns_addr, http = %node.http_addr, raft = %node.raft_addr, "node ready");
    wait_for_signal().await;
    tracing::info!("shutting down");
    node.shutdown().await;
    Ok(())
}

fn ignore_hangups() {
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangup) => {
            tokio::spawn(async move {
                while hangup.recv().await.is_some() {
                    tracing::info!("SIGHUP: TLS certificates reload if configured; nothing else reloads (restart for config changes)");
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP; a hangup would end the process"),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
