//! The embedded chain's journal: one framed, checksummed record per mined transaction,
//! appended and fsync'd before the transaction is reported mined, next to a snapshot
//! (`state.json`) that it continues.
//!
//! ```text
//! file   = header record*
//! header = "AKCHJNL1" ‖ base block (u64 LE) ‖ SHA-256(first 16 bytes)[..8]
//! record = length (u32 LE) ‖ SHA-256(length)[..4] ‖ payload ‖ SHA-256(length ‖ payload)[..8]
//! ```
//!
//! The base block is the snapshot block the journal was started after. The length carries
//! its own check so that a damaged length is told apart from a record cut short.
//!
//! Reading tells a torn tail (what a crash in the middle of an append leaves: a record cut
//! short, a last record whose bytes did not all reach the disk, or zeros) from damage: a
//! record that fails its checks with more records after it, or a bad header.

use crate::keys;
use agentkeys_core::ErrorCode;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"AKCHJNL1";
const HEADER_LEN: usize = 24;
const HEAD_LEN: usize = 8;
const TAIL_LEN: usize = 8;
/// Far above any transaction's changes (a creation carries its bytecode, under 50 KiB here);
/// a larger length is damage.
const MAX_PAYLOAD: u32 = 16 << 20;

/// An open journal, appended to under the chain's lock.
pub struct Writer {
    file: File,
    path: PathBuf,
    len: u64,
    records: u64,
}

impl Writer {
    /// Starts an empty journal continuing the snapshot of block `base`, replacing any journal
    /// at `path` atomically (temp file, fsync, rename, fsync of the directory).
    ///
    /// An error means the journal at `path` was not replaced. Once the rename is done the new
    /// journal is returned even if the directory's fsync fails (logged): the file at `path` is
    /// then the new one, and appending to the old one would append to a file no longer there.
    pub fn create(path: &Path, base: u64) -> Result<Writer, String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        keys::private_dir(dir).map_err(|e| e.to_string())?;
        let tmp = dir.join(format!(".journal.tmp-{}", std::process::id()));
        let shown = |e: std::io::Error| format!("{}: {e}", tmp.display());
        // Left over from a crash of an earlier process with this id, if anything.
        let _ = std::fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(shown)?;
        file.write_all(&header(base))
            .and_then(|()| file.sync_all())
            .map_err(shown)?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            tracing::error!(error = %e, dir = %dir.display(), "embedded chain: fsync of the directory after starting a journal failed");
        }
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            len: HEADER_LEN as u64,
            records: 0,
        })
    }

    /// Opens the journal at `path` for appending, `len` bytes and `records` records long.
    fn open(path: &Path, len: u64, records: u64) -> Result<Writer, String> {
        let file = OpenOptions::new()
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            len,
            records,
        })
    }

    /// Appends one record and waits until it is on disk. On an error the journal is cut
    /// back to where it was, so a failed append leaves no partial record to be read back.
    pub fn append(&mut self, payload: &[u8]) -> Result<(), String> {
        let frame = frame(payload)?;
        let written = self
            .file
            .write_all(&frame)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            if let Err(cut) = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_data())
            {
                tracing::error!(error = %cut, "embedded chain: cutting back a failed journal append failed");
            }
            return Err(format!("{}: {e}", self.path.display()));
        }
        self.len += frame.len() as u64;
        self.records += 1;
        Ok(())
    }

    /// Bytes in the journal, header included.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn records(&self) -> u64 {
        self.records
    }
}

/// What a journal holds.
pub struct Scan {
    /// The snapshot block the journal continues.
    pub base: u64,
    /// Every complete record's payload, in order.
    pub records: Vec<Vec<u8>>,
    /// Bytes after the last complete record, left by a crash in the middle of an append.
    pub torn: Option<Torn>,
}

pub struct Torn {
    pub offset: usize,
    pub bytes: usize,
}

/// Reads the journal at `path`; `None` when there is none.
pub fn read(path: &Path) -> Result<Option<Scan>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    parse(&bytes)
        .map(Some)
        .map_err(|detail| corrupt(path, &detail))
}

/// The stable refusal for a damaged journal: the relay does not start on it.
pub fn corrupt(path: &Path, detail: &str) -> String {
    format!(
        "{}: {}: {detail}; the relay will not start on a damaged chain state (restore the \
         data directory from a backup)",
        ErrorCode::ChainStateCorrupt,
        path.display()
    )
}

fn parse(bytes: &[u8]) -> Result<Scan, String> {
    let header_bytes = bytes
        .get(..HEADER_LEN)
        .ok_or("shorter than a journal header")?;
    if &header_bytes[..8] != MAGIC {
        return Err("not an embedded chain journal".into());
    }
    let mut base = [0u8; 8];
    base.copy_from_slice(&header_bytes[8..16]);
    let base = u64::from_le_bytes(base);
    if header_bytes != header(base) {
        return Err("the journal header fails its checksum".into());
    }
    let mut records = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let torn = Some(Torn {
            offset: pos,
            bytes: rest.len(),
        });
        let Some(head) = rest.get(..HEAD_LEN) else {
            return Ok(Scan {
                base,
                records,
                torn,
            });
        };
        let mut len = [0u8; 4];
        len.copy_from_slice(&head[..4]);
        if head[4..] != sha256(&[&len])[..4] || u32::from_le_bytes(len) > MAX_PAYLOAD {
            // Zeros are what a crash leaves when the file grew but its data never landed.
            if rest.iter().all(|&b| b == 0) {
                return Ok(Scan {
                    base,
                    records,
                    torn,
                });
            }
            return Err(format!(
                "record {} at byte {pos} has a damaged length",
                records.len() + 1
            ));
        }
        let payload_len = u32::from_le_bytes(len) as usize;
        let end = HEAD_LEN + payload_len + TAIL_LEN;
        let Some(record) = rest.get(..end) else {
            return Ok(Scan {
                base,
                records,
                torn,
            });
        };
        let payload = &record[HEAD_LEN..HEAD_LEN + payload_len];
        if record[HEAD_LEN + payload_len..] != sha256(&[&len, payload])[..TAIL_LEN] {
            // The last record may be one whose bytes did not all reach the disk; anything
            // earlier was complete when the next record was appended after it.
            if end == rest.len() {
                return Ok(Scan {
                    base,
                    records,
                    torn,
                });
            }
            return Err(format!(
                "record {} at byte {pos} fails its checksum",
                records.len() + 1
            ));
        }
        records.push(payload.to_vec());
        pos += end;
    }
    Ok(Scan {
        base,
        records,
        torn: None,
    })
}

fn header(base: u64) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[..8].copy_from_slice(MAGIC);
    out[8..16].copy_from_slice(&base.to_le_bytes());
    let check = sha256(&[&out[..16]]);
    out[16..].copy_from_slice(&check[..8]);
    out
}

fn frame(payload: &[u8]) -> Result<Vec<u8>, String> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n <= MAX_PAYLOAD)
        .ok_or_else(|| format!("a journal record of {} bytes is too large", payload.len()))?;
    let len = len.to_le_bytes();
    let mut out = Vec::with_capacity(HEAD_LEN + payload.len() + TAIL_LEN);
    out.extend_from_slice(&len);
    out.extend_from_slice(&sha256(&[&len])[..4]);
    out.extend_from_slice(payload);
    out.extend_from_slice(&sha256(&[&len, payload])[..TAIL_LEN]);
    Ok(out)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Opens an existing journal for appending after `scan` found it whole.
pub fn reopen(path: &Path, scan: &Scan) -> Result<Writer, String> {
    let len = HEADER_LEN as u64
        + scan
            .records
            .iter()
            .map(|r| (HEAD_LEN + r.len() + TAIL_LEN) as u64)
            .sum::<u64>();
    Writer::open(path, len, scan.records.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(records: &[&[u8]]) -> Vec<u8> {
        let mut out = header(7).to_vec();
        for r in records {
            out.extend(frame(r).unwrap());
        }
        out
    }

    #[test]
    fn appended_records_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut w = Writer::create(&path, 7).unwrap();
        w.append(b"one").unwrap();
        w.append(b"").unwrap();
        w.append(b"three").unwrap();
        assert_eq!(w.records(), 3);
        assert_eq!(w.len(), std::fs::metadata(&path).unwrap().len());
        let scan = read(&path).unwrap().unwrap();
        assert_eq!(scan.base, 7);
        assert_eq!(scan.records, [&b"one"[..], b"", b"three"]);
        assert!(scan.torn.is_none());
        let again = reopen(&path, &scan).unwrap();
        assert_eq!((again.len(), again.records()), (w.len(), 3));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(read(&dir.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn a_torn_tail_is_dropped_and_the_records_before_it_kept() {
        let whole = journal(&[b"first", b"second"]);
        let second = HEADER_LEN + frame(b"first").unwrap().len();
        // Cut anywhere inside the last record: in its length, its payload, its checksum.
        for cut in second + 1..whole.len() {
            let scan = parse(&whole[..cut]).unwrap();
            assert_eq!(scan.records, [b"first"], "cut at {cut}");
            let torn = scan.torn.unwrap();
            assert_eq!((torn.offset, torn.bytes), (second, cut - second));
        }
        // The last record whole but its bytes not (here: its payload zeroed).
        let mut unwritten = whole.clone();
        let n = unwritten.len();
        unwritten[n - TAIL_LEN - 6..n - TAIL_LEN].fill(0);
        assert_eq!(parse(&unwritten).unwrap().records, [b"first"]);
        // The file grown by zeros that never held a record.
        let mut zeros = whole.clone();
        zeros.extend([0u8; 100]);
        let scan = parse(&zeros).unwrap();
        assert_eq!(scan.records.len(), 2);
        assert_eq!(scan.torn.unwrap().bytes, 100);
    }

    #[test]
    fn damage_before_the_last_record_is_refused() {
        let whole = journal(&[b"first", b"second", b"third"]);
        let payload = HEADER_LEN + HEAD_LEN;
        let mut flipped = whole.clone();
        flipped[payload + 1] ^= 1;
        assert_eq!(
            parse(&flipped).err().unwrap(),
            "record 1 at byte 24 fails its checksum"
        );
        let mut length = whole.clone();
        length[HEADER_LEN] ^= 1;
        assert_eq!(
            parse(&length).err().unwrap(),
            "record 1 at byte 24 has a damaged length"
        );
        let mut huge = whole.clone();
        let len = (MAX_PAYLOAD + 1).to_le_bytes();
        huge[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&len);
        huge[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&sha256(&[&len])[..4]);
        assert!(parse(&huge).err().unwrap().contains("damaged length"));
        let mut header_bad = whole.clone();
        header_bad[9] ^= 1;
        assert!(parse(&header_bad).err().unwrap().contains("header"));
        assert!(parse(b"{\"format\":").err().unwrap().contains("shorter"));
        assert!(parse(&[b'x'; 40])
            .err()
            .unwrap()
            .contains("not an embedded"));
        let path = Path::new("chain/journal");
        let message = corrupt(path, "record 1 at byte 24 fails its checksum");
        assert!(message.starts_with("chain_state_corrupt: chain/journal: record 1"));
    }
}
