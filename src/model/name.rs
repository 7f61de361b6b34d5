//! Domain names as the service stores them: lowercase, absolute, no trailing dot.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Why a string is not an acceptable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label in {0:?}")]
    EmptyLabel(String),
    #[error("label longer than 63 octets in {0:?}")]
    LabelTooLong(String),
    #[error("name longer than 253 characters: {0:?}")]
    NameTooLong(String),
    #[error("invalid character {1:?} in {0:?} (letters, digits, '-' and '_' only)")]
    BadChar(String, char),
    #[error("'*' is only allowed as a whole leftmost label in {0:?}")]
    BadWildcard(String),
    #[error("label may not start or end with '-' in {0:?}")]
    BadHyphen(String),
}

/// A fully qualified domain name, normalised to lowercase without the trailing dot.
/// The root is the empty string. Only LDH labels plus `_` (service labels) and a leading
/// `*` wildcard label are accepted: this is a DNS service for hosts, not a general
/// octet-string store. A `CompactString`: a name of up to 24 octets (most host names
/// under a dynamic DNS zone) is held inline, without a heap allocation; in 24 bytes, only
/// 8 more than a `Box<str>`, which would cost a 32-byte heap chunk for every owner name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(try_from = "String", into = "String")]
pub struct Fqdn(CompactString);

impl Fqdn {
    pub fn root() -> Self {
        Fqdn(CompactString::default())
    }

    /// Parse a presentation-format name. A trailing dot is accepted and dropped.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.strip_suffix('.').unwrap_or(input);
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        if trimmed.len() > 253 {
            return Err(NameError::NameTooLong(input.to_string()));
        }
        let lower = trimmed.to_ascii_lowercase();
        for (i, label) in lower.split('.').enumerate() {
            if label.is_empty() {
                return Err(NameError::EmptyLabel(input.to_string()));
            }
            if label.len() > 63 {
                return Err(NameError::LabelTooLong(input.to_string()));
            }
            if label == "*" {
                if i != 0 {
                    return Err(NameError::BadWildcard(input.to_string()));
                }
                continue;
            }
            if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
                return Err(if c == '*' {
                    NameError::BadWildcard(input.to_string())
                } else {
                    NameError::BadChar(input.to_string(), c)
                });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(NameError::BadHyphen(input.to_string()));
            }
        }
        Ok(Fqdn(lower.into()))
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

    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('.').filter(|l| !l.is_empty())
    }

    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The name one label up; the root's parent is None.
    pub fn parent(&self) -> Option<Fqdn> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.split_once('.') {
            Some((_, rest)) => Fqdn(rest.into()),
            None => Fqdn::root(),
        })
    }

    /// `self` equals `zone` or lies below it.
    pub fn is_in(&self, zone: &Fqdn) -> bool {
        if zone.is_root() || self == zone {
            return true;
        }
        self.0.len() > zone.0.len()
            && self.0.ends_with(&*zone.0)
            && self.0.as_bytes()[self.0.len() - zone.0.len() - 1] == b'.'
    }

    /// `label.self`
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
        for label in self.labels() {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }

    /// Presentation format with the trailing dot.
    pub fn to_dotted(&self) -> String {
        format!("{}.", self.0)
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
        assert!(Fqdn::parse("a.*.test").is_err());
        assert!(Fqdn::parse("-a.test").is_err());
        assert!(Fqdn::parse(&format!("{}.test", ["abcdefghi"; 30].join("."))).is_err());
        assert!(Fqdn::parse("*.ok.test").is_ok());
        assert!(Fqdn::parse("_acme-challenge.ok.test").is_ok());
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
