//! `quorumdns cluster ...`: a client of a node's `/api/v1/cluster` admin API.

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::client::ClientArgs;

#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Bootstrap a cluster from the node at --server: alone, or with a static member list
    /// (which must include that node; start all members with cluster.bootstrap = false).
    Init {
        /// ID=RAFT_ADDR,HTTP_ADDR,DNS_ADDR (repeat for each member).
        #[arg(long = "member", value_name = "ID=RAFT,HTTP,DNS")]
        members: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Add a node as a learner; waits until it caught up (snapshot + log).
    Add {
        #[arg(long)]
        id: u64,
        #[arg(long)]
        raft_addr: String,
        #[arg(long)]
        http_addr: String,
        #[arg(long, default_value = "")]
        dns_addr: String,
        /// How long to wait for the learner to catch up.
        #[arg(long, default_value_t = 30)]
        wait_secs: u64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Make a learner a voter.
    Promote {
        id: u64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a node (the leader included); its id is retired for good.
    Remove {
        id: u64,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show every member: addresses, role, term, last log index, applied index, lag, leader.
    Status {
        /// Print the raw JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Parses `ID=RAFT_ADDR,HTTP_ADDR[,DNS_ADDR]`.
pub fn parse_member(s: &str) -> anyhow::Result<Value> {
    let (id, addrs) = s.split_once('=').context("expected ID=RAFT_ADDR,HTTP_ADDR,DNS_ADDR")?;
    let id: u64 = id.trim().parse().with_context(|| format!("bad node id in {s:?}"))?;
    let parts: Vec<&str> = addrs.split(',').map(str::trim).collect();
    let (raft, http, dns) = match parts.as_slice() {
        [r, h] => (*r, *h, ""),
        [r, h, d] => (*r, *h, *d),
        _ => bail!("expected ID=RAFT_ADDR,HTTP_ADDR,DNS_ADDR, got {s:?}"),
    };
    Ok(json!({ "id": id, "raft_addr": raft, "http_addr": http, "dns_addr": dns }))
}

pub async fn run(cmd: ClusterCommand) -> anyhow::Result<()> {
    let url = |c: &ClientArgs, p: &str| format!("{}/api/v1/cluster{p}", c.server.trim_end_matches('/'));
    match cmd {
        ClusterCommand::Init { members, client } => {
            let members = members.iter().map(|m| parse_member(m)).collect::<anyhow::Result<Vec<_>>>()?;
            let body = json!({ "members": members });
            println!("{}", client.send(client.http()?.post(url(&client, "/init")).json(&body)).await?);
        }
        ClusterCommand::Add { id, raft_addr, http_addr, dns_addr, wait_secs, client } => {
            let body = json!({ "id": id, "raft_addr": raft_addr, "http_addr": http_addr, "dns_addr": dns_addr, "wait_secs": wait_secs });
            let answer = client.send(client.http()?.post(url(&client, "/nodes")).json(&body)).await?;
            println!("{answer}");
            let v: Value = serde_json::from_str(&answer).unwrap_or_default();
            if v["caught_up"] == json!(false) {
                eprintln!(
                    "note: node {id} was added but had not caught up within {wait_secs} s; check `cluster status`"
                );
            }
        }
        ClusterCommand::Promote { id, client } => {
            println!("{}", client.send(client.http()?.post(url(&client, &format!("/nodes/{id}/promote")))).await?);
        }
        ClusterCommand::Remove { id, client } => {
            println!("{}", client.send(client.http()?.delete(url(&client, &format!("/nodes/{id}")))).await?);
        }
        ClusterCommand::Status { json, client } => {
            let body = client.send(client.http()?.get(url(&client, ""))).await?;
            if json {
                println!("{body}");
            } else {
                let v: Value = serde_json::from_str(&body).context("the node answered something that is not JSON")?;
                print!("{}", status_table(&v));
            }
        }
    }
    Ok(())
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `cluster status` table.
pub fn status_table(v: &Value) -> String {
    let mut out = format!(
        "{:<4} {:<22} {:<22} {:<22} {:<10} {:>6} {:>10} {:>10} {:>6} {:>6} {}\n",
        "ID", "RAFT", "HTTP", "DNS", "ROLE", "TERM", "LAST_LOG", "APPLIED", "LAG", "LEADER", "NOTE"
    );
    for m in v["members"].as_array().into_iter().flatten() {
        let mut note = Vec::new();
        if m["voter"] == json!(false) {
            note.push("non-voter".to_string());
        }
        if m["stale"] == json!(true) {
            note.push("stale".into());
        }
        if let Some(e) = m["error"].as_str() {
            note.push(format!("unreachable: {e}"));
        }
        out.push_str(&format!(
            "{:<4} {:<22} {:<22} {:<22} {:<10} {:>6} {:>10} {:>10} {:>6} {:>6} {}\n",
            cell(&m["id"]),
            cell(&m["raft_addr"]),
            cell(&m["http_addr"]),
            cell(&m["dns_addr"]),
            cell(&m["role"]),
            cell(&m["term"]),
            cell(&m["last_log_index"]),
            cell(&m["applied_index"]),
            cell(&m["lag"]),
            cell(&m["leader"]),
            note.join(", ")
        ));
    }
    if let Some(r) = v["retired"].as_array().filter(|r| !r.is_empty()) {
        let ids: Vec<String> = r.iter().map(cell).collect();
        out.push_str(&format!("retired ids (never reused): {}\n", ids.join(", ")));
    }
    out
}
