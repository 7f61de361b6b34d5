//! NOTIFY out (RFC 1996): after a zone's serial changes, every node tells the zone's
//! secondaries once it has applied the change itself, retrying with back-off until each
//! acknowledges or a newer serial supersedes the change.
//!
//! Why every node and not only the leader: a secondary lists all nodes as primaries and,
//! on a NOTIFY, asks them in its own order (Knot and BIND both do). A NOTIFY sent by the
//! leader as soon as it applied can reach a secondary before a follower applied the same
//! entry; if the secondary asks that follower first, it sees the old serial, concludes it
//! is up to date and waits for its refresh timer (hours). A NOTIFY from each node after
//! its own apply means the last one arrives when every live node serves the new serial.
//! Secondaries answer the extra NOTIFYs with one SOA query each.
//!
//! The [`Notifier`] is a `StateObserver`: it only records the newest serial per zone and
//! wakes a task, so apply never waits on the network.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{watch, Notify};

use crate::metrics::NOTIFY_SENT_TOTAL;
use crate::model::{Fqdn, Serial, SoaParams};
use crate::state::{State, StateObserver};

/// First wait for an answer; doubled per attempt up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_secs(1);
const MAX_WAIT: Duration = Duration::from_secs(30);
const ATTEMPTS: u32 = 8;

/// What to announce for one zone.
#[derive(Clone, Debug)]
struct Announcement {
    serial: Serial,
    soa: SoaParams,
    targets: BTreeSet<SocketAddr>,
}

#[derive(Default)]
pub struct Notifier {
    /// NOTIFY targets from this node's config, added to the replicated ones.
    local: HashMap<Fqdn, Vec<SocketAddr>>,
    pending: Mutex<BTreeMap<Fqdn, Announcement>>,
    /// The newest serial per zone, so retries of an older one stop.
    latest: Mutex<HashMap<Fqdn, Serial>>,
    wake: Notify,
}

impl Notifier {
    pub fn new(local: HashMap<Fqdn, Vec<SocketAddr>>) -> Arc<Notifier> {
        Arc::new(Notifier { local, ..Notifier::default() })
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_latest(&self, zone: &Fqdn, serial: Serial) -> bool {
        Self::lock(&self.latest).get(zone) == Some(&serial)
    }

    /// Sends pending announcements until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let pending = std::mem::take(&mut *Self::lock(&self.pending));
            for (zone, a) in pending {
                Self::lock(&self.latest).insert(zone.clone(), a.serial);
                for target in &a.targets {
                    let me = self.clone();
                    let (zone, a, target, stop) = (zone.clone(), a.clone(), *target, stop.clone());
                    tokio::spawn(async move { me.notify_until_acked(zone, a, target, stop).await });
                }
            }
        }
    }

    async fn notify_until_acked(&self, zone: Fqdn, a: Announcement, target: SocketAddr, stop: watch::Receiver<bool>) {
        let msg_id: u16 = rand::random();
        let msg = message(msg_id, &zone, &a.soa, a.serial);
        let mut wait = FIRST_WAIT;
        for attempt in 1..=ATTEMPTS {
            if *stop.borrow() {
                return;
            }
            if !self.is_latest(&zone, a.serial) {
                NOTIFY_SENT_TOTAL.with_label_values(&["superseded"]).inc();
                return;
            }
            match send_once(&msg, msg_id, target, wait).await {
                Ok(true) => {
                    NOTIFY_SENT_TOTAL.with_label_values(&["acked"]).inc();
                    tracing::info!(%zone, serial = a.serial.0, %target, attempt, "NOTIFY acknowledged");
                    return;
                }
                Ok(false) => NOTIFY_SENT_TOTAL.with_label_values(&["timeout"]).inc(),
                Err(e) => {
                    NOTIFY_SENT_TOTAL.with_label_values(&["error"]).inc();
                    tracing::debug!(%zone, %target, error = %e, "NOTIFY send failed");
                    tokio::time::sleep(wait).await;
                }
            };
            wait = (wait * 2).min(MAX_WAIT);
        }
        NOTIFY_SENT_TOTAL.with_label_values(&["gave_up"]).inc();
        tracing::warn!(%zone, serial = a.serial.0, %target, "NOTIFY not acknowledged, giving up");
    }
}

impl StateObserver for Notifier {
    fn state_changed(&self, state: &State, changed_zones: Option<&BTreeSet<Fqdn>>, _applied_index: u64) {
        // After a start or a snapshot install nothing is known to be new: no NOTIFY.
        let Some(changed) = changed_zones else { return };
        let mut pending = Self::lock(&self.pending);
        for origin in changed {
            let Some(zone) = state.zones.get(origin) else {
                pending.remove(origin);
                continue;
            };
            let replicated = state.transfer.get(origin).map(|t| t.notify.as_slice()).unwrap_or_default();
            let local = self.local.get(origin).map(Vec::as_slice).unwrap_or_default();
            let targets: BTreeSet<SocketAddr> = replicated.iter().chain(local).copied().collect();
            if targets.is_empty() {
                continue;
            }
            pending.insert(origin.clone(), Announcement { serial: zone.serial, soa: zone.soa.clone(), targets });
        }
        let any = !pending.is_empty();
        drop(pending);
        if any {
            self.wake.notify_one();
        }
    }
}

/// A NOTIFY for `zone` (opcode 4, AA) with the zone's SOA in the answer section.
pub fn message(id: u16, zone: &Fqdn, soa: &SoaParams, serial: Serial) -> Vec<u8> {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[(4 << 3) | 0x04, 0x00]);
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    let owner = zone.to_wire();
    m.extend_from_slice(&owner);
    m.extend_from_slice(&[0, 6, 0, 1]);
    m.extend_from_slice(&owner);
    m.extend_from_slice(&[0, 6, 0, 1]);
    m.extend_from_slice(&soa.ttl.to_be_bytes());
    let len_at = m.len();
    m.extend_from_slice(&[0, 0]);
    soa.write_rdata(serial, &mut m);
    let rdlen = u16::try_from(m.len() - len_at - 2).unwrap_or(u16::MAX);
    m[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    m
}

/// Sends once and waits up to `wait` for the matching response. Ok(false) on timeout.
async fn send_once(msg: &[u8], id: u16, target: SocketAddr, wait: Duration) -> std::io::Result<bool> {
    let bind: SocketAddr = if target.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(target).await?;
    socket.send(msg).await?;
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Err(_) => return Ok(false),
            Ok(r) => r?,
        };
        // Any response (even NOTIMP or REFUSED) with our ID ends the retries.
        let is_response = n >= 12 && buf[0..2] == id.to_be_bytes() && buf[2] & 0x80 != 0 && (buf[2] >> 3) & 0x0f == 4;
        if is_response {
            let rcode = buf[3] & 0x0f;
            if rcode != 0 {
                tracing::warn!(%target, rcode, "NOTIFY answered with an error");
            }
            return Ok(true);
        }
    }
}
