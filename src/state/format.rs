//! How `State` is written and read in each data format (`codec`), and the migrations.
//!
//! - Format 1, the first release: the fields up to `cookie_secrets`.
//! - Format 2 adds `sessions` (exactly-once) and `cluster_version`.
//!
//! A state is written in format 1 while it holds nothing of format 2 (no session, cluster
//! version 1), so a node of the first release can install the snapshot of an upgraded one
//! during a rolling upgrade. Reading a format-1 state migrates it: empty sessions, cluster
//! version 1. Frozen layouts live here; never change one, add the next format instead.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::journal::Journal;
use super::machine::Sessions;
use super::machine::State;
use super::registry::Registry;
use super::rfc2136::Rfc2136State;
use super::session::ClusterVersion;
use crate::model::cookie::CookieSecrets;
use crate::model::{Fqdn, Serial, Zone, ZoneTransfer};

/// Format 1 (borrowed, for writing).
#[derive(Serialize)]
struct V1Ref<'a> {
    zones: &'a BTreeMap<Fqdn, Zone>,
    retired_serials: &'a BTreeMap<Fqdn, Serial>,
    transfer: &'a BTreeMap<Fqdn, ZoneTransfer>,
    journals: &'a BTreeMap<Fqdn, Journal>,
    retired_nodes: &'a BTreeSet<u64>,
    registry: &'a Registry,
    rfc2136: &'a Rfc2136State,
    cookie_secrets: &'a CookieSecrets,
}

/// Format 1 (owned, for reading).
#[derive(Deserialize)]
struct V1 {
    zones: BTreeMap<Fqdn, Zone>,
    retired_serials: BTreeMap<Fqdn, Serial>,
    transfer: BTreeMap<Fqdn, ZoneTransfer>,
    journals: BTreeMap<Fqdn, Journal>,
    retired_nodes: BTreeSet<u64>,
    registry: Registry,
    rfc2136: Rfc2136State,
    cookie_secrets: CookieSecrets,
}

/// Format 2: format 1, then the session table and the cluster version.
#[derive(Serialize)]
struct V2Ref<'a> {
    v1: V1Ref<'a>,
    sessions: &'a Sessions,
    cluster_version: ClusterVersion,
}

#[derive(Deserialize)]
struct V2 {
    v1: V1,
    sessions: Sessions,
    cluster_version: ClusterVersion,
}

impl State {
    fn v1_ref(&self) -> V1Ref<'_> {
        V1Ref {
            zones: &self.zones,
            retired_serials: &self.retired_serials,
            transfer: &self.transfer,
            journals: &self.journals,
            retired_nodes: &self.retired_nodes,
            registry: &self.registry,
            rfc2136: &self.rfc2136,
            cookie_secrets: &self.cookie_secrets,
        }
    }

    fn from_v1(v: V1, sessions: Sessions, cluster_version: ClusterVersion) -> State {
        State {
            zones: v.zones,
            retired_serials: v.retired_serials,
            transfer: v.transfer,
            journals: v.journals,
            retired_nodes: v.retired_nodes,
            registry: v.registry,
            rfc2136: v.rfc2136,
            cookie_secrets: v.cookie_secrets,
            sessions,
            cluster_version,
        }
    }

    /// Whether the state holds nothing that format 1 cannot express.
    fn fits_format_1(&self) -> bool {
        self.sessions.is_empty() && self.cluster_version <= ClusterVersion(1)
    }
}

impl Serialize for State {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.fits_format_1() {
            self.v1_ref().serialize(s)
        } else {
            crate::codec::require_format(2);
            V2Ref { v1: self.v1_ref(), sessions: &self.sessions, cluster_version: self.cluster_version }.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match crate::codec::reading_format() {
            1 => V1::deserialize(d).map(|v| State::from_v1(v, Sessions::default(), ClusterVersion(1))),
            _ => V2::deserialize(d).map(|v| State::from_v1(v.v1, v.sessions, v.cluster_version)),
        }
    }
}
