//! On-disk format of one object: metadata and bytes in a single file, so that one `rename`
//! commits both together.
//!
//! ```text
//! "AKS3OBJ1"            8 bytes magic (format version in the last byte)
//! header length         u32 big-endian
//! header                JSON `ObjectMeta`
//! body                  `size` bytes
//! ```

use std::collections::BTreeMap;
use std::io::{self, Read};

use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 8] = b"AKS3OBJ1";
const PREFIX_LEN: u64 = 12;
/// Refuses absurd header lengths from a damaged file before allocating for them.
const MAX_HEADER_LEN: u32 = 1024 * 1024;

/// Checksums supplied with the upload and verified against the bytes; kept so GET can echo
/// them (`x-amz-checksum-mode: ENABLED`). Base64, as S3 sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChecksums {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Standard headers stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
}

/// Everything known about a stored object except its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The full key; needed for hashed file names and as a guard against misplaced files.
    pub key: String,
    pub size: u64,
    /// Lower-case hex MD5 of the body; the ETag is this value in quotes.
    pub md5_hex: String,
    /// Milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    #[serde(default)]
    pub headers: ContentHeaders,
    #[serde(default)]
    pub user_metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub checksums: StoredChecksums,
}

impl ObjectMeta {
    /// The S3 ETag value (without quotes; s3s adds them).
    pub fn etag(&self) -> &str {
        &self.md5_hex
    }
}

/// The bytes that precede the body in an object file.
pub fn encode_prefix(meta: &ObjectMeta) -> io::Result<Vec<u8>> {
    let header = serde_json::to_vec(meta)?;
    let len = u32::try_from(header.len())
        .ok()
        .filter(|&n| n <= MAX_HEADER_LEN)
        .ok_or_else(|| corrupt("object metadata too large"))?;
    let mut out = Vec::with_capacity(header.len() + 12);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&header);
    Ok(out)
}

/// Reads the header of an object file positioned at its start; returns the metadata and
/// the offset of the body. `file_len` is checked so a truncated file is never served.
pub fn read_header(reader: &mut impl Read, file_len: u64) -> io::Result<(ObjectMeta, u64)> {
    let mut prefix = [0u8; 12];
    reader.read_exact(&mut prefix)?;
    if &prefix[..8] != MAGIC {
        return Err(corrupt("not an object file"));
    }
    let len = u32::from_be_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
    if len > MAX_HEADER_LEN {
        return Err(corrupt("object header too large"));
    }
    let mut header = vec![0u8; len as usize];
    reader.read_exact(&mut header)?;
    let meta: ObjectMeta = serde_json::from_slice(&header)?;
    let body_offset = PREFIX_LEN + u64::from(len);
    if body_offset.checked_add(meta.size) != Some(file_len) {
        return Err(corrupt("object file length does not match its header"));
    }
    Ok((meta, body_offset))
}

fn corrupt(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64) -> ObjectMeta {
        ObjectMeta {
            key: "a/b".into(),
            size,
            md5_hex: "00".into(),
            last_modified_ms: 1,
            headers: ContentHeaders::default(),
            user_metadata: BTreeMap::from([("k".into(), "v".into())]),
            checksums: StoredChecksums::default(),
        }
    }

    #[test]
    fn header_round_trips_and_length_is_checked() {
        let m = meta(3);
        let mut file = encode_prefix(&m).unwrap();
        file.extend_from_slice(b"xyz");
        let (back, off) = read_header(&mut file.as_slice(), file.len() as u64).unwrap();
        assert_eq!(back, m);
        assert_eq!(&file[off as usize..], b"xyz");
        let truncated = &file[..file.len() - 1];
        assert!(read_header(&mut &truncated[..], truncated.len() as u64).is_err());
    }
}
