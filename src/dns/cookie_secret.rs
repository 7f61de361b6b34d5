//! Getting a cookie secret into the replicated state, and rotating it.
//!
//! The leader proposes `SetCookieSecret` with a random secret when the state has none
//! (first bootstrap, or a cluster that predates cookies); `rotate` (admin API,
//! `POST /api/v1/cluster/cookie-secret`) proposes a fresh one, the old one staying valid
//! as the previous secret.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::service::{Service, SubmitError};
use crate::state::Command;

/// Proposes a new random secret through Raft.
pub async fn rotate(svc: &Service) -> Result<u64, SubmitError> {
    let at = super::cookie::unix_now() as u64;
    let committed = svc
        .submit(Command::SetCookieSecret {
            secret: crate::model::cookie::CookieKey(super::cookie::random_secret()),
            at,
        })
        .await?;
    Ok(committed.index)
}

/// While this node leads and the state has no secret, propose one. Runs until `stop`.
pub async fn ensure(svc: Arc<Service>, mut stop: watch::Receiver<bool>) {
    let me = svc.node_id();
    loop {
        let missing = svc.read(|s| s.cookie_secrets.current.is_none());
        let leader = svc.leader() == Some(me);
        if missing && leader {
            match rotate(&svc).await {
                Ok(index) => tracing::info!(log_index = index, "DNS cookie secret generated"),
                Err(e) => tracing::warn!(error = %e, "cannot set the DNS cookie secret yet"),
            }
        }
        let wait = if missing { Duration::from_millis(500) } else { Duration::from_secs(10) };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
