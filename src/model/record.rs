//! Record types and data the service serves, with their wire and presentation forms.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use smallvec::SmallVec;

use super::name::{Fqdn, NameError};

/// The record types quorumdns stores. SOA lives in the zone's own fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RType {
    A,
    Ns,
    Cname,
    Soa,
    Ptr,
    Mx,
    Txt,
    Aaaa,
    Srv,
    Caa,
}

impl RType {
    pub const ALL: [RType; 10] = [
        RType::A,
        RType::Ns,
        RType::Cname,
        RType::Soa,
        RType::Ptr,
        RType::Mx,
        RType::Txt,
        RType::Aaaa,
        RType::Srv,
        RType::Caa,
    ];

    pub fn code(self) -> u16 {
        match self {
            RType::A => 1,
            RType::Ns => 2,
            RType::Cname => 5,
            RType::Soa => 6,
            RType::Ptr => 12,
            RType::Mx => 15,
            RType::Txt => 16,
            RType::Aaaa => 28,
            RType::Srv => 33,
            RType::Caa => 257,
        }
    }

    pub fn from_code(code: u16) -> Option<RType> {
        RType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RType::A => "A",
            RType::Ns => "NS",
            RType::Cname => "CNAME",
            RType::Soa => "SOA",
            RType::Ptr => "PTR",
            RType::Mx => "MX",
            RType::Txt => "TXT",
            RType::Aaaa => "AAAA",
            RType::Srv => "SRV",
            RType::Caa => "CAA",
        }
    }
}

impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown or unsupported record type {0:?}")]
pub struct UnknownType(pub String);

impl std::str::FromStr for RType {
    type Err = UnknownType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| UnknownType(s.to_string()))
    }
}

/// The data of one resource record. Ordering is derived so record sets can be kept
/// sorted and deduplicated, which makes state (and thus answers) independent of the
/// order in which records were added.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Fqdn),
    Cname(Fqdn),
    Ptr(Fqdn),
    Mx {
        preference: u16,
        exchange: Fqdn,
    },
    /// Character strings, each at most 255 octets.
    Txt(Vec<Vec<u8>>),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Fqdn,
    },
    /// Boxed: the largest variant sets the size of every `RData` (32 bytes with the box,
    /// 40 with the fields inline), and CAA records are rare. serde encodes a newtype variant
    /// holding a struct exactly like the struct variant it was.
    Caa(Box<Caa>),
}

/// The data of a CAA record (RFC 8659). Boxed slices, not `String`/`Vec`: serde encodes
/// both alike and the capacity would be dead weight.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Caa {
    pub flags: u8,
    pub tag: Box<str>,
    pub value: Box<[u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RDataError {
    #[error("{rtype} record data {data:?} is invalid: {reason}")]
    Invalid { rtype: RType, data: String, reason: String },
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("SOA records are managed through the zone, not as record sets")]
    SoaNotARecordSet,
}

impl RData {
    pub fn caa(flags: u8, tag: Box<str>, value: Box<[u8]>) -> RData {
        RData::Caa(Box::new(Caa { flags, tag, value }))
    }

    pub fn rtype(&self) -> RType {
        match self {
            RData::A(_) => RType::A,
            RData::Aaaa(_) => RType::Aaaa,
            RData::Ns(_) => RType::Ns,
            RData::Cname(_) => RType::Cname,
            RData::Ptr(_) => RType::Ptr,
            RData::Mx { .. } => RType::Mx,
            RData::Txt(_) => RType::Txt,
            RData::Srv { .. } => RType::Srv,
            RData::Caa(_) => RType::Caa,
        }
    }

    /// Checks limits that the type system does not: TXT string lengths, CAA tag syntax.
    pub fn validate(&self) -> Result<(), RDataError> {
        let invalid = |reason: &str| RDataError::Invalid {
            rtype: self.rtype(),
            data: self.to_string(),
            reason: reason.to_string(),
        };
        match self {
            RData::Txt(strings) => {
                if strings.is_empty() {
                    return Err(invalid("TXT needs at least one string"));
                }
                if strings.iter().any(|s| s.len() > 255) {
                    return Err(invalid("a TXT character-string is at most 255 octets"));
                }
                if self.wire_len() > 65535 {
                    return Err(invalid("record data longer than 65535 octets"));
                }
            }
            RData::Caa(caa) => {
                let Caa { tag, value, .. } = &**caa;
                if tag.is_empty() || tag.len() > 15 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(invalid("CAA tag must be 1-15 letters or digits"));
                }
                if value.len() > 4096 {
                    return Err(invalid("CAA value too long"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Appends the RDATA (without RDLENGTH) in uncompressed wire format.
    pub fn write_wire(&self, out: &mut Vec<u8>) {
        match self {
            RData::A(ip) => out.extend_from_slice(&ip.octets()),
            RData::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => n.write_wire(out),
            RData::Mx { preference, exchange } => {
                out.extend_from_slice(&preference.to_be_bytes());
                exchange.write_wire(out);
            }
            RData::Txt(strings) => {
                for s in strings {
                    out.push(s.len() as u8);
                    out.extend_from_slice(s);
                }
            }
            RData::Srv { priority, weight, port, target } => {
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&weight.to_be_bytes());
                out.extend_from_slice(&port.to_be_bytes());
                target.write_wire(out);
            }
            RData::Caa(caa) => {
                let Caa { flags, tag, value } = &**caa;
                out.push(*flags);
                out.push(tag.len() as u8);
                out.extend_from_slice(tag.as_bytes());
                out.extend_from_slice(value);
            }
        }
    }

    /// Reads uncompressed RDATA (RFC 3597 generic form, UPDATE messages).
    pub fn from_wire(rtype: RType, data: &[u8]) -> Result<RData, RDataError> {
        let bad = |reason: &str| RDataError::Invalid { rtype, data: hex::encode(data), reason: reason.to_string() };
        let u16_at = |at: usize| data.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let name_at = |at: usize| -> Result<Fqdn, RDataError> {
            let rest = data.get(at..).ok_or_else(|| bad("too short"))?;
            let len = wire_name_len(rest).ok_or_else(|| bad("malformed name"))?;
            if len != rest.len() {
                return Err(bad("data after the name"));
            }
            Ok(Fqdn::from_wire(rest)?)
        };
        let rdata = match rtype {
            RType::A => RData::A(<[u8; 4]>::try_from(data).map_err(|_| bad("A is 4 octets"))?.into()),
            RType::Aaaa => RData::Aaaa(<[u8; 16]>::try_from(data).map_err(|_| bad("AAAA is 16 octets"))?.into()),
            RType::Ns => RData::Ns(name_at(0)?),
            RType::Cname => RData::Cname(name_at(0)?),
            RType::Ptr => RData::Ptr(name_at(0)?),
            RType::Mx => RData::Mx { preference: u16_at(0).ok_or_else(|| bad("too short"))?, exchange: name_at(2)? },
            RType::Srv => RData::Srv {
                priority: u16_at(0).ok_or_else(|| bad("too short"))?,
                weight: u16_at(2).ok_or_else(|| bad("too short"))?,
                port: u16_at(4).ok_or_else(|| bad("too short"))?,
                target: name_at(6)?,
            },
            RType::Txt => {
                let mut strings = Vec::new();
                let mut rest = data;
                while let Some((&len, tail)) = rest.split_first() {
                    let s = tail.get(..len as usize).ok_or_else(|| bad("character string runs past the data"))?;
                    strings.push(s.to_vec());
                    rest = &tail[len as usize..];
                }
                RData::Txt(strings)
            }
            RType::Caa => {
                let (&flags, rest) = data.split_first().ok_or_else(|| bad("too short"))?;
                let (&tag_len, rest) = rest.split_first().ok_or_else(|| bad("too short"))?;
                let tag = rest.get(..tag_len as usize).ok_or_else(|| bad("tag runs past the data"))?;
                let tag = std::str::from_utf8(tag).map_err(|_| bad("tag is not ASCII"))?;
                RData::caa(flags, tag.into(), rest[tag_len as usize..].into())
            }
            RType::Soa => return Err(RDataError::SoaNotARecordSet),
        };
        rdata.validate()?;
        Ok(rdata)
    }

    pub fn wire_len(&self) -> usize {
        let mut v = Vec::new();
        self.write_wire(&mut v);
        v.len()
    }
}

/// Length of the uncompressed wire name at the start of `b`.
pub fn wire_name_len(b: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let len = *b.get(pos)? as usize;
        if len == 0 {
            return (pos < 255).then_some(pos + 1);
        }
        if len > 63 {
            return None;
        }
        pos += 1 + len;
    }
}

/// The records of a set: the first inline, since most sets hold one (an owner's A
/// address), which saves a 48-byte allocation per set.
pub type RDataList = SmallVec<[RData; 1]>;

/// One record as carried by commands: owner, type, TTL, data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSpec {
    pub name: Fqdn,
    pub ttl: u32,
    pub data: RData,
}

/// All records of one type at one name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    pub ttl: u32,
    /// Sorted and deduplicated. Encoded exactly like the `Vec<RData>` it was.
    #[serde(serialize_with = "serialize_rdata", deserialize_with = "deserialize_rdata")]
    pub data: RDataList,
}

fn serialize_rdata<S: serde::Serializer>(data: &RDataList, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(data.iter())
}

/// Like serde's `Vec` impl: the length an input claims reserves at most a bounded amount.
fn deserialize_rdata<'de, D: Deserializer<'de>>(deserializer: D) -> Result<RDataList, D::Error> {
    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = RDataList;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence of record data")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RDataList, A::Error> {
            let mut out = RDataList::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(d) = seq.next_element()? {
                out.push(d);
            }
            out.shrink_to_fit();
            Ok(out)
        }
    }
    deserializer.deserialize_seq(ListVisitor)
}

impl RecordSet {
    pub fn new(ttl: u32, data: impl Into<RDataList>) -> Self {
        let mut data = data.into();
        data.sort();
        data.dedup();
        data.shrink_to_fit();
        RecordSet { ttl, data }
    }

    /// Adds one record (kept sorted and deduplicated). Grows by exactly one: most sets hold
    /// one or two records, and a doubling growth would reserve room they never use.
    pub fn add(&mut self, data: RData) {
        if let Err(i) = self.data.binary_search(&data) {
            self.data.reserve_exact(1);
            self.data.insert(i, data);
        }
    }
}
