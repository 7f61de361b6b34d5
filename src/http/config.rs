//! `[http]`: the public HTTP port.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Failed authentications (dyndns secrets, API tokens) from one address within
    /// `auth_fail_window_secs` before further attempts from it are refused unchecked.
    pub auth_fail_limit: u32,
    pub auth_fail_window_secs: u64,
    /// PEM certificate chain (leaf first) and private key: serve HTTPS instead of HTTP on
    /// `node.http_addr`. Reloaded on SIGHUP and when the files change.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// How often to look for changed certificate files (0: only on SIGHUP).
    pub tls_reload_interval_secs: u64,
    /// An extra plain-HTTP listener with the same API, for what should not need TLS on
    /// loopback (metrics scrapes, probes, the CLI). Bind it to a loopback address.
    pub plain_addr: Option<SocketAddr>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            auth_fail_limit: 10,
            auth_fail_window_secs: 60,
            tls_cert: None,
            tls_key: None,
            tls_reload_interval_secs: 60,
            plain_addr: None,
        }
    }
}

impl HttpConfig {
    /// What is wrong with the section, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            // Refuse rather than silently serve plain HTTP.
            return Err("http.tls_cert and http.tls_key go together: give both or neither".into());
        }
        Ok(())
    }

    /// The certificate and key files, when TLS is configured.
    pub fn tls_files(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }
}
