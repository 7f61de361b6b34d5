//! `quorumdns backup` (a client of `GET /api/v1/backup`) and `quorumdns restore` (offline:
//! seeds a fresh data directory from a backup file before the node's first start).

use std::path::PathBuf;

use anyhow::{bail, Context};

use super::client::ClientArgs;
use super::serve::ServeArgs;
use crate::ops::backup;
use crate::raft::NodeInfo;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup file (written to FILE.partial first, then renamed).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup file (from `quorumdns backup`).
    #[arg(long)]
    pub from: PathBuf,
    /// The node id of the restored node (default: `node.id` of the config).
    #[arg(long)]
    pub node_id: Option<u64>,
    /// Move every zone serial forward by this much (0 keeps them): use it when restoring an
    /// older backup while secondaries already hold newer serials of the same zones.
    #[arg(long, default_value_t = 0)]
    pub serial_offset: u32,
    /// The restored node's configuration (its data directory and addresses).
    #[command(flatten)]
    pub serve: ServeArgs,
}

pub async fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    let url = format!("{}/api/v1/backup", args.client.server.trim_end_matches('/'));
    let resp = args
        .client
        .http()?
        .get(&url)
        .bearer_auth(&args.client.token)
        .send()
        .await
        .with_context(|| format!("contacting {}", args.client.server))?;
    let status = resp.status();
    let body = resp.bytes().await.context("reading the backup")?;
    if !status.is_success() {
        bail!("{url}: {status}: {}", String::from_utf8_lossy(&body));
    }
    // Check before writing: a damaged transfer must not become someone's only backup.
    let b = backup::decode(&body).context("the server sent an invalid backup")?;
    let partial = args.out.with_extension("partial");
    std::fs::write(&partial, &body).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &args.out).with_context(|| format!("renaming to {}", args.out.display()))?;
    println!(
        "backup of applied index {} ({} zones, {} bytes, sha256 {}) written to {}",
        b.header.applied_index,
        b.header.zones.len(),
        body.len(),
        b.header.sha256,
        args.out.display()
    );
    Ok(())
}

pub async fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    let config = args.serve.load_config()?;
    let bytes = std::fs::read(&args.from).with_context(|| format!("reading {}", args.from.display()))?;
    let b = backup::decode(&bytes).with_context(|| format!("{} is not a usable backup", args.from.display()))?;
    let node_id = args.node_id.unwrap_or(config.node.id);
    let n = &config.node;
    let info = NodeInfo {
        raft_addr: n.raft_addr.to_string(),
        http_addr: n.http_addr.to_string(),
        dns_addr: n.dns_addr.to_string(),
    };
    let state = backup::prepare(b.state, args.serial_offset);
    let log_id = crate::raft::seed::seed(&n.data_dir, node_id, info, &state, b.header.applied_index).await?;
    println!(
        "restored applied index {} ({} zones) into {} as node {node_id} (snapshot {log_id}); start it with `quorumdns serve`, then add more members with `quorumdns cluster add`",
        b.header.applied_index,
        state.zones.len(),
        n.data_dir.display()
    );
    Ok(())
}
