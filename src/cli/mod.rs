//! Command-line interface: clap types, one file per subcommand group.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub mod backup;
pub mod client;
pub mod cluster;
pub mod serve;
pub mod tsig;
pub mod zone;

#[derive(Debug, Parser)]
#[command(
    name = "quorumdns",
    version,
    about = "Authoritative DNS for dynamic DNS, replicated with Raft",
    long_about = "quorumdns serves authoritative DNS (UDP and TCP) and an HTTP update API from every \
node of a Raft cluster. Every change is an entry in a replicated log stored in sled; every node \
applies the same entries and answers the same.\n\nFirst run: `quorumdns serve --dev`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node (DNS, HTTP API and Raft).
    Serve(serve::ServeArgs),
    /// Manage zones on a running node through its HTTP API.
    #[command(subcommand)]
    Zone(zone::ZoneCommand),
    /// Manage cluster membership through a node's HTTP API.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Download a consistent backup of the applied state from a running node.
    Backup(backup::BackupArgs),
    /// Seed a fresh data directory from a backup (before the node's first start).
    Restore(backup::RestoreArgs),
    /// Manage TSIG keys for RFC 2136 UPDATE through a node's HTTP API.
    #[command(subcommand)]
    Tsig(tsig::TsigCommand),
    /// Check a configuration file and print what it resolves to.
    CheckConfig {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
}
