//! RFC 1035 zone files: import through hickory-proto's parser (so $ORIGIN, $TTL,
//! parentheses, escapes and relative names follow the usual rules), export as one
//! absolute record per line that BIND, Knot and NSD read back.

use std::fmt::Write as _;

use hickory_proto::rr::{Name, RData as HRData};
use hickory_proto::serialize::txt::Parser;

use super::name::Fqdn;
use super::presentation::from_hickory;
use super::record::RecordSpec;
use super::serial::Serial;
use super::zone::{SoaParams, Zone};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZoneFileError {
    #[error("zone file does not parse: {0}")]
    Syntax(String),
    #[error("zone file has no SOA record at the origin {0}")]
    NoSoa(Fqdn),
    #[error("record {name} is outside the zone {zone}")]
    OutOfZone { name: String, zone: Fqdn },
    #[error("record type {rtype} at {name} is not supported (supported: A AAAA CNAME MX NS PTR SRV TXT CAA SOA)")]
    Unsupported { name: String, rtype: String },
    #[error("record {name} {rtype}: {reason}")]
    Invalid { name: String, rtype: String, reason: String },
    #[error("zone file holds records of class {0}; only IN is served")]
    Class(String),
}

/// What an imported zone file says: SOA parameters, the serial it names, and records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedZone {
    pub origin: Fqdn,
    pub soa: SoaParams,
    pub serial: Serial,
    pub records: Vec<RecordSpec>,
}

fn to_fqdn(n: &Name) -> Result<Fqdn, ZoneFileError> {
    Fqdn::parse(&n.to_ascii()).map_err(|e| ZoneFileError::Invalid {
        name: n.to_ascii(),
        rtype: "-".into(),
        reason: e.to_string(),
    })
}

pub fn parse(text: &str, origin: &Fqdn) -> Result<ParsedZone, ZoneFileError> {
    let hname = Name::from_ascii(origin.to_dotted()).map_err(|e| ZoneFileError::Syntax(e.to_string()))?;
    // No path: $INCLUDE is refused, a zone file uploaded over HTTP must not read local files.
    let (_, sets) = Parser::new(text, None, Some(hname)).parse().map_err(|e| ZoneFileError::Syntax(e.to_string()))?;
    let mut soa = None;
    let mut records = Vec::new();
    for set in sets.values() {
        for rec in set.records_without_rrsigs() {
            let name_text = rec.name.to_ascii();
            let class = rec.dns_class.to_string();
            if class != "IN" {
                return Err(ZoneFileError::Class(class));
            }
            let name = to_fqdn(&rec.name)?;
            if !name.is_in(origin) {
                return Err(ZoneFileError::OutOfZone { name: name_text, zone: origin.clone() });
            }
            if let HRData::SOA(s) = &rec.data {
                if &name != origin {
                    return Err(ZoneFileError::Invalid {
                        name: name_text,
                        rtype: "SOA".into(),
                        reason: "SOA must be at the origin".into(),
                    });
                }
                soa = Some((
                    SoaParams {
                        mname: to_fqdn(&s.mname)?,
                        rname: to_fqdn(&s.rname)?,
                        refresh: s.refresh as u32,
                        retry: s.retry as u32,
                        expire: s.expire as u32,
                        minimum: s.minimum,
                        ttl: rec.ttl,
                    },
                    Serial(s.serial),
                ));
                continue;
            }
            let rtype = rec.record_type();
            let data = from_hickory(&rec.data)
                .map_err(|e| ZoneFileError::Invalid {
                    name: name_text.clone(),
                    rtype: rtype.to_string(),
                    reason: e.to_string(),
                })?
                .ok_or_else(|| ZoneFileError::Unsupported { name: name_text.clone(), rtype: rtype.to_string() })?;
            data.validate().map_err(|e| ZoneFileError::Invalid {
                name: name_text,
                rtype: rtype.to_string(),
                reason: e.to_string(),
            })?;
            records.push(RecordSpec { name, ttl: rec.ttl, data });
        }
    }
    let (soa, serial) = soa.ok_or_else(|| ZoneFileError::NoSoa(origin.clone()))?;
    Ok(ParsedZone { origin: origin.clone(), soa, serial, records })
}

/// The zone as a zone file: SOA first, then every record in canonical order.
pub fn render(zone: &Zone) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "$ORIGIN {}", zone.origin.to_dotted());
    let _ = writeln!(out, "{} {} IN SOA {}", zone.origin.to_dotted(), zone.soa.ttl, zone.soa.presentation(zone.serial));
    for (name, rtype, ttl, data) in zone.records() {
        let _ = writeln!(out, "{} {} IN {} {}", name.to_dotted(), ttl, rtype, data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Command, State};

    const ZONE: &str = r#"
$ORIGIN example.test.
$TTL 300
@   3600 IN SOA ns1 hostmaster ( 2024010101 3600 600 1209600 60 )
@        IN NS  ns1
ns1      IN A   192.0.2.53
www      IN A   192.0.2.1
www      IN A   192.0.2.2
www      IN AAAA 2001:db8::1
mail     IN MX  10 mx.example.test.
txt      IN TXT "hello world" "second"
*.wild   IN A   192.0.2.9
alias    IN CNAME www
_sip._tcp IN SRV 10 5 5060 sip.example.test.
@        IN CAA 0 issue "letsencrypt.org"
"#;

    fn origin() -> Fqdn {
        Fqdn::parse("example.test").unwrap()
    }

    #[test]
    fn import_reads_relative_names_ttls_and_soa() {
        let z = parse(ZONE, &origin()).unwrap();
        assert_eq!(z.serial, Serial(2024010101));
        assert_eq!(z.soa.mname.as_str(), "ns1.example.test");
        assert_eq!(z.soa.minimum, 60);
        assert_eq!(z.records.len(), 11);
        assert!(z.records.iter().any(|r| r.name.as_str() == "*.wild.example.test"));
    }

    #[test]
    fn export_then_import_gives_the_same_zone() {
        let parsed = parse(ZONE, &origin()).unwrap();
        let mut state = State::default();
        state
            .apply(&Command::CreateZone {
                origin: origin(),
                soa: parsed.soa.clone(),
                ns: vec![Fqdn::parse("ns1.example.test").unwrap()],
                ns_ttl: 300,
                serial: None,
            })
            .unwrap();
        state
            .apply(&Command::ReplaceZone {
                zone: origin(),
                soa: parsed.soa.clone(),
                serial: Some(parsed.serial),
                records: parsed.records.clone(),
            })
            .unwrap();
        let zone = &state.zones[&origin()];
        assert_eq!(zone.serial, Serial(2024010101));
        let text = render(zone);
        let again = parse(&text, &origin()).unwrap();
        assert_eq!(again.soa, parsed.soa);
        assert_eq!(again.serial, parsed.serial);
        let mut a = again.records.clone();
        let mut b = parsed.records.clone();
        a.sort_by(|x, y| (&x.name, &x.data).cmp(&(&y.name, &y.data)));
        b.sort_by(|x, y| (&x.name, &x.data).cmp(&(&y.name, &y.data)));
        assert_eq!(a, b);
    }

    #[test]
    fn bad_zone_files_are_refused_with_a_reason() {
        assert!(matches!(parse("www 60 IN A 192.0.2.1\n", &origin()), Err(ZoneFileError::NoSoa(_))));
        assert!(matches!(parse("www 60 IN A 300.0.0.1\n", &origin()), Err(ZoneFileError::Syntax(_))));
        let outside = format!("{ZONE}\nother.test. IN A 192.0.2.1\n");
        assert!(matches!(parse(&outside, &origin()), Err(ZoneFileError::OutOfZone { .. })));
        let include = format!("$INCLUDE /etc/passwd\n{ZONE}");
        assert!(parse(&include, &origin()).is_err());
        let hinfo = format!("{ZONE}\nh IN HINFO \"a\" \"b\"\n");
        assert!(matches!(parse(&hinfo, &origin()), Err(ZoneFileError::Unsupported { .. })));
    }
}
