//! `State::apply`: one log entry, applied. A `Batch` is all or nothing; a `Group` applies
//! each of its commands as its own entry. Each command goes to its family's apply
//! (`apply_zone`, `apply_registry`, `apply_rfc2136`, `apply_acme`); the entry's serial
//! bumps, IXFR journal and host history are settled once at the end (`finish`).

use std::collections::BTreeMap;

use super::command::{ApplyError, Command, Event, Family};
use super::journal::{self, ZoneChange, DEFAULT_JOURNAL_VERSIONS};
use super::machine::Seen;
use super::machine::{Applied, State, Tracker};
use super::registry::Host;
use crate::model::{Fqdn, Serial, Zone, ZoneTransfer};

type Backup =
    (BTreeMap<Fqdn, Option<Zone>>, BTreeMap<Fqdn, Serial>, BTreeMap<Fqdn, ZoneTransfer>, BTreeMap<Fqdn, Option<Host>>);

impl State {
    /// Applies a command outside the log (tests, tools): as entry index 0.
    pub fn apply(&mut self, command: &Command) -> Result<Applied, ApplyError> {
        self.apply_at(0, command)
    }

    /// Applies the command of log entry `index`. On error nothing has changed (but the
    /// session table, which remembers a refused request like an applied one).
    pub fn apply_at(&mut self, index: u64, command: &Command) -> Result<Applied, ApplyError> {
        let mut tracker = Tracker { index, ..Tracker::default() };
        match command {
            Command::WithId { id, at, deadline, command } => {
                if matches!(command.family(), Family::Group | Family::Request) {
                    return Err(ApplyError::NestedBatch);
                }
                self.sessions.tick(*at);
                return match self.sessions.seen(*id, *deadline) {
                    Seen::Applied(outcome) => outcome,
                    Seen::Expired => Err(ApplyError::RequestExpired(*id)),
                    Seen::New => {
                        let outcome = self.apply_at(index, command);
                        self.sessions.record(*id, index, *deadline, outcome.clone());
                        outcome
                    }
                };
            }
            Command::Batch(cmds) => {
                if cmds.iter().any(|c| matches!(c.family(), Family::Batch | Family::Group)) {
                    return Err(ApplyError::NestedBatch);
                }
                if cmds.iter().any(|c| matches!(c, Command::RetireNode { .. })) {
                    return Err(ApplyError::MembershipInBatch);
                }
                if let Some(c) = cmds.iter().find(|c| !c.batchable()) {
                    return Err(ApplyError::NotInBatch(c.kind().into()));
                }
                let backup = self.clone_touched(cmds);
                for cmd in cmds {
                    if let Err(e) = self.apply_one(cmd, &mut tracker) {
                        self.restore(backup);
                        return Err(e);
                    }
                }
            }
            Command::Group(cmds) => return Ok(merged(self.apply_group(index, cmds))),
            cmd => self.apply_one(cmd, &mut tracker)?,
        }
        Ok(self.finish(tracker))
    }

    /// Whether `command` is a request whose id was applied already (applying it again
    /// answers the first outcome and changes nothing).
    pub fn already_applied(&self, command: &Command) -> bool {
        matches!(command, Command::WithId { id, .. } if self.sessions.applied.contains_key(id))
    }

    /// Applies the commands of a `Group` entry, each as if it were its own entry at
    /// `index` (its own serial bump, journal entry and result): a refused command leaves
    /// the others alone.
    pub fn apply_group(&mut self, index: u64, commands: &[Command]) -> Vec<Result<Applied, ApplyError>> {
        commands
            .iter()
            .map(|c| match c {
                Command::Group(_) => Err(ApplyError::NestedBatch),
                c => self.apply_at(index, c),
            })
            .collect()
    }

    fn finish(&mut self, mut t: Tracker) -> Applied {
        let mut serials = Vec::new();
        for origin in &t.touched {
            if t.deleted.contains(origin) {
                continue;
            }
            if let Some(zone) = self.zones.get_mut(origin) {
                if !t.serial_set.contains(origin) {
                    zone.serial = zone.serial.next();
                }
                serials.push((origin.clone(), zone.serial));
                let max =
                    self.transfer.get(origin).and_then(|x| x.journal_versions).unwrap_or(DEFAULT_JOURNAL_VERSIONS);
                // A change apply did not describe (no tracker entry) clears the journal.
                let change =
                    t.changes.remove(origin).unwrap_or(ZoneChange { untracked: true, ..ZoneChange::default() });
                journal::record(self.journals.entry(origin.clone()).or_default(), zone, change, max);
            }
        }
        for origin in &t.deleted {
            self.journals.remove(origin);
            self.transfer.remove(origin);
        }
        for (host, zone, mut entry, limit) in t.history {
            entry.serial = self.zones.get(&zone).map(|z| z.serial).unwrap_or_default();
            self.registry.record(&host, entry, limit);
        }
        let mut events = t.events;
        events.extend(serials.iter().map(|(zone, serial)| Event::SerialBumped { zone: zone.clone(), serial: *serial }));
        Applied { events, serials }
    }

    fn clone_touched(&self, cmds: &[Command]) -> Backup {
        let mut zones = BTreeMap::new();
        let mut hosts = BTreeMap::new();
        for cmd in cmds {
            if let Some(z) = zone_of(cmd) {
                zones.insert(z.clone(), self.zones.get(z).cloned());
            }
            if let Command::DeleteZone { origin } = cmd {
                for h in self.registry.hosts.values().filter(|h| &h.zone == origin) {
                    hosts.insert(h.fqdn.clone(), Some(h.clone()));
                }
            }
            if let Command::UpdateAddresses { fqdn, .. } = cmd {
                let host = self.registry.hosts.get(fqdn).cloned();
                if let Some(h) = &host {
                    zones.insert(h.zone.clone(), self.zones.get(&h.zone).cloned());
                }
                hosts.insert(fqdn.clone(), host);
            }
        }
        (zones, self.retired_serials.clone(), self.transfer.clone(), hosts)
    }

    fn restore(&mut self, (zones, retired, transfer, hosts): Backup) {
        for (origin, zone) in zones {
            match zone {
                Some(z) => self.zones.insert(origin, z),
                None => self.zones.remove(&origin),
            };
        }
        self.retired_serials = retired;
        self.transfer = transfer;
        for (fqdn, host) in hosts {
            match host {
                Some(h) => self.registry.hosts.insert(fqdn, h),
                None => self.registry.hosts.remove(&fqdn),
            };
        }
    }

    /// One command of a family, through that family's apply (`Command::family` is matched
    /// without a wildcard: a new command does not compile until it has a family here).
    fn apply_one(&mut self, command: &Command, t: &mut Tracker) -> Result<(), ApplyError> {
        match command.family() {
            Family::Zone => self.apply_zone(command, t),
            Family::Batch | Family::Group => Err(ApplyError::NestedBatch),
            Family::Request => Err(ApplyError::NestedBatch),
            Family::Cluster => match command {
                Command::RetireNode { id } => {
                    if self.retired_nodes.insert(*id) {
                        t.events.push(Event::NodeRetired { id: *id });
                    }
                    Ok(())
                }
                Command::SetClusterVersion { version } => {
                    if *version > self.cluster_version {
                        self.cluster_version = *version;
                        t.events.push(Event::ClusterVersionSet { version: *version });
                    }
                    Ok(())
                }
                other => Err(other.not_in_family(Family::Cluster)),
            },
            Family::Cookie => match command {
                Command::SetCookieSecret { secret, at } => {
                    if self.cookie_secrets.rotate(secret.0, *at) {
                        t.events.push(Event::CookieSecretRotated { at: *at });
                    }
                    Ok(())
                }
                other => Err(other.not_in_family(Family::Cookie)),
            },
            Family::Registry => self.apply_registry(command, t),
            Family::Rfc2136 => self.apply_rfc2136(command, t),
            Family::Acme => self.apply_acme(command, t),
        }
    }
}

fn zone_of(cmd: &Command) -> Option<&Fqdn> {
    match cmd {
        Command::CreateZone { origin, .. } | Command::DeleteZone { origin } => Some(origin),
        Command::UpdateSoa { zone, .. }
        | Command::SetRecordSet { zone, .. }
        | Command::AddRecords { zone, .. }
        | Command::DeleteRecordSet { zone, .. }
        | Command::ReplaceZone { zone, .. } => Some(zone),
        Command::SetZoneTransfer { zone, .. } => Some(zone),
        _ => None,
    }
}

/// What a group changed as a whole (for callers of `apply_at` that want one answer):
/// the events of its applied commands and each zone's last serial.
fn merged(results: Vec<Result<Applied, ApplyError>>) -> Applied {
    let mut all = Applied::default();
    for applied in results.into_iter().flatten() {
        all.events.extend(applied.events);
        for (zone, serial) in applied.serials {
            match all.serials.iter_mut().find(|(z, _)| *z == zone) {
                Some(s) => s.1 = serial,
                None => all.serials.push((zone, serial)),
            }
        }
    }
    all
}
