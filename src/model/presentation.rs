//! RFC 1035 presentation format for record data: parsing goes through hickory-proto's
//! parsers (so quoting and escapes follow the same rules as every other DNS tool), then
//! into our own data model.

use std::fmt;

use hickory_proto::rr::{RData as HRData, RecordType};

use super::name::Fqdn;
use super::record::{RData, RDataError, RType};

fn hickory_type(rtype: RType) -> RecordType {
    RecordType::from(rtype.code())
}

fn name_of(n: &hickory_proto::rr::Name) -> Result<Fqdn, RDataError> {
    Ok(Fqdn::parse(&n.to_ascii())?)
}

/// Converts hickory's record data into ours; `None` for types we do not store.
pub fn from_hickory(rdata: &HRData) -> Result<Option<RData>, RDataError> {
    Ok(Some(match rdata {
        HRData::A(a) => RData::A(a.0),
        HRData::AAAA(a) => RData::Aaaa(a.0),
        HRData::NS(n) => RData::Ns(name_of(&n.0)?),
        HRData::CNAME(n) => RData::Cname(name_of(&n.0)?),
        HRData::PTR(n) => RData::Ptr(name_of(&n.0)?),
        HRData::MX(mx) => RData::Mx { preference: mx.preference, exchange: name_of(&mx.exchange)? },
        HRData::TXT(txt) => RData::Txt(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
        HRData::SRV(srv) => {
            RData::Srv { priority: srv.priority, weight: srv.weight, port: srv.port, target: name_of(&srv.target)? }
        }
        HRData::CAA(caa) => {
            let mut wire = Vec::new();
            let mut enc = hickory_proto::serialize::binary::BinEncoder::new(&mut wire);
            hickory_proto::serialize::binary::BinEncodable::emit(caa, &mut enc).map_err(|e| RDataError::Invalid {
                rtype: RType::Caa,
                data: caa.to_string(),
                reason: e.to_string(),
            })?;
            caa_from_wire(&wire)?
        }
        _ => return Ok(None),
    }))
}

fn caa_from_wire(wire: &[u8]) -> Result<RData, RDataError> {
    let bad = || RDataError::Invalid { rtype: RType::Caa, data: format!("{wire:?}"), reason: "malformed".into() };
    let (&flags, rest) = wire.split_first().ok_or_else(bad)?;
    let (&tag_len, rest) = rest.split_first().ok_or_else(bad)?;
    let tag_len = tag_len as usize;
    if rest.len() < tag_len {
        return Err(bad());
    }
    let tag = String::from_utf8(rest[..tag_len].to_vec()).map_err(|_| bad())?;
    Ok(RData::caa(flags, tag.into_boxed_str(), rest[tag_len..].into()))
}

pub fn parse_rdata(rtype: RType, text: &str) -> Result<RData, RDataError> {
    if rtype == RType::Soa {
        return Err(RDataError::SoaNotARecordSet);
    }
    let invalid = |reason: String| RDataError::Invalid { rtype, data: text.to_string(), reason };
    if rtype == RType::Caa {
        // hickory normalises CAA values (e.g. issuer parameters); keep the bytes the user gave.
        return parse_caa(text).map_err(invalid);
    }
    let parsed = HRData::try_from_str(hickory_type(rtype), text).map_err(|e| invalid(e.to_string()))?;
    let ours = from_hickory(&parsed)?.ok_or_else(|| invalid("unsupported type".into()))?;
    ours.validate()?;
    Ok(ours)
}

fn parse_caa(text: &str) -> Result<RData, String> {
    let mut parts = text.trim().splitn(3, char::is_whitespace);
    let flags: u8 = parts.next().unwrap_or("").parse().map_err(|_| "CAA flags must be 0-255".to_string())?;
    let tag: Box<str> = parts.next().ok_or("CAA needs a tag")?.into();
    let value = parts.next().ok_or("CAA needs a value")?.trim();
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    let rdata = RData::caa(flags, tag, value.as_bytes().into());
    rdata.validate().map_err(|e| e.to_string())?;
    Ok(rdata)
}

fn write_char_string(f: &mut fmt::Formatter<'_>, s: &[u8]) -> fmt::Result {
    f.write_str("\"")?;
    for &b in s {
        match b {
            b'"' | b'\\' => write!(f, "\\{}", b as char)?,
            0x20..=0x7e => write!(f, "{}", b as char)?,
            _ => write!(f, "\\{b:03}")?,
        }
    }
    f.write_str("\"")
}

pub fn fmt_rdata(rdata: &RData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match rdata {
        RData::A(ip) => write!(f, "{ip}"),
        RData::Aaaa(ip) => write!(f, "{ip}"),
        RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => write!(f, "{}", n.to_dotted()),
        RData::Mx { preference, exchange } => write!(f, "{preference} {}", exchange.to_dotted()),
        RData::Txt(strings) => {
            for (i, s) in strings.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write_char_string(f, s)?;
            }
            Ok(())
        }
        RData::Srv { priority, weight, port, target } => {
            write!(f, "{priority} {weight} {port} {}", target.to_dotted())
        }
        RData::Caa(caa) => {
            write!(f, "{} {} ", caa.flags, caa.tag)?;
            write_char_string(f, &caa.value)
        }
    }
}

impl RData {
    /// Parses RFC 1035 presentation format (`10 mail.example.test.`, `"v=spf1 -all"`).
    /// Relative names are not accepted here: the API and the zone file importer make
    /// names absolute before calling this.
    pub fn parse(rtype: RType, text: &str) -> Result<RData, RDataError> {
        parse_rdata(rtype, text)
    }
}

impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_rdata(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presentation_round_trips() {
        for (t, s) in [
            (RType::A, "192.0.2.1"),
            (RType::Aaaa, "2001:db8::1"),
            (RType::Mx, "10 mail.example.test."),
            (RType::Txt, "\"v=spf1 -all\" \"second\""),
            (RType::Srv, "1 2 443 svc.example.test."),
            (RType::Caa, "0 issue \"letsencrypt.org\""),
            (RType::Cname, "target.example.test."),
        ] {
            let r = RData::parse(t, s).unwrap();
            assert_eq!(r.to_string(), s, "{t}");
            assert_eq!(RData::parse(t, &r.to_string()).unwrap(), r);
        }
    }

    #[test]
    fn bad_data_is_rejected_with_the_type_named() {
        let err = RData::parse(RType::A, "300.1.1.1").unwrap_err().to_string();
        assert!(err.contains("A record data"), "{err}");
        assert!(RData::parse(RType::Mx, "ten mail.").is_err());
        assert!(RData::parse(RType::Soa, "x").is_err());
    }
}
