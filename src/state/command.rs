//! Commands (what a client asks for) and events (what apply decided happened).
//! Both are part of the replicated log and the on-disk format: add variants at the end,
//! never change the meaning of an existing one.

use serde::{Deserialize, Serialize};

use crate::model::{Fqdn, RData, RType, Serial, SoaParams, ZoneTransfer};

/// One record as carried by commands: owner, type, TTL, data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSpec {
    pub name: Fqdn,
    pub ttl: u32,
    pub data: RData,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Create a zone with its SOA parameters and apex NS set.
    CreateZone { origin: Fqdn, soa: SoaParams, ns: Vec<Fqdn>, ns_ttl: u32, serial: Option<Serial> },
    DeleteZone { origin: Fqdn },
    /// Change the SOA parameters (not the serial).
    UpdateSoa { zone: Fqdn, soa: SoaParams },
    /// Replace the record set (name, type) with exactly `data`; empty `data` deletes it.
    SetRecordSet { zone: Fqdn, name: Fqdn, rtype: RType, ttl: u32, data: Vec<RData> },
    /// Add records to a set (created if missing); the TTL applies to the whole set.
    AddRecords { zone: Fqdn, name: Fqdn, rtype: RType, ttl: u32, data: Vec<RData> },
    DeleteRecordSet { zone: Fqdn, name: Fqdn, rtype: RType },
    /// Replace the whole contents of a zone (zone file import). The serial is taken if
    /// it moves forward (RFC 1982), else the current serial plus one.
    ReplaceZone { zone: Fqdn, soa: SoaParams, serial: Option<Serial>, records: Vec<RecordSpec> },
    /// Several commands applied atomically: all or none.
    Batch(Vec<Command>),
    /// Set the zone's secondaries (transfer ACL, NOTIFY targets, IXFR window). Does not
    /// change the zone's data or serial.
    SetZoneTransfer { zone: Fqdn, transfer: ZoneTransfer },
    /// Record that a Raft node id left the cluster; it can never be added again.
    RetireNode { id: u64 },
}

impl Command {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::CreateZone { .. } => "create_zone",
            Command::DeleteZone { .. } => "delete_zone",
            Command::UpdateSoa { .. } => "update_soa",
            Command::SetRecordSet { .. } => "set_record_set",
            Command::AddRecords { .. } => "add_records",
            Command::DeleteRecordSet { .. } => "delete_record_set",
            Command::ReplaceZone { .. } => "replace_zone",
            Command::Batch(_) => "batch",
            Command::SetZoneTransfer { .. } => "set_zone_transfer",
            Command::RetireNode { .. } => "retire_node",
        }
    }
}

/// Past-tense facts produced by apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    ZoneCreated { origin: Fqdn, serial: Serial },
    ZoneDeleted { origin: Fqdn, last_serial: Serial },
    SoaUpdated { zone: Fqdn },
    RecordSetChanged { zone: Fqdn, name: Fqdn, rtype: RType, old: Vec<RData>, new: Vec<RData>, ttl: u32 },
    ZoneReplaced { zone: Fqdn },
    SerialBumped { zone: Fqdn, serial: Serial },
    ZoneTransferChanged { zone: Fqdn },
    NodeRetired { id: u64 },
}

/// Why apply refused a command. Refusals change nothing and are deterministic, so every
/// node refuses the same command the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApplyError {
    #[error("zone {0} does not exist")]
    NoSuchZone(Fqdn),
    #[error("zone {0} already exists")]
    ZoneExists(Fqdn),
    #[error("zone {new} overlaps existing zone {existing}")]
    ZoneOverlap { new: Fqdn, existing: Fqdn },
    #[error("{name} is not inside zone {zone}")]
    OutOfZone { name: Fqdn, zone: Fqdn },
    #[error("a CNAME cannot coexist with other data at {0}")]
    CnameConflict(Fqdn),
    #[error("the zone apex {0} cannot hold a CNAME")]
    CnameAtApex(Fqdn),
    #[error("the apex NS set of {0} cannot be empty")]
    ApexNsRequired(Fqdn),
    #[error("record data of type {found} given for a {expected} record set")]
    TypeMismatch { expected: RType, found: RType },
    #[error("SOA is managed through the zone, not as a record set")]
    SoaNotARecordSet,
    #[error("{0}")]
    InvalidData(String),
    #[error("nested batches are not allowed")]
    NestedBatch,
    #[error("cluster membership commands cannot be batched")]
    MembershipInBatch,
}
