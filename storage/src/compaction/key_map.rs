//! The key map of a compaction pass: a fixed-size digest of each key -> offset of its latest
//! record, holding at most a configured number of keys (Kafka's dedupe buffer).
//!
//! Memory is bounded by the capacity, not by the keys' sizes or count: each entry is a 16-byte
//! digest and an 8-byte offset (about 32 bytes with the table's overhead). A pass that meets
//! more keys than fit stops there; the map then covers the offsets below [`KeyMap::end`], and
//! the next pass maps the rest.
//!
//! Why a digest is safe: two distinct keys with the same digest would make compaction drop the
//! older one's latest record. The digest is two 64-bit SipHash values under random keys drawn
//! for each map, so the chance that any two of `n` keys collide is about `n² / 2^129` (below
//! 10^-20 for a billion keys), and a producer cannot craft colliding keys because it never
//! learns the hash keys. (Kafka uses an unkeyed MD5 the same way.)

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// A key's digest.
type Digest = [u8; 16];

/// Hashes a digest by folding its bytes: they are already uniformly random, so a second
/// SipHash over them would only cost time.
#[derive(Debug, Default)]
struct FirstWord(u64);

impl Hasher for FirstWord {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A digest hashes as a constant length prefix, then its 16 bytes: folding every word
        // in keeps the digest's randomness.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }
}

/// Latest offset per key digest, up to a capacity.
#[derive(Debug)]
pub(super) struct KeyMap {
    entries: HashMap<Digest, i64, BuildHasherDefault<FirstWord>>,
    capacity: usize,
    hash_keys: [RandomState; 2],
    /// Every record below this offset (and at or past where the pass started) was mapped.
    end: i64,
}

impl KeyMap {
    /// An empty map for at most `capacity` keys (at least one).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::default(),
            capacity: capacity.max(1),
            hash_keys: [RandomState::new(), RandomState::new()],
            end: i64::MAX,
        }
    }

    fn digest(&self, key: &[u8]) -> Digest {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&self.hash_keys[0].hash_one(key).to_le_bytes());
        d[8..].copy_from_slice(&self.hash_keys[1].hash_one(key).to_le_bytes());
        d
    }

    /// Records `offset` as the latest of `key`. Returns `false`, changing nothing, when the key
    /// is new and the map is full.
    pub(super) fn insert(&mut self, key: &[u8], offset: i64) -> bool {
        let d = self.digest(key);
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&d) {
            return false;
        }
        self.entries.insert(d, offset);
        true
    }

    /// The latest offset mapped for `key`.
    pub(super) fn latest(&self, key: &[u8]) -> Option<i64> {
        self.entries.get(&self.digest(key)).copied()
    }

    /// Offsets below this were mapped; `i64::MAX` when the pass saw every record.
    pub(super) fn end(&self) -> i64 {
        self.end
    }

    /// The map filled up at `offset`: that record and every later one were not mapped.
    pub(super) fn full_at(&mut self, offset: i64) {
        self.end = offset;
    }

    /// Number of keys mapped.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_new_keys_when_full_but_updates_known_ones() {
        let mut m = KeyMap::new(2);
        assert!(m.insert(b"a", 1));
        assert!(m.insert(b"b", 2));
        assert!(!m.insert(b"c", 3));
        assert!(m.insert(b"a", 4));
        assert_eq!(
            (m.latest(b"a"), m.latest(b"b"), m.latest(b"c")),
            (Some(4), Some(2), None)
        );
        assert_eq!(m.len(), 2);
    }
}
