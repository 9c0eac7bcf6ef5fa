//! The demo's own pseudo-random numbers: SplitMix64 and a few sampling helpers.
//!
//! The generator must produce the same events for the same seed on every machine and for every
//! version of every dependency, so it cannot use the `rand` crate (whose streams change between
//! releases) nor `f64::ln`/`exp` (whose last bits depend on the platform's libm). Everything here
//! is integer arithmetic plus IEEE-exact `f64` comparisons.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and good enough for synthetic data.
pub(crate) struct Rng(u64);

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    #[cfg(test)]
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// An independent stream for one part of the simulation (a user, the duplicates pass, ...).
    /// Keying streams by index keeps user 17's events the same when the number of users changes.
    pub(crate) fn stream(seed: u64, purpose: u64, index: u64) -> Self {
        Rng(mix(
            seed ^ mix(purpose.wrapping_mul(GOLDEN_GAMMA) ^ mix(index))
        ))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..n` (multiply-shift; the bias for the small `n` used here is negligible).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Number of successes before the first failure: mean `p / (1 - p)`, a long thin tail.
    pub(crate) fn geometric(&mut self, p: f64, cap: u32) -> u32 {
        let mut n = 0;
        while n < cap && self.chance(p) {
            n += 1;
        }
        n
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks from `(item, weight)` pairs with probability proportional to weight.
    pub(crate) fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut ticket = self.below(total);
        for (item, weight) in items {
            if ticket < u64::from(*weight) {
                return item;
            }
            ticket -= u64::from(*weight);
        }
        unreachable!("ticket below the total weight")
    }

    /// A random (version 4) UUID in the canonical lower-case form Snowplow trackers send.
    pub(crate) fn uuid(&mut self) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0x0fff,
            0x8000 | ((lo >> 48) & 0x3fff),
            lo & 0xffff_ffff_ffff
        )
    }

    /// An alphanumeric identifier such as an order id.
    pub(crate) fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        (0..len).map(|_| char::from(*self.pick(ALPHABET))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_fixed_for_a_seed() {
        // Pinned values: if these change, every demo dataset changes with them.
        let mut rng = Rng::new(42);
        assert_eq!(rng.next_u64(), 0xbdd7_3226_2feb_6e95);
        assert_eq!(rng.next_u64(), 0x28ef_e333_b266_f103);
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut rng = Rng::stream(7, 1, 2);
        for _ in 0..10_000 {
            assert!(rng.below(3) < 3);
            assert!((-2..=2).contains(&rng.between(-2, 2)));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(rng.geometric(0.9, 5) <= 5);
        }
        let id = rng.uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
