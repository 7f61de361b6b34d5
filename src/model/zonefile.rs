//! RFC 1035 zone files: import with the master-file syntax of `text` ($ORIGIN, $TTL,
//! parentheses, escapes, relative names, TTL units, the generic RDATA of RFC 3597),
//! export as one absolute record per line that BIND, Knot and NSD read back.
//!
//! An import is all or nothing: every record of the file is taken, or the import is
//! refused with the line and the reason. Nothing is skipped silently.

use std::fmt::Write as _;

use super::name::Fqdn;
use super::presentation::{name_token, parse_tokens};
use super::record::{RType, RecordSpec};
use super::serial::Serial;
use super::text::{self, Entry, Token};
use super::zone::{SoaParams, Zone};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZoneFileError {
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("zone file has no SOA record at the origin {0}")]
    NoSoa(Fqdn),
    #[error("line {line}: record {name} is outside the zone {zone}")]
    OutOfZone { line: usize, name: String, zone: Fqdn },
    #[error(
        "line {line}: record type {rtype} at {name} is not supported (supported: A AAAA CNAME MX NS PTR SRV TXT CAA SOA)"
    )]
    Unsupported { line: usize, name: String, rtype: String },
    #[error("line {line}: record {name} {rtype}: {reason}")]
    Invalid { line: usize, name: String, rtype: String, reason: String },
    #[error("line {line}: class {class}; only IN is served")]
    Class { line: usize, class: String },
}

/// What an imported zone file says: SOA parameters, the serial it names, and records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedZone {
    pub origin: Fqdn,
    pub soa: SoaParams,
    pub serial: Serial,
    pub records: Vec<RecordSpec>,
}

/// A record's type token: one we serve (by name or `TYPEnnn`), or the text of another.
fn record_type(t: &str) -> Result<RType, String> {
    if let Ok(rtype) = t.parse::<RType>() {
        return Ok(rtype);
    }
    let code = t.get(..4).filter(|p| p.eq_ignore_ascii_case("type")).and_then(|_| t[4..].parse::<u16>().ok());
    code.and_then(RType::from_code).ok_or_else(|| t.to_string())
}

fn is_class(t: &str) -> bool {
    ["IN", "CH", "CS", "HS", "NONE", "ANY"].iter().any(|c| c.eq_ignore_ascii_case(t))
        || t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("class") && t[5..].parse::<u16>().is_ok())
}

fn is_in(t: &str) -> bool {
    t.eq_ignore_ascii_case("IN") || t.eq_ignore_ascii_case("CLASS1")
}

/// The file's state while reading it.
struct Reader<'o> {
    zone: &'o Fqdn,
    origin: Fqdn,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    owner: Option<Fqdn>,
    soa: Option<(SoaParams, Serial, usize)>,
    /// Records with the line they came from; no TTL yet when the file gave none so far.
    records: Vec<(usize, Fqdn, Option<u32>, super::record::RData)>,
}

pub fn parse(text: &str, origin: &Fqdn) -> Result<ParsedZone, ZoneFileError> {
    let entries = text::entries(text).map_err(|e| ZoneFileError::Syntax { line: e.line, reason: e.reason })?;
    let mut r = Reader {
        zone: origin,
        origin: origin.clone(),
        default_ttl: None,
        last_ttl: None,
        owner: None,
        soa: None,
        records: Vec::new(),
    };
    for entry in &entries {
        if !entry.blank_owner && entry.tokens[0].text.starts_with('$') && !entry.tokens[0].quoted {
            r.directive(entry)?;
        } else {
            r.record(entry)?;
        }
    }
    let (soa, serial, _) = r.soa.ok_or_else(|| ZoneFileError::NoSoa(origin.clone()))?;
    // RFC 1035 5.1 / BIND: a record without a TTL before any $TTL or explicit TTL gets
    // the SOA's minimum.
    let fallback = soa.minimum;
    let records = r
        .records
        .into_iter()
        .map(|(_, name, ttl, data)| RecordSpec { name, ttl: ttl.unwrap_or(fallback), data })
        .collect();
    Ok(ParsedZone { origin: origin.clone(), soa, serial, records })
}

impl Reader<'_> {
    fn syntax(line: usize, reason: impl Into<String>) -> ZoneFileError {
        ZoneFileError::Syntax { line, reason: reason.into() }
    }

    fn directive(&mut self, e: &Entry) -> Result<(), ZoneFileError> {
        let args = &e.tokens[1..];
        match e.tokens[0].text.to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let [name] = args else { return Err(Self::syntax(e.line, "$ORIGIN takes one name")) };
                self.origin = name_token(name, &self.origin).map_err(|err| Self::syntax(e.line, err.to_string()))?;
            }
            "$TTL" => {
                let [ttl] = args else { return Err(Self::syntax(e.line, "$TTL takes one TTL")) };
                let ttl =
                    text::ttl(&ttl.text).ok_or_else(|| Self::syntax(e.line, format!("bad TTL {:?}", ttl.text)))?;
                self.default_ttl = Some(ttl);
            }
            // A zone file uploaded over HTTP must not read local files.
            "$INCLUDE" => return Err(Self::syntax(e.line, "$INCLUDE is not allowed in an uploaded zone file")),
            other => return Err(Self::syntax(e.line, format!("directive {other} is not supported"))),
        }
        Ok(())
    }

    fn record(&mut self, e: &Entry) -> Result<(), ZoneFileError> {
        let mut toks: &[Token] = &e.tokens;
        let owner = if e.blank_owner {
            self.owner.clone().ok_or_else(|| Self::syntax(e.line, "a record without an owner before any owner"))?
        } else {
            let (first, rest) = toks.split_first().ok_or_else(|| Self::syntax(e.line, "empty record"))?;
            toks = rest;
            name_token(first, &self.origin).map_err(|err| ZoneFileError::Invalid {
                line: e.line,
                name: first.text.clone(),
                rtype: "-".into(),
                reason: err.to_string(),
            })?
        };
        self.owner = Some(owner.clone());
        let name = owner.to_string();
        let mut ttl = None;
        let mut class_seen = false;
        let rtype = loop {
            let (t, rest) =
                toks.split_first().ok_or_else(|| Self::syntax(e.line, format!("{name}: no record type")))?;
            toks = rest;
            if ttl.is_none() && !t.quoted {
                if let Some(v) = text::ttl(&t.text) {
                    ttl = Some(v);
                    continue;
                }
            }
            if !class_seen && !t.quoted && is_class(&t.text) {
                if !is_in(&t.text) {
                    return Err(ZoneFileError::Class { line: e.line, class: t.text.clone() });
                }
                class_seen = true;
                continue;
            }
            break record_type(&t.text).map_err(|rtype| ZoneFileError::Unsupported {
                line: e.line,
                name: name.clone(),
                rtype,
            })?;
        };
        if !owner.is_in(self.zone) {
            return Err(ZoneFileError::OutOfZone { line: e.line, name, zone: self.zone.clone() });
        }
        if ttl.is_some() {
            self.last_ttl = ttl;
        }
        let ttl = ttl.or(self.default_ttl).or(self.last_ttl);
        let invalid = |reason: String| ZoneFileError::Invalid {
            line: e.line,
            name: name.clone(),
            rtype: rtype.to_string(),
            reason,
        };
        if rtype == RType::Soa {
            return self.soa(e.line, &owner, ttl, toks).map_err(invalid);
        }
        let data = parse_tokens(rtype, toks, &self.origin).map_err(invalid)?;
        self.records.push((e.line, owner, ttl, data));
        Ok(())
    }

    fn soa(&mut self, line: usize, owner: &Fqdn, ttl: Option<u32>, toks: &[Token]) -> Result<(), String> {
        if owner != self.zone {
            return Err("SOA must be at the origin".into());
        }
        if let Some((_, _, first)) = &self.soa {
            return Err(format!("a second SOA (the first is on line {first})"));
        }
        let [mname, rname, serial, refresh, retry, expire, minimum] = toks else {
            return Err("SOA takes MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM".into());
        };
        let name = |t: &Token| name_token(t, &self.origin).map_err(|e| e.to_string());
        let timer = |t: &Token| text::ttl(&t.text).ok_or_else(|| format!("bad SOA timer {:?}", t.text));
        let serial: u32 = serial.text.parse().map_err(|_| format!("bad SOA serial {:?}", serial.text))?;
        let minimum = timer(minimum)?;
        let soa = SoaParams {
            mname: name(mname)?,
            rname: name(rname)?,
            refresh: timer(refresh)?,
            retry: timer(retry)?,
            expire: timer(expire)?,
            minimum,
            ttl: ttl.unwrap_or(minimum),
        };
        self.soa = Some((soa, Serial(serial), line));
        Ok(())
    }
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
    use proptest::prelude::*;

    use super::*;
    use crate::model::RData;
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
        let bad_a = format!("{ZONE}www 60 IN A 300.0.0.1\n");
        assert!(
            matches!(parse(&bad_a, &origin()), Err(ZoneFileError::Invalid { line: 16, .. })),
            "{:?}",
            parse(&bad_a, &origin())
        );
        let outside = format!("{ZONE}\nother.test. IN A 192.0.2.1\n");
        assert!(matches!(parse(&outside, &origin()), Err(ZoneFileError::OutOfZone { .. })));
        let include = format!("$INCLUDE /etc/passwd\n{ZONE}");
        assert!(parse(&include, &origin()).is_err());
        let hinfo = format!("{ZONE}\nh IN HINFO \"a\" \"b\"\n");
        assert!(matches!(parse(&hinfo, &origin()), Err(ZoneFileError::Unsupported { .. })));
        let chaos = format!("{ZONE}\nh CH A 192.0.2.1\n");
        assert!(matches!(parse(&chaos, &origin()), Err(ZoneFileError::Class { .. })));
        let unbalanced = format!("{ZONE}\nh A ( 192.0.2.1\n");
        assert!(matches!(parse(&unbalanced, &origin()), Err(ZoneFileError::Syntax { line: 17, .. })));
    }

    /// The names of issue 19 and what `named-checkzone` accepts: every record arrives.
    #[test]
    fn escaped_names_and_strings_import_completely() {
        let text = format!(
            "{ZONE}x.*.w5 A 192.0.2.10\ndot\\.label A 192.0.2.11\nsp\\032ace A 192.0.2.12\nx\\200y A 192.0.2.13\n\
             under_score A 192.0.2.14\nquote\\\"d A 192.0.2.15\nsemi\\;colon TXT \"x\" ; comment\n\
             t TXT \"a\\065\\;\" b\\\"c\nt2 TXT ( \"one\"\n  \"two\" )\ng A \\# 4 c0000210\n\
             $TTL 1h\nu A 192.0.2.17\n\tAAAA 2001:db8::17\n"
        );
        let z = parse(&text, &origin()).unwrap();
        let names: Vec<&str> = z.records.iter().map(|r| r.name.as_str()).collect();
        for n in [
            "x.*.w5.example.test",
            "dot\\.label.example.test",
            "sp\\032ace.example.test",
            "x\\200y.example.test",
            "under_score.example.test",
            "quote\\\"d.example.test",
            "semi\\;colon.example.test",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        assert_eq!(z.records.len(), 11 + 12);
        let txt = |n: &str| z.records.iter().find(|r| r.name.as_str() == n).map(|r| r.data.clone());
        assert_eq!(txt("t.example.test"), Some(crate::model::RData::Txt(vec![b"aA;".to_vec(), b"b\"c".to_vec()])));
        assert_eq!(txt("t2.example.test"), Some(crate::model::RData::Txt(vec![b"one".to_vec(), b"two".to_vec()])));
        let u: Vec<_> = z.records.iter().filter(|r| r.name.as_str() == "u.example.test").collect();
        assert_eq!(u.len(), 2, "the blank owner continues u");
        assert!(u.iter().all(|r| r.ttl == 3600));
    }

    /// The labels of `name`, as octet strings.
    fn labels_of(name: &Fqdn) -> Vec<Vec<u8>> {
        let w = name.to_wire();
        let mut out = Vec::new();
        let mut at = 0;
        while w[at] != 0 {
            out.push(w[at + 1..at + 1 + w[at] as usize].to_vec());
            at += 1 + w[at] as usize;
        }
        out
    }

    /// Names in or out of the zone with any octet in their labels, the characters that
    /// need escapes (dot, quote, semicolon, backslash, parentheses, space, @, $) often.
    fn arb_name(inside: bool) -> impl Strategy<Value = Fqdn> {
        let octet = prop_oneof![
            3 => proptest::sample::select(b"abcXYZ09-_*.\";\\()@$ ".to_vec()),
            1 => any::<u8>(),
        ];
        let label = proptest::collection::vec(octet, 1..8);
        (proptest::collection::vec(label, 0..3), any::<bool>()).prop_map(move |(mut labels, elsewhere)| {
            let base = if inside || !elsewhere { origin() } else { Fqdn::parse("elsewhere.test").unwrap() };
            labels.extend(labels_of(&base));
            Fqdn::from_labels(labels.iter().map(Vec::as_slice)).expect("short labels")
        })
    }

    fn arb_rdata() -> impl Strategy<Value = RData> {
        let bytes = proptest::collection::vec(any::<u8>(), 0..40);
        prop_oneof![
            any::<[u8; 4]>().prop_map(|a| RData::A(a.into())),
            any::<[u8; 16]>().prop_map(|a| RData::Aaaa(a.into())),
            arb_name(false).prop_map(RData::Ns),
            arb_name(false).prop_map(RData::Cname),
            arb_name(false).prop_map(RData::Ptr),
            (any::<u16>(), arb_name(false)).prop_map(|(preference, exchange)| RData::Mx { preference, exchange }),
            (any::<u16>(), any::<u16>(), any::<u16>(), arb_name(false))
                .prop_map(|(priority, weight, port, target)| RData::Srv { priority, weight, port, target }),
            proptest::collection::vec(bytes.clone(), 1..4).prop_map(RData::Txt),
            (any::<u8>(), proptest::sample::select(vec!["issue", "iodef", "tbs9"]), bytes)
                .prop_map(|(f, tag, v)| RData::caa(f, tag.into(), v.into())),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// import(export(zone)) == zone, names and strings with escapes included.
        #[test]
        fn export_then_import_round_trips_any_names_and_data(
            rows in proptest::collection::vec((arb_name(true), 0u32..100_000, arb_rdata()), 0..30),
            mname in arb_name(false),
            rname in arb_name(false),
        ) {
            let soa = SoaParams { mname, rname, refresh: 1, retry: 2, expire: 3, minimum: 4, ttl: 5 };
            let mut zone = Zone::new(origin(), soa, Serial(7));
            for (name, ttl, data) in rows {
                let node = zone.nodes.entry(name).or_default();
                let t = data.rtype();
                match node.get_mut(&t) {
                    Some(set) => set.add(data),
                    None => {
                        node.insert(t, crate::model::RecordSet::new(ttl, vec![data]));
                    }
                }
            }
            let text = render(&zone);
            let parsed = parse(&text, &origin()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(&parsed.soa, &zone.soa);
            prop_assert_eq!(parsed.serial, zone.serial);
            let mut want: Vec<RecordSpec> =
                zone.records().map(|(n, _, ttl, d)| RecordSpec { name: n.clone(), ttl, data: d.clone() }).collect();
            let mut got = parsed.records;
            let key = |r: &RecordSpec| (r.name.clone(), r.data.clone(), r.ttl);
            want.sort_by_key(key);
            got.sort_by_key(key);
            prop_assert_eq!(got, want, "{}", text);
        }
    }
}
