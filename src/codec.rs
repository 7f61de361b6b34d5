//! The one place bytes are made: bincode 2 (serde) with a leading format-version byte.
//! Everything stored on disk and sent between nodes goes through `encode`/`decode`.
//!
//! ## Format versions (docs/compatibility.md)
//!
//! A record is written in the *oldest* format that can express its value: a value of a
//! type introduced in format N calls [`require_format`]`(N)` while it serializes, and the
//! record's leading byte is the highest format any part of it required. So a binary that
//! knows format N writes format N-1 records for everything N-1 can express, and a node of
//! the previous release reads them (rolling upgrades: N and N+1 run together; nothing of
//! format N is proposed until every member reports it understands N).
//!
//! Reading accepts every format from [`OLDEST_FORMAT`] to [`FORMAT_VERSION`]. A type whose
//! layout changed between formats asks [`reading_format`] which one it is decoding and
//! migrates older layouts forward (`state::State`); every other type reads the same bytes
//! in every format (enums only grow at the end). A newer format than this build knows is
//! refused with [`CodecError::Version`], never misread.

use std::cell::Cell;

use serde::{de::DeserializeOwned, Serialize};

/// The newest format this build reads and writes.
///
/// 1. The first release (commands, events, state, Raft messages).
/// 2. Exactly-once requests (`Command::WithId`, the session table in `State`), the
///    cluster format version (`Command::SetClusterVersion`).
/// 3. Domain names beyond letters, digits, `-` and `_` (escapes, any octet, a `*` that is
///    not the leftmost label: `model::Fqdn::is_classic`); every layout is unchanged.
pub const FORMAT_VERSION: u8 = 3;

/// The oldest format this build still reads (and writes, for values it can express).
pub const OLDEST_FORMAT: u8 = 1;

thread_local! {
    /// While encoding: the highest format a part of the record required so far.
    static WRITING: Cell<u8> = const { Cell::new(OLDEST_FORMAT) };
    /// While decoding: the format of the record being read.
    static READING: Cell<u8> = const { Cell::new(FORMAT_VERSION) };
}

/// Called by a value while it serializes: the record needs at least format `version`.
pub fn require_format(version: u8) {
    WRITING.with(|w| w.set(w.get().max(version)));
}

/// While deserializing: the format of the record being read (types whose layout changed
/// use it to pick the old layout and migrate).
pub fn reading_format() -> u8 {
    READING.with(Cell::get)
}

/// The format `encode` would write for `value` (tests, upgrade checks).
pub fn format_of<T: Serialize>(value: &T) -> Result<u8, CodecError> {
    Ok(encode(value)?[0])
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty record")]
    Empty,
    #[error("unsupported format version {0} (this build reads versions {OLDEST_FORMAT} to {FORMAT_VERSION})")]
    Version(u8),
    #[error("encode: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("decode: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("{0} trailing bytes after the record")]
    Trailing(usize),
}

fn config() -> impl bincode::config::Config {
    // Fixed-width big-endian would sort, but we never compare encoded values; varint is smaller.
    // The limit keeps a hostile length prefix from allocating unbounded memory.
    bincode::config::standard().with_limit::<{ 1 << 30 }>()
}

/// Encodes `value` behind the oldest format byte that can express it.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let outer = WRITING.with(|w| w.replace(OLDEST_FORMAT));
    let mut out = vec![OLDEST_FORMAT];
    let result = bincode::serde::encode_into_std_write(value, &mut out, config());
    let format = WRITING.with(|w| w.replace(outer));
    result?;
    out[0] = format;
    // A record nested in another (encoded while the outer one serializes) raises it too.
    require_format_if_nested(outer, format);
    Ok(out)
}

fn require_format_if_nested(outer: u8, inner: u8) {
    WRITING.with(|w| w.set(outer.max(inner).max(w.get())));
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&version) {
        return Err(CodecError::Version(version));
    }
    let outer = READING.with(|r| r.replace(version));
    let result = bincode::serde::decode_from_slice(body, config());
    READING.with(|r| r.set(outer));
    let (value, used) = result?;
    if used != body.len() {
        return Err(CodecError::Trailing(body.len() - used));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let v = (1u64, "x".to_string(), vec![1u8, 2]);
        let bytes = encode(&v).unwrap();
        assert_eq!(decode::<(u64, String, Vec<u8>)>(&bytes).unwrap(), v);
        let mut wrong = bytes.clone();
        wrong[0] = 99;
        assert!(matches!(decode::<(u64, String, Vec<u8>)>(&wrong), Err(CodecError::Version(99))));
        wrong[0] = 0;
        assert!(matches!(decode::<(u64, String, Vec<u8>)>(&wrong), Err(CodecError::Version(0))));
        wrong[0] = FORMAT_VERSION + 1;
        assert!(matches!(decode::<(u64, String, Vec<u8>)>(&wrong), Err(CodecError::Version(_))));
        assert!(decode::<(u64, String, Vec<u8>)>(&[]).is_err());
        let mut long = bytes;
        long.push(0);
        assert!(matches!(decode::<(u64, String, Vec<u8>)>(&long), Err(CodecError::Trailing(1))));
    }

    /// A value of a newer format raises the record's byte; everything else stays at the
    /// oldest format, which the previous release reads.
    #[test]
    fn a_record_takes_the_oldest_format_that_expresses_it() {
        fn new_in_2<S: serde::Serializer>(v: &u8, s: S) -> Result<S::Ok, S::Error> {
            require_format(2);
            s.serialize_u8(*v)
        }
        #[derive(serde::Serialize)]
        struct Holder {
            old: u32,
            #[serde(serialize_with = "new_in_2")]
            new: u8,
        }
        assert_eq!(encode(&(1u32, 2u8)).unwrap()[0], OLDEST_FORMAT);
        let bytes = encode(&Holder { old: 1, new: 2 }).unwrap();
        assert_eq!(bytes[0], 2);
        assert_eq!(&bytes[1..], &encode(&(1u32, 2u8)).unwrap()[1..]);
        // The flag does not leak into the next record.
        assert_eq!(encode(&7u8).unwrap()[0], OLDEST_FORMAT);
        // Decoding tells the record's format to the types being read.
        #[derive(Debug, PartialEq)]
        struct Seen(u8);
        impl<'de> serde::Deserialize<'de> for Seen {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let _ = u8::deserialize(d)?;
                Ok(Seen(reading_format()))
            }
        }
        assert_eq!(decode::<Seen>(&[1, 9]).unwrap(), Seen(1));
        assert_eq!(decode::<Seen>(&[2, 9]).unwrap(), Seen(2));
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        // A version byte followed by a huge varint length for a Vec.
        let evil = [FORMAT_VERSION, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(decode::<Vec<u8>>(&evil).is_err());
    }
}
