//! Domain names as the service stores them: absolute, in a canonical presentation form
//! without the trailing dot.
//!
//! A label may hold any octet (RFC 2181 11). The canonical form is what BIND prints:
//! ASCII letters in lowercase (names compare case-insensitively, RFC 4343), the octets
//! `" ( ) . ; \ @ $` escaped with a backslash, octets outside `!`..`~` as `\DDD`, all
//! others as themselves. So equal names have equal strings, and a name of letters,
//! digits, `-` and `_` (every name the first releases accepted) is stored exactly as it
//! always was.
//!
//! Names beyond that older syntax ([`Fqdn::is_classic`] false: escapes, a `*` that is not
//! the whole leftmost label, a label starting or ending with `-`) are a data-format
//! change: nodes of format 2 refuse them. Serializing one marks the record as format 3
//! (`codec::require_format`), and `service` refuses to propose one before the cluster's
//! format allows it (docs/compatibility.md).

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize, Serializer};

/// Longest name in wire form (RFC 1035 3.1).
const MAX_WIRE_LEN: usize = 255;
/// The data format that introduced names beyond the classic syntax.
pub const EXTENDED_NAMES_FORMAT: u8 = 3;

/// Why a string is not an acceptable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label in {0:?}")]
    EmptyLabel(String),
    #[error("label longer than 63 octets in {0:?}")]
    LabelTooLong(String),
    #[error("name longer than 255 octets in wire form: {0:?}")]
    NameTooLong(String),
    #[error("invalid character {1:?} in {0:?} (escape it as \\DDD)")]
    BadChar(String, char),
    #[error("bad escape in {0:?} (\\X or \\DDD with DDD at most 255)")]
    BadEscape(String),
}

/// A fully qualified domain name in canonical presentation form (see the module
/// documentation), without the trailing dot; the root is the empty string. A
/// `CompactString`: a name of up to 24 octets (most host names under a dynamic DNS zone)
/// is held inline, without a heap allocation.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Default)]
#[serde(try_from = "String")]
pub struct Fqdn(CompactString);

/// Whether `b` is written as `\b` in the canonical form.
fn is_special(b: u8) -> bool {
    matches!(b, b'"' | b'(' | b')' | b'.' | b';' | b'\\' | b'@' | b'$')
}

/// Appends one label octet in canonical form.
fn push_octet(out: &mut String, b: u8) {
    let b = b.to_ascii_lowercase();
    if is_special(b) {
        out.push('\\');
        out.push(b as char);
    } else if (0x21..=0x7e).contains(&b) {
        out.push(b as char);
    } else {
        out.push_str(&format!("\\{b:03}"));
    }
}

/// Whether the `.` at byte `i` of a canonical or presentation string separates labels
/// (it is escaped when an odd number of backslashes precede it).
fn is_separator(s: &[u8], i: usize) -> bool {
    s[i] == b'.' && s[..i].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0
}

/// The labels of a presentation name (escapes decoded) as octet strings; `None` with
/// the reason if it is not a valid name. `input` has no trailing separator.
fn decode(input: &str, mut label: impl FnMut(&[u8])) -> Result<(), NameError> {
    let err = |f: fn(String) -> NameError| f(input.to_string());
    let bytes = input.as_bytes();
    let mut cur: Vec<u8> = Vec::with_capacity(63);
    let mut wire_len = 1;
    let mut i = 0;
    loop {
        let end = i == bytes.len();
        if end || bytes[i] == b'.' {
            if cur.is_empty() {
                return Err(err(NameError::EmptyLabel));
            }
            if cur.len() > 63 {
                return Err(err(NameError::LabelTooLong));
            }
            wire_len += 1 + cur.len();
            if wire_len > MAX_WIRE_LEN {
                return Err(err(NameError::NameTooLong));
            }
            label(&cur);
            cur.clear();
            if end {
                return Ok(());
            }
            i += 1;
            continue;
        }
        let c = bytes[i];
        if c == b'\\' {
            let digits = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(u8::is_ascii_digit));
            match (digits, bytes.get(i + 1)) {
                (Some(d), _) => {
                    let v = (d[0] - b'0') as u32 * 100 + (d[1] - b'0') as u32 * 10 + (d[2] - b'0') as u32;
                    cur.push(u8::try_from(v).map_err(|_| err(NameError::BadEscape))?);
                    i += 4;
                }
                (None, Some(&n)) if !n.is_ascii_digit() && (0x20..=0x7e).contains(&n) => {
                    cur.push(n);
                    i += 2;
                }
                _ => return Err(err(NameError::BadEscape)),
            }
            continue;
        }
        if !(0x21..=0x7e).contains(&c) {
            let ch = input[i..].chars().next().unwrap_or('?');
            return Err(NameError::BadChar(input.to_string(), ch));
        }
        cur.push(c);
        i += 1;
    }
}

impl Fqdn {
    pub fn root() -> Self {
        Fqdn(CompactString::default())
    }

    /// Parses a presentation-format name (RFC 1035 5.1: `\X` and `\DDD` escapes). It is
    /// absolute whether or not it ends with an (unescaped) dot; the root is `.` or empty.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let b = input.as_bytes();
        let trimmed = if !b.is_empty() && is_separator(b, b.len() - 1) { &input[..input.len() - 1] } else { input };
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        if Self::is_classic_str(trimmed) && !trimmed.bytes().any(|c| c.is_ascii_uppercase()) {
            // Already canonical: the common case costs one pass and no decoding.
            return Ok(Fqdn(trimmed.into()));
        }
        let mut out = String::with_capacity(trimmed.len());
        decode(trimmed, |label| {
            if !out.is_empty() {
                out.push('.');
            }
            for &o in label {
                push_octet(&mut out, o);
            }
        })?;
        Ok(Fqdn(out.into()))
    }

    /// A name from its labels (octet strings, leftmost first, without the root label).
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, NameError> {
        let mut out = String::new();
        for label in labels {
            if !out.is_empty() {
                out.push('.');
            }
            if label.is_empty() {
                return Err(NameError::EmptyLabel(out));
            }
            for &o in label {
                push_octet(&mut out, o);
            }
        }
        // Checks the lengths (and is a no-op for the canonical text it was given).
        Fqdn::parse(&out)
    }

    /// A name from its uncompressed wire form.
    pub fn from_wire(wire: &[u8]) -> Result<Self, NameError> {
        let mut labels = Vec::new();
        let mut pos = 0;
        loop {
            let len = *wire.get(pos).ok_or_else(|| NameError::EmptyLabel(format!("{wire:?}")))? as usize;
            if len == 0 {
                break;
            }
            if len > 63 {
                return Err(NameError::LabelTooLong(format!("{wire:?}")));
            }
            let label = wire.get(pos + 1..pos + 1 + len).ok_or_else(|| NameError::EmptyLabel(format!("{wire:?}")))?;
            labels.push(label);
            pos += 1 + len;
        }
        Fqdn::from_labels(labels)
    }

    /// Whether this name fits the syntax of the first releases (LDH labels and `_`, a
    /// leftmost `*` label, no label starting or ending with `-`): such a name is stored
    /// exactly as those releases store it, and a node of data format 2 can read it.
    pub fn is_classic(&self) -> bool {
        self.is_root() || Self::is_classic_str(&self.0)
    }

    fn is_classic_str(s: &str) -> bool {
        s.len() <= 253
            && s.split('.').enumerate().all(|(i, label)| {
                (i == 0 && label == "*")
                    || (!label.is_empty()
                        && label.len() <= 63
                        && label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                        && !label.starts_with('-')
                        && !label.ends_with('-'))
            })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_wildcard(&self) -> bool {
        &*self.0 == "*" || self.0.starts_with("*.")
    }

    /// The labels in canonical presentation form (escapes kept), leftmost first.
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: &self.0 }
    }

    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// Byte offset of the first label separator, if any.
    fn first_separator(&self) -> Option<usize> {
        let b = self.0.as_bytes();
        (0..b.len()).find(|&i| is_separator(b, i))
    }

    /// The name one label up; the root's parent is None.
    pub fn parent(&self) -> Option<Fqdn> {
        if self.is_root() {
            return None;
        }
        Some(match self.first_separator() {
            Some(i) => Fqdn(self.0[i + 1..].into()),
            None => Fqdn::root(),
        })
    }

    /// `self` equals `zone` or lies below it.
    pub fn is_in(&self, zone: &Fqdn) -> bool {
        if zone.is_root() || self == zone {
            return true;
        }
        let (s, z) = (self.0.as_bytes(), zone.0.as_bytes());
        s.len() > z.len() && s.ends_with(z) && is_separator(s, s.len() - z.len() - 1)
    }

    /// `label.self`, with `label` in presentation form (escapes allowed).
    pub fn child(&self, label: &str) -> Result<Fqdn, NameError> {
        if self.is_root() {
            Fqdn::parse(label)
        } else {
            Fqdn::parse(&format!("{label}.{}", self.0))
        }
    }

    /// The wildcard that would cover this name's children: `*.self`.
    pub fn wildcard_child(&self) -> Fqdn {
        if self.is_root() {
            Fqdn("*".into())
        } else {
            Fqdn(compact_str::format_compact!("*.{}", self.0))
        }
    }

    /// Uncompressed wire format (RFC 1035 3.1).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() + 2);
        self.write_wire(&mut out);
        out
    }

    pub fn write_wire(&self, out: &mut Vec<u8>) {
        if self.0.contains('\\') {
            // The canonical text always decodes.
            let _ = decode(&self.0, |label| {
                out.push(label.len() as u8);
                out.extend_from_slice(label);
            });
        } else {
            for label in self.labels() {
                out.push(label.len() as u8);
                out.extend_from_slice(label.as_bytes());
            }
        }
        out.push(0);
    }

    /// Presentation format with the trailing dot.
    pub fn to_dotted(&self) -> String {
        format!("{}.", self.0)
    }
}

/// The labels of an [`Fqdn`] in canonical presentation form.
pub struct Labels<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let b = self.rest.as_bytes();
        match (0..b.len()).find(|&i| is_separator(b, i)) {
            Some(i) => {
                let (label, rest) = (&self.rest[..i], &self.rest[i + 1..]);
                self.rest = rest;
                Some(label)
            }
            None => Some(std::mem::take(&mut self.rest)),
        }
    }
}

impl DoubleEndedIterator for Labels<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let b = self.rest.as_bytes();
        match (0..b.len()).rev().find(|&i| is_separator(b, i)) {
            Some(i) => {
                let (rest, label) = (&self.rest[..i], &self.rest[i + 1..]);
                self.rest = rest;
                Some(label)
            }
            None => Some(std::mem::take(&mut self.rest)),
        }
    }
}

/// Encoded as the canonical string, exactly like the `String` it always was; a name
/// beyond the classic syntax needs data format 3.
impl Serialize for Fqdn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.is_classic() {
            crate::codec::require_format(EXTENDED_NAMES_FORMAT);
        }
        serializer.serialize_str(&self.0)
    }
}

impl fmt::Display for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

impl fmt::Debug for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fqdn({self})")
    }
}

impl TryFrom<String> for Fqdn {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Fqdn::parse(&s)
    }
}

impl From<Fqdn> for String {
    fn from(f: Fqdn) -> String {
        f.0.into()
    }
}

impl std::str::FromStr for Fqdn {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fqdn::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalises_case_and_trailing_dot() {
        assert_eq!(Fqdn::parse("WWW.Example.TEST.").unwrap().as_str(), "www.example.test");
        assert!(Fqdn::parse(".").unwrap().is_root());
    }

    #[test]
    fn parse_rejects_bad_names() {
        assert!(Fqdn::parse("a..b").is_err());
        assert!(Fqdn::parse(&"a".repeat(64)).is_err());
        assert!(Fqdn::parse("a b.test").is_err());
        assert!(Fqdn::parse("a\u{e9}.test").is_err());
        assert!(Fqdn::parse("a\\256.test").is_err());
        assert!(Fqdn::parse("a\\").is_err());
        assert!(Fqdn::parse(&format!("{}.test", ["abcdefghi"; 30].join("."))).is_err());
        // 63 escaped octets are one label of 63.
        assert!(Fqdn::parse(&"\\000".repeat(63)).is_ok());
        assert!(Fqdn::parse(&"\\000".repeat(64)).is_err());
        assert!(Fqdn::parse("*.ok.test").is_ok());
        assert!(Fqdn::parse("_acme-challenge.ok.test").is_ok());
    }

    /// RFC 2181 11 and RFC 4592 2.1.1: what `named-checkzone` accepts.
    #[test]
    fn any_octet_is_a_legal_label_character() {
        for (input, canonical, wire) in [
            ("x.*.w5.test", "x.*.w5.test", &b"\x01x\x01*\x02w5\x04test\x00"[..]),
            ("dot\\.label.test", "dot\\.label.test", b"\x09dot.label\x04test\x00"),
            ("sp\\032ace.test", "sp\\032ace.test", b"\x06sp ace\x04test\x00"),
            ("x\\200y.test", "x\\200y.test", b"\x03x\xc8y\x04test\x00"),
            ("under_score.test", "under_score.test", b"\x0bunder_score\x04test\x00"),
            ("quote\\\"d.test", "quote\\\"d.test", b"\x07quote\"d\x04test\x00"),
            ("semi\\;colon.test", "semi\\;colon.test", b"\x0asemi;colon\x04test\x00"),
            ("\\065\\b.test", "ab.test", b"\x02ab\x04test\x00"),
            ("back\\\\.test", "back\\\\.test", b"\x05back\\\x04test\x00"),
            ("-lead.test", "-lead.test", b"\x05-lead\x04test\x00"),
        ] {
            let n = Fqdn::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.as_str(), canonical, "{input}");
            assert_eq!(n.to_wire(), wire, "{input}");
            assert_eq!(Fqdn::from_wire(wire).unwrap(), n, "{input}");
            assert_eq!(Fqdn::parse(n.as_str()).unwrap(), n, "canonical text parses to itself");
        }
    }

    #[test]
    fn escaped_dots_are_not_label_boundaries() {
        let n = Fqdn::parse("a\\.b.c.test").unwrap();
        assert_eq!(n.labels().collect::<Vec<_>>(), vec!["a\\.b", "c", "test"]);
        assert_eq!(n.labels().rev().collect::<Vec<_>>(), vec!["test", "c", "a\\.b"]);
        assert_eq!(n.parent().unwrap().as_str(), "c.test");
        let zone = Fqdn::parse("b.c.test").unwrap();
        assert!(!n.is_in(&zone), "a\\.b is one label");
        assert!(Fqdn::parse("a\\\\.b.c.test").unwrap().is_in(&zone), "an escaped backslash then a separator");
        assert_eq!(Fqdn::parse("a\\.").unwrap().as_str(), "a\\.", "an escaped final dot stays");
    }

    #[test]
    fn classic_names_are_stored_as_before_and_others_need_format_3() {
        for classic in ["www.example.test", "*.w.test", "_sip._tcp.x", "a-b.c"] {
            let n = Fqdn::parse(classic).unwrap();
            assert!(n.is_classic(), "{classic}");
            assert_eq!(crate::codec::format_of(&n).unwrap(), crate::codec::OLDEST_FORMAT);
            // The same bytes as the String the first releases encoded.
            assert_eq!(crate::codec::encode(&n).unwrap(), crate::codec::encode(&classic.to_string()).unwrap());
        }
        for extended in ["x.*.w", "dot\\.label.test", "-a.test", "a+b.test"] {
            let n = Fqdn::parse(extended).unwrap();
            assert!(!n.is_classic(), "{extended}");
            let bytes = crate::codec::encode(&n).unwrap();
            assert_eq!(bytes[0], EXTENDED_NAMES_FORMAT);
            assert_eq!(crate::codec::decode::<Fqdn>(&bytes).unwrap(), n);
        }
    }

    #[test]
    fn containment_respects_label_boundaries() {
        let zone = Fqdn::parse("example.test").unwrap();
        assert!(Fqdn::parse("a.example.test").unwrap().is_in(&zone));
        assert!(zone.is_in(&zone));
        assert!(!Fqdn::parse("badexample.test").unwrap().is_in(&zone));
        assert_eq!(Fqdn::parse("a.example.test").unwrap().parent().unwrap(), zone);
    }

    #[test]
    fn wire_format_is_length_prefixed_labels() {
        assert_eq!(Fqdn::parse("ab.c").unwrap().to_wire(), b"\x02ab\x01c\x00");
        assert_eq!(Fqdn::root().to_wire(), b"\x00");
    }
}
