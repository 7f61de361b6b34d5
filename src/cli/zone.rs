use std::path::PathBuf;

use anyhow::Context;

use super::client::ClientArgs;

#[derive(Debug, clap::Subcommand)]
pub enum ZoneCommand {
    /// List zones with their serials and record counts.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Replace a zone's contents with an RFC 1035 zone file (creates the zone if new).
    Import {
        /// Zone name, e.g. example.test
        #[arg(long)]
        zone: String,
        /// Zone file to read; `-` for standard input.
        file: PathBuf,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print a zone as an RFC 1035 zone file.
    Export {
        #[arg(long)]
        zone: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub async fn run(cmd: ZoneCommand) -> anyhow::Result<()> {
    match cmd {
        ZoneCommand::List { client } => {
            let body = client.send(client.http()?.get(format!("{}/api/v1/zones", client.server))).await?;
            let v: serde_json::Value = serde_json::from_str(&body)?;
            println!("{:<40} {:>12} {:>10}", "ZONE", "SERIAL", "RECORDS");
            for z in v["zones"].as_array().into_iter().flatten() {
                println!("{:<40} {:>12} {:>10}", z["name"].as_str().unwrap_or("?"), z["serial"], z["records"]);
            }
        }
        ZoneCommand::Import { zone, file, client } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
            };
            let url = format!("{}/api/v1/zones/{zone}/import", client.server);
            let body = client.send(client.http()?.put(url).body(text)).await?;
            println!("{body}");
        }
        ZoneCommand::Export { zone, out, client } => {
            let body = client.send(client.http()?.get(format!("{}/api/v1/zones/{zone}/export", client.server))).await?;
            match out {
                Some(path) => std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?,
                None => print!("{body}"),
            }
        }
    }
    Ok(())
}
