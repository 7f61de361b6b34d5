//! What every client subcommand shares: where the node is, the admin token, the HTTP
//! client (with a private CA when given) and how a non-2xx answer becomes an error.

use std::path::PathBuf;

/// Where client subcommands find the node and how they authenticate.
#[derive(Debug, clap::Args, Clone)]
pub struct ClientArgs {
    /// Base URL of a node's HTTP API.
    #[arg(long, env = "QUORUMDNS_SERVER", default_value = "http://127.0.0.1:8053")]
    pub server: String,
    /// Admin bearer token.
    #[arg(long, env = "QUORUMDNS_ADMIN_TOKEN", hide_env_values = true)]
    pub token: String,
    /// PEM file of CA certificates to trust for an https server (a private CA), besides
    /// the built-in web roots.
    #[arg(long, env = "QUORUMDNS_CACERT")]
    pub cacert: Option<PathBuf>,
}

impl ClientArgs {
    /// The HTTP client for this node: trusts `--cacert` when given.
    pub fn http(&self) -> anyhow::Result<reqwest::Client> {
        use anyhow::Context;
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &self.cacert {
            let pem = std::fs::read(path).with_context(|| format!("reading --cacert {}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("--cacert {}: not PEM certificates", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("--cacert {}: no certificate in the file", path.display());
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        builder.build().context("building the HTTP client")
    }

    /// Sends `req` with the admin token; a non-2xx answer becomes an error with its body.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<String> {
        use anyhow::Context;
        let resp = req.bearer_auth(&self.token).send().await.with_context(|| format!("contacting {}", self.server))?;
        let status = resp.status();
        let body = resp.text().await?;
        if !status.is_success() {
            anyhow::bail!("{status}: {}", body.trim());
        }
        Ok(body)
    }
}
