//! Secrets: loaded from a file or the environment, held in memory, compared in constant
//! time, never printed (Debug is redacted).

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("secret in {0} is empty")]
    Empty(String),
    #[error("secret from {0} is shorter than 16 characters")]
    TooShort(String),
}

#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>, origin: &str) -> Result<Secret, SecretError> {
        let bytes: Vec<u8> = bytes.into();
        let trimmed = String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec();
        if trimmed.is_empty() {
            return Err(SecretError::Empty(origin.into()));
        }
        if trimmed.len() < 16 {
            return Err(SecretError::TooShort(origin.into()));
        }
        Ok(Secret(trimmed))
    }

    pub fn from_file(path: &Path) -> Result<Secret, SecretError> {
        let bytes =
            std::fs::read(path).map_err(|error| SecretError::Read { path: path.display().to_string(), error })?;
        Secret::new(bytes, &path.display().to_string())
    }

    /// From `env_var` if set, else from `file` if given.
    pub fn load(env_var: &str, file: Option<&Path>) -> Result<Option<Secret>, SecretError> {
        if let Ok(v) = std::env::var(env_var) {
            return Secret::new(v, env_var).map(Some);
        }
        file.map(Secret::from_file).transpose()
    }

    /// A fresh random secret (hex, 256 bits).
    pub fn generate() -> Secret {
        let bytes: [u8; 32] = rand::random();
        Secret(hex::encode(bytes).into_bytes())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison (over SHA-256 digests, so lengths leak nothing either).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let a = Sha256::digest(&self.0);
        let b = Sha256::digest(candidate);
        a.ct_eq(&b).into()
    }
}
