//! `quorumdns tsig add/list/remove`: TSIG keys for RFC 2136 UPDATE, through a node's API.
//! `add` prints the secret once (generated unless given) in the forms nsupdate, BIND and
//! Knot read.

use serde_json::json;

use super::client::ClientArgs;

#[derive(Debug, clap::Subcommand)]
pub enum TsigCommand {
    /// Create (or replace) a key; prints its secret once.
    Add {
        /// Key name, e.g. acme-key.
        name: String,
        /// hmac-md5, hmac-sha1, hmac-sha256, hmac-sha384 or hmac-sha512.
        #[arg(long, default_value = "hmac-sha256")]
        algorithm: String,
        /// Base64 secret; generated when absent.
        #[arg(long, env = "QUORUMDNS_TSIG_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// May change names at or below this name (repeatable).
        #[arg(long = "allow-subdomain")]
        subdomain: Vec<String>,
        /// May change exactly this name (repeatable).
        #[arg(long = "allow-name")]
        exact: Vec<String>,
        /// May change names matching this pattern, `*` = one or more labels (repeatable).
        #[arg(long = "allow-pattern")]
        pattern: Vec<String>,
        /// Record types the grants cover (repeatable); none = every type.
        #[arg(long = "type")]
        types: Vec<String>,
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List keys and their policies (never secrets).
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Delete a key: UPDATEs signed with it are refused from then on.
    Remove {
        name: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub async fn run(cmd: TsigCommand) -> anyhow::Result<()> {
    match cmd {
        TsigCommand::Add { name, algorithm, secret, subdomain, exact, pattern, types, comment, client } => {
            let rule = |kind: &str, n: &String| json!({ "match": kind, "name": n, "types": types });
            let policy: Vec<_> = subdomain
                .iter()
                .map(|n| rule("subdomain", n))
                .chain(exact.iter().map(|n| rule("exact", n)))
                .chain(pattern.iter().map(|n| rule("pattern", n)))
                .collect();
            let body =
                json!({ "name": name, "algorithm": algorithm, "secret": secret, "policy": policy, "comment": comment });
            let v = send(client.http()?.post(format!("{}/api/v1/tsig", client.server)).json(&body), &client).await?;
            let (alg, secret) = (v["algorithm"].as_str().unwrap_or("?"), v["secret"].as_str().unwrap_or("?"));
            println!("# The secret is shown only now. nsupdate -k <file> / BIND:");
            println!("key \"{name}\" {{\n\talgorithm {alg};\n\tsecret \"{secret}\";\n}};");
            println!("# nsupdate -y {alg}:{name}:{secret}");
        }
        TsigCommand::List { client } => {
            let v = send(client.http()?.get(format!("{}/api/v1/tsig", client.server)), &client).await?;
            println!("{:<32} {:<12} POLICY", "NAME", "ALGORITHM");
            for k in v["keys"].as_array().into_iter().flatten() {
                println!(
                    "{:<32} {:<12} {}",
                    k["name"].as_str().unwrap_or("?"),
                    k["algorithm"].as_str().unwrap_or("?"),
                    k["policy"]
                );
            }
        }
        TsigCommand::Remove { name, client } => {
            send(client.http()?.delete(format!("{}/api/v1/tsig/{name}", client.server)), &client).await?;
            println!("removed {name}");
        }
    }
    Ok(())
}

async fn send(req: reqwest::RequestBuilder, client: &ClientArgs) -> anyhow::Result<serde_json::Value> {
    let body = client.send(req).await?;
    Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}
