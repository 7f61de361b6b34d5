//! The DNS cookie server secret (RFC 7873/9018) the cluster shares: replicated through
//! Raft so that a server cookie minted by one node is valid on every other node.

use serde::{Deserialize, Serialize};

/// A cookie secret as it travels in a command: the bytes serialize as they are, `Debug`
/// never shows them (commands are logged at debug level by the Raft library).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CookieKey(pub [u8; 16]);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(<redacted>)")
    }
}

/// Current and previous SipHash-2-4 keys. The previous key stays valid after a rotation,
/// so cookies handed out just before it keep working until clients refresh them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CookieSecrets {
    pub current: Option<[u8; 16]>,
    pub previous: Option<[u8; 16]>,
    /// When (unix seconds, from the command) the current secret was set.
    pub set_at: u64,
}

impl std::fmt::Debug for CookieSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieSecrets")
            .field("current", &self.current.map(|_| "<redacted>"))
            .field("previous", &self.previous.map(|_| "<redacted>"))
            .field("set_at", &self.set_at)
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let key = CookieKey([0xab; 16]);
        let mut secrets = CookieSecrets::default();
        secrets.rotate(key.0, 1);
        secrets.rotate([0xcd; 16], 2);
        let cmd = crate::state::Command::SetCookieSecret { secret: key, at: 1 };
        for text in [format!("{key:?}"), format!("{secrets:?}"), format!("{cmd:?}")] {
            assert!(!text.contains("171") && !text.contains("205") && !text.contains("ab"), "{text}");
        }
        // Serialized exactly like the bare array, so stored logs and snapshots still read.
        assert_eq!(crate::codec::encode(&key).unwrap(), crate::codec::encode(&[0xabu8; 16]).unwrap());
    }
}
