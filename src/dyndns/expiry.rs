//! Expiry of hosts not refreshed in time, done through the log: the current leader
//! periodically proposes `ExpireHosts { at }` with its clock; apply removes the addresses
//! of exactly the hosts whose last refresh + expire <= at, identically on every node.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Dyndns;
use crate::state::Command;

/// Runs until `stop` turns true. Proposes only on the leader and only when this node's
/// replica shows a host due, so an idle cluster writes nothing.
pub async fn run(dyn_: Arc<Dyndns>, mut stop: watch::Receiver<bool>) {
    let period = Duration::from_secs(dyn_.config.expire_sweep_interval_secs.max(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        sweep(&dyn_).await;
    }
}

/// One sweep; returns whether a command was proposed.
pub async fn sweep(dyn_: &Dyndns) -> bool {
    if !dyn_.svc.is_leader() {
        return false;
    }
    let at = crate::clock::unix_ms();
    let due = dyn_.svc.read(|s| s.registry.hosts.values().any(|h| h.is_expired_at(at)));
    if !due {
        return false;
    }
    let cmd = Command::ExpireHosts { at, history_limit: dyn_.config.history_per_host };
    match dyn_.svc.submit(cmd).await {
        Ok(c) => tracing::info!(log_index = c.index, "expired hosts not refreshed in time"),
        Err(e) => tracing::warn!(error = %e, "expiry sweep not committed"),
    }
    true
}
