//! The one place bytes are made: bincode 2 (serde) with a leading format-version byte.
//! Everything stored on disk and sent between nodes goes through `encode`/`decode`.

use serde::{de::DeserializeOwned, Serialize};

/// Bump when a stored or wire type changes incompatibly; `decode` refuses other versions
/// instead of misreading them.
pub const FORMAT_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty record")]
    Empty,
    #[error("unsupported format version {0} (this build reads version {FORMAT_VERSION})")]
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

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![FORMAT_VERSION];
    bincode::serde::encode_into_std_write(value, &mut out, config())?;
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != FORMAT_VERSION {
        return Err(CodecError::Version(version));
    }
    let (value, used) = bincode::serde::decode_from_slice(body, config())?;
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
        assert!(decode::<(u64, String, Vec<u8>)>(&[]).is_err());
        let mut long = bytes;
        long.push(0);
        assert!(matches!(decode::<(u64, String, Vec<u8>)>(&long), Err(CodecError::Trailing(1))));
    }

    #[test]
    fn hostile_lengths_do_not_allocate() {
        // A version byte followed by a huge varint length for a Vec.
        let evil = [FORMAT_VERSION, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert!(decode::<Vec<u8>>(&evil).is_err());
    }
}
