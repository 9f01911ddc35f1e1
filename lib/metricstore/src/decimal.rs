//! The decimal chunk encoding, for blocks: when every value of a chunk is an integer divided
//! by a power of ten (counters, byte counts, seconds with a few decimals; most of what
//! exporters produce), the integers are stored as deltas of deltas, which for a steady
//! counter is one bit per sample, where XOR needs the changing mantissa bits. A chunk whose
//! values do not all convert exactly (NaN, -0.0, 0.1 + 0.2, ...) keeps the XOR encoding.
//!
//! Layout: the power of ten `k` (one byte); then a bit stream: the first timestamp and first
//! integer as zig-zag varints; the first deltas of both as zig-zag varints; then per sample
//! the timestamp's delta-of-delta (Gorilla's buckets) and the integer's delta-of-delta
//! (buckets of 7, 14 and 24 bits, or all 64).

use crate::{
    bits::{BitReader, BitWriter},
    chunk::{
        read_bucketed, read_delta_of_delta, read_varint, unzigzag, write_bucketed, write_delta_of_delta, write_varint,
        zigzag,
    },
};

/// Delta-of-delta buckets for the integers: (prefix bits, prefix length, value bits).
const INT_BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 7), (0b110, 3, 14), (0b1110, 4, 24)];
/// The most decimal digits tried.
const MAX_DIGITS: u8 = 9;
/// Integers beyond this lose precision as floats.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// The samples encoded, or None when some value is not exactly an integer over 10^k.
pub fn encode(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    let digits = (0..=MAX_DIGITS).find(|k| samples.iter().all(|(_, v)| to_integer(*v, *k).is_some()))?;
    let mut bits = BitWriter::with_capacity(samples.len() / 4 + 16);
    bits.write_bits(u64::from(digits), 8);
    let (mut last_time, mut last_int, mut time_delta, mut int_delta) = (0i64, 0i64, 0i64, 0i64);
    for (i, (time, value)) in samples.iter().enumerate() {
        let int = to_integer(*value, digits).expect("checked above");
        match i {
            0 => {
                write_varint(&mut bits, zigzag(*time));
                write_varint(&mut bits, zigzag(int));
            }
            1 => {
                time_delta = time - last_time;
                int_delta = int.wrapping_sub(last_int);
                write_varint(&mut bits, zigzag(time_delta));
                write_varint(&mut bits, zigzag(int_delta));
            }
            _ => {
                let new_time_delta = time - last_time;
                let new_int_delta = int.wrapping_sub(last_int);
                write_delta_of_delta(&mut bits, new_time_delta.wrapping_sub(time_delta));
                write_bucketed(&mut bits, new_int_delta.wrapping_sub(int_delta), &INT_BUCKETS);
                (time_delta, int_delta) = (new_time_delta, new_int_delta);
            }
        }
        (last_time, last_int) = (*time, int);
    }
    Some(bits.bytes().to_vec())
}

/// `value` × 10^digits when that is an integer that converts back to exactly `value`.
fn to_integer(value: f64, digits: u8) -> Option<i64> {
    let scaled = (value * POWERS[digits as usize]).round();
    if !scaled.is_finite() || scaled.abs() >= MAX_EXACT {
        return None;
    }
    let int = scaled as i64;
    (from_integer(int, digits).to_bits() == value.to_bits()).then_some(int)
}

fn from_integer(int: i64, digits: u8) -> f64 {
    // Division by an exact power of ten rounds correctly, so it inverts the check above.
    int as f64 / POWERS[digits as usize]
}

const POWERS: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Decodes a decimal chunk; stops early (without panicking) on truncated or bad bytes.
pub struct DecimalIter<'a> {
    bits: BitReader<'a>,
    digits: Option<u8>,
    remaining: u16,
    read: u16,
    time: i64,
    int: i64,
    time_delta: i64,
    int_delta: i64,
}

impl<'a> DecimalIter<'a> {
    pub fn new(bytes: &'a [u8], count: u16) -> DecimalIter<'a> {
        let mut bits = BitReader::new(bytes);
        let digits = bits.read_bits(8).map(|d| d as u8).filter(|d| *d <= MAX_DIGITS);
        DecimalIter { bits, digits, remaining: count, read: 0, time: 0, int: 0, time_delta: 0, int_delta: 0 }
    }

    fn next_sample(&mut self) -> Option<(i64, f64)> {
        let digits = self.digits?;
        match self.read {
            0 => {
                self.time = unzigzag(read_varint(&mut self.bits)?);
                self.int = unzigzag(read_varint(&mut self.bits)?);
            }
            1 => {
                self.time_delta = unzigzag(read_varint(&mut self.bits)?);
                self.int_delta = unzigzag(read_varint(&mut self.bits)?);
                self.time = self.time.wrapping_add(self.time_delta);
                self.int = self.int.wrapping_add(self.int_delta);
            }
            _ => {
                self.time_delta = self.time_delta.wrapping_add(read_delta_of_delta(&mut self.bits)?);
                self.int_delta = self.int_delta.wrapping_add(read_bucketed(&mut self.bits, &INT_BUCKETS)?);
                self.time = self.time.wrapping_add(self.time_delta);
                self.int = self.int.wrapping_add(self.int_delta);
            }
        }
        self.read += 1;
        Some((self.time, from_integer(self.int, digits)))
    }
}

impl Iterator for DecimalIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let sample = self.next_sample();
        if sample.is_none() {
            self.remaining = 0;
        }
        sample
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn round_trip(samples: &[(i64, f64)]) -> Option<Vec<(i64, f64)>> {
        let bytes = encode(samples)?;
        Some(DecimalIter::new(&bytes, samples.len() as u16).collect())
    }

    #[test]
    fn counters_cost_about_a_bit_per_value_and_odd_values_are_refused() {
        // A counter of CPU seconds with two decimals, growing by 0.15 every 15 s.
        let samples: Vec<(i64, f64)> =
            (0..120).map(|i| (i * 15_000, (123_456.78 + 0.15 * i as f64 * 100.0).round() / 100.0)).collect();
        let bytes = encode(&samples).expect("two decimals");
        assert_eq!(bytes[0], 2, "two decimal digits");
        assert!(bytes.len() < 50, "{} bytes for 120 samples", bytes.len());
        assert_eq!(round_trip(&samples).unwrap(), samples);
        assert!(encode(&[(0, f64::NAN)]).is_none());
        assert!(encode(&[(0, -0.0)]).is_none(), "-0.0 is not 0 bit for bit");
        assert!(encode(&[(0, 0.1 + 0.2)]).is_none(), "no short decimal gives this float back");
        assert!(DecimalIter::new(&bytes[..10], 120).count() < 120, "truncated bytes end early");
    }

    proptest! {
        #[test]
        fn decimal_values_round_trip_bit_for_bit(
            start in -1_000_000_000_000i64..1_000_000_000_000,
            steps in prop::collection::vec((1i64..100_000, -1_000_000_000i64..1_000_000_000), 1..200),
            digits in 0u8..=6,
        ) {
            let mut time = start;
            let samples: Vec<(i64, f64)> = steps
                .iter()
                .map(|(dt, int)| {
                    time += dt;
                    (time, from_integer(*int, digits))
                })
                .collect();
            let decoded = round_trip(&samples).expect("made of decimals");
            prop_assert_eq!(decoded.len(), samples.len());
            for (a, b) in decoded.iter().zip(&samples) {
                prop_assert_eq!(a.0, b.0);
                prop_assert_eq!(a.1.to_bits(), b.1.to_bits());
            }
        }
    }
}
