//! Streaming masker: replaces secret values in a byte stream that arrives in
//! arbitrary chunks.
//!
//! Matching is leftmost-longest: at each position the longest secret that
//! matches wins, so when one secret is a prefix or substring of another the
//! whole longer value disappears instead of leaving its tail visible.
//!
//! The streamed output is byte-for-byte identical to masking the whole text at
//! once. To get there the masker holds back a tail only while it could still
//! be the start of a secret (or of a longer one than the one already
//! matching), which is at most `longest secret - 1` bytes; everything before
//! it is released immediately so interactive output is not delayed.
//!
//! Each value is also masked in its common encodings (JSON, Python `repr`, percent-encoding;
//! see [`forms`]), each just another pattern to the matcher, so they are caught across chunk
//! boundaries like the raw value.

use zeroize::{Zeroize, Zeroizing};

mod forms;

/// What replaces each secret occurrence. Fixed width so the output does not
/// reveal the secret's length.
pub const MASK: &[u8] = b"********";

/// Values shorter than this are injected into the environment but not masked:
/// replacing every "a", "1" or "on" in the output would make it unreadable,
/// and such values are too short to be meaningful secrets anyway.
pub const MIN_MASKED_LEN: usize = 4;

pub struct Masker {
    /// Distinct maskable secrets, longest first.
    secrets: Vec<Zeroizing<Vec<u8>>>,
    /// Cheap pre-filter: only positions starting with one of these bytes can
    /// begin a match.
    first_bytes: [bool; 256],
    longest: usize,
    /// Bytes received but not yet released: a possible start of a secret.
    held: Zeroizing<Vec<u8>>,
}

enum AtPosition {
    /// A secret of this length starts here and no longer one still could.
    Match(usize),
    /// The remaining bytes are a proper prefix of a secret: wait for more.
    Undecided,
    NoMatch,
}

impl Masker {
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut masker = Masker {
            secrets: Vec::new(),
            first_bytes: [false; 256],
            longest: 0,
            held: Zeroizing::new(Vec::new()),
        };
        masker.add(secrets);
        masker
    }

    /// Masks these values (and their encoded forms) from now on, including in bytes already
    /// held back. Bytes already released stay as they were, so add a value before the child
    /// can have seen it.
    pub fn add<I, S>(&mut self, secrets: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        for s in secrets {
            let s = s.as_ref();
            // The length threshold applies to the value, not to its (longer) encodings.
            if s.len() >= MIN_MASKED_LEN {
                self.secrets.extend(forms::forms(s));
            }
        }
        self.secrets
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.secrets.dedup();
        for s in &self.secrets {
            self.first_bytes[usize::from(s[0])] = true;
        }
        self.longest = self.secrets.first().map_or(0, |s| s.len());
    }

    /// False when no value was long enough to mask; output passes through.
    pub fn is_active(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// Number of bytes currently held back; never more than `longest - 1`.
    #[cfg(test)]
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Masks `chunk` (continuing the stream) and appends what can be released
    /// now to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.held.is_empty() && !self.is_active() {
            out.extend_from_slice(chunk);
            return;
        }
        reserve_zeroizing(&mut self.held, chunk.len());
        self.held.extend_from_slice(chunk);
        self.drain(false, out);
    }

    /// Ends the stream: the held tail can no longer grow into a secret, so
    /// mask what is complete and release the rest.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.drain(true, out);
    }

    fn drain(&mut self, at_end: bool, out: &mut Vec<u8>) {
        let buf = &self.held[..];
        let mut pos = 0;
        let mut released = 0;
        while pos < buf.len() {
            if !self.first_bytes[usize::from(buf[pos])] {
                pos += 1;
                continue;
            }
            match self.classify(&buf[pos..], at_end) {
                AtPosition::Match(len) => {
                    out.extend_from_slice(&buf[released..pos]);
                    out.extend_from_slice(MASK);
                    pos += len;
                    released = pos;
                }
                AtPosition::Undecided => break,
                AtPosition::NoMatch => pos += 1,
            }
        }
        out.extend_from_slice(&buf[released..pos]);
        let keep = buf.len() - pos;
        self.held.copy_within(pos.., 0);
        // Wipe the stale copy past the new end; it may hold secret bytes.
        self.held[keep..].zeroize();
        self.held.truncate(keep);
        debug_assert!(self.held.len() < self.longest.max(1));
    }

    fn classify(&self, rest: &[u8], at_end: bool) -> AtPosition {
        let mut undecided = false;
        for secret in &self.secrets {
            if rest.len() >= secret.len() {
                // Longest first, so the first complete match is the longest
                // one, unless a longer secret was still undecided.
                if rest.starts_with(secret) {
                    return if undecided {
                        AtPosition::Undecided
                    } else {
                        AtPosition::Match(secret.len())
                    };
                }
            } else if !at_end && secret.starts_with(rest) {
                undecided = true;
            }
        }
        if undecided {
            AtPosition::Undecided
        } else {
            AtPosition::NoMatch
        }
    }
}

/// Grows `buf` by moving it to a new allocation rather than letting `Vec`
/// reallocate, because a plain reallocation frees the old buffer without
/// wiping it. The old allocation is zeroized when the old `Zeroizing` drops.
fn reserve_zeroizing(buf: &mut Zeroizing<Vec<u8>>, additional: usize) {
    if buf.capacity() - buf.len() >= additional {
        return;
    }
    let wanted = (buf.len() + additional).max(buf.capacity() * 2);
    let mut bigger = Zeroizing::new(Vec::with_capacity(wanted));
    bigger.extend_from_slice(buf);
    *buf = bigger;
}

/// Masks a complete text in one go; the reference the streaming path must
/// agree with.
#[cfg(test)]
pub fn mask_all<I, S>(secrets: I, text: &[u8]) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut masker = Masker::new(secrets);
    let mut out = Vec::with_capacity(text.len());
    masker.feed(text, &mut out);
    masker.finish(&mut out);
    out
}

#[cfg(test)]
mod tests;
