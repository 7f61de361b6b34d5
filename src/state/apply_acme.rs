//! Apply for the acme-dns surface and records with an automatic lifetime.
//! Deterministic: times (`at`) arrive in the commands; expiry is proposed by the leader.

use super::command::{ApplyError, Command, Event, Family};
use super::machine::{State, Tracker};
use crate::model::{RData, RType};

/// TXT values an acme-dns account keeps (acme-dns keeps two: a certificate for a name and
/// its wildcard need two challenges at once).
pub(super) const ACME_TXT_VALUES: usize = 2;

impl State {
    pub(super) fn apply_acme(&mut self, command: &Command, t: &mut Tracker) -> Result<(), ApplyError> {
        match command {
            Command::AcmeRegister { account } => {
                if self.rfc2136.acme_accounts.contains_key(&account.username) {
                    return Err(ApplyError::InvalidData(format!("acme-dns account {} exists", account.username)));
                }
                let zone =
                    self.zone_for(&account.fulldomain).ok_or_else(|| ApplyError::NoSuchZone(account.zone.clone()))?;
                if zone.origin != account.zone || zone.nodes.contains_key(&account.fulldomain) {
                    return Err(ApplyError::NameInUse(account.fulldomain.clone()));
                }
                self.rfc2136.acme_accounts.insert(account.username.clone(), account.clone());
                t.events.push(Event::AcmeRegistered { username: account.username.clone() });
                Ok(())
            }
            Command::AcmeSetTxt { username, txt, ttl, lifetime_ms, at } => {
                let acc = self
                    .rfc2136
                    .acme_accounts
                    .get(username)
                    .ok_or_else(|| ApplyError::NoSuchAcmeAccount(username.clone()))?;
                let (zone, name) = (acc.zone.clone(), acc.fulldomain.clone());
                // The two most recent values: the current set in order of arrival.
                let mut values = acc.values_in_order.clone();
                values.retain(|v| v != txt);
                values.push(txt.clone());
                while values.len() > ACME_TXT_VALUES {
                    values.remove(0);
                }
                let data = values.iter().map(|v| RData::Txt(vec![v.clone()])).collect();
                self.set_rrset(&zone, &name, RType::Txt, *ttl, data, t)?;
                if let Some(a) = self.rfc2136.acme_accounts.get_mut(username) {
                    a.values_in_order = values;
                }
                if *lifetime_ms > 0 {
                    self.rfc2136.expiring.insert((zone, name, RType::Txt), at.saturating_add(*lifetime_ms));
                }
                Ok(())
            }
            Command::ExpireRecords { at } => {
                let due: Vec<_> =
                    self.rfc2136.expiring.iter().filter(|(_, exp)| **exp <= *at).map(|(k, _)| k.clone()).collect();
                for (zone, name, rtype) in due {
                    self.rfc2136.expiring.remove(&(zone.clone(), name.clone(), rtype));
                    if !self.zones.contains_key(&zone) {
                        continue;
                    }
                    self.set_rrset(&zone, &name, rtype, 0, Vec::new(), t)?;
                    for a in self.rfc2136.acme_accounts.values_mut().filter(|a| a.fulldomain == name) {
                        a.values_in_order.clear();
                    }
                    t.events.push(Event::RecordsExpired { zone, name, rtype });
                }
                Ok(())
            }
            other => Err(other.not_in_family(Family::Acme)),
        }
    }
}
