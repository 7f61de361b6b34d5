//! Backups: a consistent copy of the applied state, as a file.
//!
//! A backup is the state of a Raft snapshot this node has just built (so state and log
//! index match exactly), in a self-describing file:
//!
//! ```text
//! QUORUMDNS-BACKUP 1\n
//! {"format":1,"applied_index":..,"created_unix":..,"node_id":..,"zones":[..],"payload_bytes":..,"sha256":".."}\n
//! <payload: the State, encoded with crate::codec>
//! ```
//!
//! Restoring (`quorumdns restore`) seeds a fresh data directory with it through
//! [`crate::raft::seed`]; the restored node answers exactly what the original answered at
//! `applied_index` (same records, same SOA serials).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec;
use crate::model::{Fqdn, Serial};
use crate::raft::state_machine::{SnapshotPayload, KEY_DATA, KEY_META};
use crate::raft::types::SnapshotMeta;
use crate::raft::RaftNode;
use crate::state::State;
use crate::store::{trees, StoreError};

pub(crate) const MAGIC: &str = "QUORUMDNS-BACKUP";
pub(crate) const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BackupError {
    #[error("this node has applied nothing yet: nothing to back up")]
    Empty,
    #[error("the snapshot was not built within {0:?}")]
    Timeout(Duration),
    #[error("raft: {0}")]
    Raft(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("not a quorumdns backup: {0}")]
    Format(String),
    #[error("backup damaged: {0}")]
    Checksum(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ZoneSummary {
    pub name: Fqdn,
    pub serial: u32,
}

/// The header line of a backup file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Header {
    pub format: u32,
    /// The last log index the state includes.
    pub applied_index: u64,
    pub created_unix: i64,
    /// The node that wrote the backup.
    pub node_id: u64,
    pub zones: Vec<ZoneSummary>,
    pub payload_bytes: u64,
    /// Hex SHA-256 of the payload.
    pub sha256: String,
}

pub(crate) struct Backup {
    pub header: Header,
    pub state: State,
}

fn summary(state: &State) -> Vec<ZoneSummary> {
    state.zones.iter().map(|(name, z)| ZoneSummary { name: name.clone(), serial: z.serial.0 }).collect()
}

/// Builds a snapshot now (unless the current one already covers everything applied) and
/// returns the file bytes of a backup of its state.
pub(crate) async fn take(raft: &RaftNode, limit: Duration) -> Result<Vec<u8>, BackupError> {
    let target = raft.raft.metrics().borrow().last_applied.map(|l| l.index).ok_or(BackupError::Empty)?;
    let covered = |m: &crate::raft::types::RaftMetricsOf| m.snapshot.is_some_and(|s| s.index >= target);
    if !covered(&raft.raft.metrics().borrow()) {
        raft.raft.trigger().snapshot().await.map_err(|e| BackupError::Raft(e.to_string()))?;
        let mut rx = raft.raft.metrics();
        let waited = tokio::time::timeout(limit, rx.wait_for(|m| covered(m))).await.map(|r| r.map(|_| ()));
        match waited {
            Err(_) => return Err(BackupError::Timeout(limit)),
            Ok(Err(_)) => return Err(BackupError::Raft("raft stopped".into())),
            Ok(Ok(())) => {}
        }
    }
    // Meta and data are written in one batch: they always belong together.
    let tree = raft.store().open_tree(trees::RAFT_SNAPSHOT)?;
    let meta: SnapshotMeta = tree.get_decoded(KEY_META)?.ok_or(BackupError::Empty)?;
    let data = tree.get(KEY_DATA)?.ok_or(BackupError::Empty)?;
    let index = meta.last_log_id.map(|l| l.index).ok_or(BackupError::Empty)?;
    let file = {
        let (state, _, _): SnapshotPayload = codec::decode(&data).map_err(StoreError::from)?;
        drop(data);
        encode(&state, index, raft.node_id)
    };
    // The decoded copy of the state (hundreds of MiB at a million hosts, in small pieces)
    // is freed now, the file once it is sent; without this the node would keep its peak
    // RSS after every backup.
    crate::heap::release_soon();
    file
}

/// The backup file of `state` at log `index`.
pub(crate) fn encode(state: &State, index: u64, node_id: u64) -> Result<Vec<u8>, BackupError> {
    let payload = codec::encode(state).map_err(StoreError::from)?;
    let header = Header {
        format: FORMAT,
        applied_index: index,
        created_unix: crate::metrics::unix_now(),
        node_id,
        zones: summary(state),
        payload_bytes: payload.len() as u64,
        sha256: hex::encode(Sha256::digest(&payload)),
    };
    let line = serde_json::to_string(&header).map_err(|e| BackupError::Format(e.to_string()))?;
    let mut out = Vec::with_capacity(payload.len() + line.len() + 32);
    out.extend_from_slice(format!("{MAGIC} {FORMAT}\n{line}\n").as_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Parses and verifies a backup file.
pub(crate) fn decode(bytes: &[u8]) -> Result<Backup, BackupError> {
    let (first, rest) = split_line(bytes).ok_or_else(|| BackupError::Format("no header".into()))?;
    if first != format!("{MAGIC} {FORMAT}").as_bytes() {
        return Err(BackupError::Format(format!("first line is not `{MAGIC} {FORMAT}`")));
    }
    let (line, payload) = split_line(rest).ok_or_else(|| BackupError::Format("no header line".into()))?;
    let header: Header = serde_json::from_slice(line).map_err(|e| BackupError::Format(format!("header: {e}")))?;
    if header.payload_bytes != payload.len() as u64 {
        return Err(BackupError::Checksum(format!(
            "{} payload bytes, header says {}",
            payload.len(),
            header.payload_bytes
        )));
    }
    let sum = hex::encode(Sha256::digest(payload));
    if sum != header.sha256 {
        return Err(BackupError::Checksum(format!("sha256 {sum}, header says {}", header.sha256)));
    }
    let state: State = codec::decode(payload).map_err(StoreError::from)?;
    Ok(Backup { header, state })
}

fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|c| *c == b'\n')?;
    Some((&b[..i], &b[i + 1..]))
}

/// Prepares a backed-up state for a new cluster: the old cluster's retired node ids mean
/// nothing there, and `serial_offset` (0 = keep) moves every zone serial forward, for a
/// restore from an older backup while secondaries already hold newer serials. Moving a
/// serial invalidates the IXFR history, so it is dropped (secondaries do one AXFR).
pub(crate) fn prepare(mut state: State, serial_offset: u32) -> State {
    state.retired_nodes.clear();
    if serial_offset > 0 {
        let step = serial_offset.min(i32::MAX as u32);
        for zone in state.zones.values_mut() {
            zone.serial = Serial(zone.serial.0.wrapping_add(step).max(1));
        }
        state.journals.clear();
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_round_trips_and_damage_is_detected() {
        let state = State::default();
        let bytes = encode(&state, 42, 1).unwrap();
        let b = decode(&bytes).unwrap();
        assert_eq!(b.header.applied_index, 42);
        let mut damaged = bytes.clone();
        if let Some(last) = damaged.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(decode(&damaged), Err(BackupError::Checksum(_)) | Err(BackupError::Store(_))));
        assert!(matches!(decode(b"hello\n"), Err(BackupError::Format(_))));
        assert!(matches!(decode(&bytes[..bytes.len() - 1]), Err(BackupError::Checksum(_))));
    }
}
