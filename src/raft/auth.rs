//! How Raft peers authenticate each other: every RPC body carries an HMAC-SHA256 under the
//! secret the members of a cluster share, in [`AUTH_HEADER`]. The client side
//! (`network`) signs, the server side (`rpc`) verifies in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header carrying the hex HMAC-SHA256 of the body.
pub const AUTH_HEADER: &str = "x-quorumdns-cluster-auth";

/// The secret shared by the members of a cluster. Never printed.
pub struct ClusterSecret(Vec<u8>);

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(<redacted>)")
    }
}

impl ClusterSecret {
    pub fn new(secret: Vec<u8>) -> Self {
        Self(secret)
    }

    fn tag(&self, body: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// The value of [`AUTH_HEADER`] for `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        hex::encode(self.tag(body))
    }

    /// Checks a MAC in constant time (for MACs of the right length).
    pub fn verify(&self, body: &[u8], mac_hex: &str) -> bool {
        let Ok(given) = hex::decode(mac_hex.trim()) else {
            return false;
        };
        let expected = self.tag(body);
        given.len() == expected.len() && bool::from(expected.ct_eq(&given))
    }
}
