//! Choosing a partition for a record the way Kafka's Java client does, so keyed records land
//! where the Java client (and librdkafka's `murmur2_random` partitioner) would put them.

/// Kafka's 32-bit murmur2 hash of `data` (seed `0x9747b28c`), bit for bit as
/// `org.apache.kafka.common.utils.Utils.murmur2`.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // The Java code mixes in the length as an int; lengths past i32::MAX cannot be records.
    #[allow(clippy::cast_possible_truncation)]
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % partitions`, as Kafka's
/// default partitioner computes it.
pub fn partition_for_key(key: &[u8], partitions: usize) -> i32 {
    let positive = murmur2(key) & 0x7fff_ffff;
    let count = i32::try_from(partitions.max(1)).unwrap_or(i32::MAX);
    positive % count
}

/// Hands out partitions in turn, for records without a key.
#[derive(Debug, Clone, Default)]
pub struct RoundRobin {
    /// The next turn.
    next: usize,
}

impl RoundRobin {
    /// The next partition out of `partitions`.
    pub fn next(&mut self, partitions: usize) -> i32 {
        let count = partitions.max(1);
        let chosen = self.next % count;
        self.next = self.next.wrapping_add(1);
        i32::try_from(chosen).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hash values from Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_the_java_client() {
        let cases: &[(&str, i32)] = &[
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for &(input, expected) in cases {
            assert_eq!(murmur2(input.as_bytes()), expected, "murmur2({input:?})");
        }
    }

    #[test]
    fn key_partition_is_positive_hash_modulo_count() {
        // murmur2("foobar") = -790332482; & 0x7fffffff = 1357151166; % 7 = 1357151166 % 7.
        let expected = (-790_332_482_i32 & 0x7fff_ffff) % 7;
        assert_eq!(partition_for_key(b"foobar", 7), expected);
        assert!((0..7).contains(&expected));
    }

    #[test]
    fn round_robin_cycles_through_all_partitions() {
        let mut rr = RoundRobin::default();
        let turns: Vec<i32> = (0..7).map(|_| rr.next(3)).collect();
        assert_eq!(turns, vec![0, 1, 2, 0, 1, 2, 0]);
    }
}
