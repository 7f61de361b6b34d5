//! Per-client TCP connection accounting (the overall limit is a semaphore in `server`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open connections per client address.
#[derive(Default)]
pub struct ClientSlots {
    per_client: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// Releases the client's slot when the connection ends.
pub struct ClientSlot {
    slots: Arc<ClientSlots>,
    ip: IpAddr,
}

impl ClientSlots {
    /// `per_client` = 0 means no per-client limit.
    pub fn new(per_client: usize) -> Arc<Self> {
        Arc::new(ClientSlots { per_client, open: Mutex::new(HashMap::new()) })
    }

    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<ClientSlot> {
        let Ok(mut open) = self.open.lock() else { return None };
        let n = open.entry(ip).or_insert(0);
        if self.per_client > 0 && *n >= self.per_client {
            return None;
        }
        *n += 1;
        Some(ClientSlot { slots: self.clone(), ip })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.open.lock() {
            if let Some(n) = open.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_limit_and_release() {
        let slots = ClientSlots::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let s1 = slots.acquire(a).unwrap();
        let _s2 = slots.acquire(a).unwrap();
        assert!(slots.acquire(a).is_none());
        assert!(slots.acquire(b).is_some());
        drop(s1);
        assert!(slots.acquire(a).is_some());
    }
}
