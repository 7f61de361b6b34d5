//! Secrets: generation, argon2id hashing (before proposing: apply never hashes), and
//! verification with an in-memory cache of verified credentials.
//!
//! The cache holds, per principal, an HMAC-SHA256 under a random per-process key over
//! (principal, secret, stored hash). A hit means "this exact secret was verified against
//! this exact stored hash"; when the stored hash changes (rotation) the MAC no longer
//! matches and argon2 runs again, so an old secret stops working at once. A memory dump
//! yields no secret and no offline-crackable hash that outlives the process.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Entries kept before the cache is cleared (bounds memory under a flood of principals).
const CACHE_LIMIT: usize = 200_000;

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the secret: {0}")]
pub struct HashError(String);

/// A fresh random secret: 32 lowercase hex characters (128 bits).
pub fn generate_secret() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A short random id (token ids): 12 hex characters.
pub fn generate_id() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}

/// argon2id PHC string of `secret` (CPU-heavy: call from a blocking task).
pub fn hash_secret(secret: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// argon2 verification (constant time in the secret).
pub fn verify_hash(secret: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

pub async fn hash_secret_blocking(secret: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || hash_secret(&secret)).await.map_err(|e| HashError(e.to_string()))?
}

pub struct CredentialCache {
    enabled: bool,
    key: [u8; 32],
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

impl CredentialCache {
    pub fn new(enabled: bool) -> Self {
        CredentialCache { enabled, key: rand::random(), verified: Mutex::new(HashMap::new()) }
    }

    fn mac(&self, principal: &str, secret: &str, phc: &str) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("any key length"));
        for part in [principal, secret, phc] {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part.as_bytes());
        }
        m.finalize().into_bytes().into()
    }

    /// Checks `secret` against the stored argon2id hash of `principal`, from the cache
    /// when this exact (secret, hash) pair was verified before.
    pub async fn verify(&self, principal: &str, secret: &str, phc: &str) -> bool {
        let mac = self.enabled.then(|| self.mac(principal, secret, phc));
        if let Some(mac) = &mac {
            let hit = self
                .verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(principal)
                .is_some_and(|known| bool::from(known.ct_eq(mac)));
            crate::metrics::CREDENTIAL_CACHE_TOTAL.with_label_values(&[if hit { "hit" } else { "miss" }]).inc();
            if hit {
                return true;
            }
        }
        let (s, p) = (secret.to_owned(), phc.to_owned());
        let ok = tokio::task::spawn_blocking(move || verify_hash(&s, &p)).await.unwrap_or(false);
        if let (true, Some(mac)) = (ok, mac) {
            let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(principal.to_owned(), mac);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rotated_hash_invalidates_the_cached_secret() {
        let cache = CredentialCache::new(true);
        let old = hash_secret("old-secret").unwrap();
        assert!(cache.verify("h.test", "old-secret", &old).await);
        assert!(cache.verify("h.test", "old-secret", &old).await, "cached");
        assert!(!cache.verify("h.test", "wrong", &old).await);
        let new = hash_secret("new-secret").unwrap();
        assert!(!cache.verify("h.test", "old-secret", &new).await, "old secret against the new hash");
        assert!(cache.verify("h.test", "new-secret", &new).await);
        assert!(new.starts_with("$argon2id$"), "{new}");
    }
}
