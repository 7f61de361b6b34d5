//! RFC 1035 presentation format for record data. Parsing reads tokens of the
//! master-file syntax (`text`), so the record API and zone files read data alike:
//! escapes in names (`\.`, `\DDD`) and strings, relative names, and the generic form of
//! RFC 3597 (`\# 4 c0000201`). hickory-proto's record data (UPDATE messages) converts
//! into ours here too.

use std::fmt;

use hickory_proto::rr::RData as HRData;

use super::name::{Fqdn, NameError};
use super::record::{RData, RDataError, RType};
use super::text::{self, Token};

fn name_of(n: &hickory_proto::rr::Name) -> Result<Fqdn, RDataError> {
    Ok(Fqdn::from_labels(n.iter())?)
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
            RData::from_wire(RType::Caa, &wire)?
        }
        _ => return Ok(None),
    }))
}

/// A name token: `@` is `origin`, a name ending in an unescaped dot is absolute, any
/// other is relative to `origin`.
pub fn name_token(token: &Token, origin: &Fqdn) -> Result<Fqdn, NameError> {
    let t = token.text.as_str();
    if t == "@" && !token.quoted {
        return Ok(origin.clone());
    }
    let b = t.as_bytes();
    let absolute = b.last() == Some(&b'.') && b.iter().rev().skip(1).take_while(|&&c| c == b'\\').count() % 2 == 0;
    if absolute || origin.is_root() {
        Fqdn::parse(t)
    } else {
        origin.child(t)
    }
}

/// Reads tokens one at a time with a description of what is missing.
struct Tokens<'t> {
    toks: &'t [Token],
    next: usize,
}

impl<'t> Tokens<'t> {
    fn take(&mut self, what: &str) -> Result<&'t Token, String> {
        let t = self.toks.get(self.next).ok_or_else(|| format!("{what} is missing"))?;
        self.next += 1;
        Ok(t)
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, String> {
        let t = self.take(what)?;
        t.text.parse().map_err(|_| format!("{what} {:?} is not a number in range", t.text))
    }

    fn name(&mut self, what: &str, origin: &Fqdn) -> Result<Fqdn, String> {
        let t = self.take(what)?;
        name_token(t, origin).map_err(|e| format!("{what}: {e}"))
    }

    fn end(&self) -> Result<(), String> {
        match self.toks.get(self.next) {
            Some(t) => Err(format!("unexpected {:?} after the record data", t.text)),
            None => Ok(()),
        }
    }
}

/// Parses the RDATA tokens of a record of `rtype` (not SOA: see `zonefile`); relative
/// names are relative to `origin`. The error is the reason.
pub fn parse_tokens(rtype: RType, toks: &[Token], origin: &Fqdn) -> Result<RData, String> {
    if toks.first().is_some_and(|t| !t.quoted && t.text == "\\#") {
        return generic(rtype, &toks[1..]);
    }
    let mut it = Tokens { toks, next: 0 };
    let rdata = match rtype {
        RType::A => {
            let t = it.take("the address")?;
            RData::A(t.text.parse().map_err(|_| format!("{:?} is not an IPv4 address", t.text))?)
        }
        RType::Aaaa => {
            let t = it.take("the address")?;
            RData::Aaaa(t.text.parse().map_err(|_| format!("{:?} is not an IPv6 address", t.text))?)
        }
        RType::Ns => RData::Ns(it.name("the name server", origin)?),
        RType::Cname => RData::Cname(it.name("the target", origin)?),
        RType::Ptr => RData::Ptr(it.name("the target", origin)?),
        RType::Mx => RData::Mx { preference: it.number("the preference")?, exchange: it.name("the exchange", origin)? },
        RType::Srv => RData::Srv {
            priority: it.number("the priority")?,
            weight: it.number("the weight")?,
            port: it.number("the port")?,
            target: it.name("the target", origin)?,
        },
        RType::Txt => {
            if toks.is_empty() {
                return Err("TXT needs at least one string".into());
            }
            it.next = toks.len();
            RData::Txt(toks.iter().map(|t| text::octets(&t.text)).collect::<Result<_, _>>()?)
        }
        RType::Caa => {
            let flags = it.number("the flags")?;
            let tag = it.take("the tag")?.text.clone();
            let value = text::octets(&it.take("the value")?.text)?;
            RData::caa(flags, tag.into_boxed_str(), value.into_boxed_slice())
        }
        RType::Soa => return Err(RDataError::SoaNotARecordSet.to_string()),
    };
    it.end()?;
    rdata.validate().map_err(|e| e.to_string())?;
    Ok(rdata)
}

/// `\# length hex...` (RFC 3597 5) for one of our types.
fn generic(rtype: RType, toks: &[Token]) -> Result<RData, String> {
    let (len, hex_toks) = toks.split_first().ok_or("\\# needs a length")?;
    let len: usize = len.text.parse().map_err(|_| format!("\\# length {:?} is not a number", len.text))?;
    let hex: String = hex_toks.iter().map(|t| t.text.as_str()).collect();
    let data = hex::decode(&hex).map_err(|_| format!("\\# data {hex:?} is not hexadecimal"))?;
    if data.len() != len {
        return Err(format!("\\# says {len} octets but has {}", data.len()));
    }
    RData::from_wire(rtype, &data).map_err(|e| e.to_string())
}

/// Parses one record's data in presentation format (the record API): names are
/// absolute whether or not they end with a dot.
pub fn parse_rdata(rtype: RType, input: &str) -> Result<RData, RDataError> {
    if rtype == RType::Soa {
        return Err(RDataError::SoaNotARecordSet);
    }
    let invalid = |reason: String| RDataError::Invalid { rtype, data: input.to_string(), reason };
    let entries = text::entries(input).map_err(|e| invalid(e.reason))?;
    let [entry] = entries.as_slice() else { return Err(invalid("one record's data expected".into())) };
    parse_tokens(rtype, &entry.tokens, &Fqdn::root()).map_err(invalid)
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
    fn escapes_and_generic_data_are_read() {
        assert_eq!(
            RData::parse(RType::Txt, r#""a\065\"b" c\;d"#).unwrap(),
            RData::Txt(vec![b"aA\"b".to_vec(), b"c;d".to_vec()])
        );
        assert_eq!(
            RData::parse(RType::Cname, "dot\\.label.test.").unwrap(),
            RData::Cname(Fqdn::parse("dot\\.label.test").unwrap())
        );
        assert_eq!(RData::parse(RType::A, "\\# 4 c0000201").unwrap(), RData::parse(RType::A, "192.0.2.1").unwrap());
        assert_eq!(
            RData::parse(RType::Mx, "\\# 7 000a 0178 0178 00").unwrap(),
            RData::parse(RType::Mx, "10 x.x.").unwrap()
        );
        assert!(RData::parse(RType::A, "\\# 5 c0000201").is_err());
        assert!(RData::parse(RType::A, "192.0.2.1 extra").is_err());
        let txt = RData::Txt(vec![vec![0, b'"', b'\\', 200, b';']]);
        assert_eq!(RData::parse(RType::Txt, &txt.to_string()).unwrap(), txt);
    }

    #[test]
    fn bad_data_is_rejected_with_the_type_named() {
        let err = RData::parse(RType::A, "300.1.1.1").unwrap_err().to_string();
        assert!(err.contains("A record data"), "{err}");
        assert!(RData::parse(RType::Mx, "ten mail.").is_err());
        assert!(RData::parse(RType::Soa, "x").is_err());
    }
}
