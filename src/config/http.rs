//! `[http]`: the public HTTP port.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Failed authentications (dyndns secrets, API tokens) from one address within
    /// `auth_fail_window_secs` before further attempts from it are refused unchecked.
    pub auth_fail_limit: u32,
    pub auth_fail_window_secs: u64,
    /// PEM certificate chain and private key: serve HTTPS instead of HTTP. Reloaded on
    /// SIGHUP and when the files change.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { auth_fail_limit: 10, auth_fail_window_secs: 60, tls_cert: None, tls_key: None }
    }
}
