//! The DNS cookie server secret (RFC 7873/9018) the cluster shares: replicated through
//! Raft so that a server cookie minted by one node is valid on every other node.

use serde::{Deserialize, Serialize};

/// Current and previous SipHash-2-4 keys. The previous key stays valid after a rotation,
/// so cookies handed out just before it keep working until clients refresh them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CookieSecrets {
    pub current: Option<[u8; 16]>,
    pub previous: Option<[u8; 16]>,
    /// When (unix seconds, from the command) the current secret was set.
    pub set_at: u64,
}

impl CookieSecrets {
    /// Installs `secret` as current, keeping the old current as previous. Returns false
    /// when it is already the current secret (a replayed command changes nothing).
    pub fn rotate(&mut self, secret: [u8; 16], at: u64) -> bool {
        if self.current == Some(secret) {
            return false;
        }
        self.previous = self.current.take();
        self.current = Some(secret);
        self.set_at = at;
        true
    }
}
