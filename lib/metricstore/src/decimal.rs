//! The decimal chunk encoding, for blocks: when every value of a chunk is an integer divided
//! by a power of ten (counters, byte counts, seconds with a few decimals; most of what
//! exporters produce), the integers are stored as deltas of deltas, which for a steady
//! counter is one bit per sample, where XOR needs the changing mantissa bits. A chunk whose
//! values do not all convert exactly (NaN, -0.0, 0.1 + 0.2, ...) keeps the XOR encoding.
//!
//! Layout: the power of ten `k` (one byte), then which bucket widths the timestamps and the
//! integers use (one byte each, an index into [`WIDTHS`]); then a bit stream: the first
//! timestamp and first integer as zig-zag varints; the first deltas of both as zig-zag
//! varints; then per sample the timestamp's and the integer's delta-of-delta, each as one `0`
//! bit or a bucket prefix and that many bits. The widths are chosen per chunk, the ones that
//! make it smallest: regular scrapes want tiny buckets, jittery timestamps or noisy gauges
//! wider ones.

use crate::{
    bits::{BitReader, BitWriter},
    chunk::{read_bucketed, read_varint, unzigzag, write_bucketed, write_varint, zigzag},
};

/// The bucket widths a chunk may choose from, for its timestamps and for its integers.
const WIDTHS: [[u8; 3]; 8] =
    [[2, 6, 14], [4, 8, 16], [6, 11, 20], [8, 14, 24], [10, 17, 28], [14, 20, 32], [18, 28, 40], [24, 36, 52]];

/// (prefix bits, prefix length, value bits) of each bucket.
type Buckets = [(u64, u8, u8); 3];

fn buckets(widths: [u8; 3]) -> Buckets {
    [(0b10, 2, widths[0]), (0b110, 3, widths[1]), (0b1110, 4, widths[2])]
}

/// Bits `value` takes in `write_bucketed` with these widths.
fn bucketed_bits(value: i64, widths: [u8; 3]) -> usize {
    if value == 0 {
        return 1;
    }
    for (prefix_len, width) in [2, 3, 4].into_iter().zip(widths) {
        let limit = 1i64 << (width - 1);
        if (-limit + 1..=limit).contains(&value) {
            return prefix_len + width as usize;
        }
    }
    68
}

/// The index into [`WIDTHS`] that codes `values` in the fewest bits.
fn best_widths(values: &[i64]) -> usize {
    (0..WIDTHS.len()).min_by_key(|&i| values.iter().map(|v| bucketed_bits(*v, WIDTHS[i])).sum::<usize>()).unwrap_or(0)
}
/// The most decimal digits tried.
const MAX_DIGITS: u8 = 9;
/// Integers beyond this lose precision as floats.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// The samples encoded, or None when some value is not exactly an integer over 10^k.
pub fn encode(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    let digits = (0..=MAX_DIGITS).find(|k| samples.iter().all(|(_, v)| to_integer(*v, *k).is_some()))?;
    let ints: Vec<i64> = samples.iter().map(|(_, v)| to_integer(*v, digits).expect("checked above")).collect();
    let times: Vec<i64> = samples.iter().map(|(t, _)| *t).collect();
    let (time_widths, int_widths) = (best_widths(&deltas_of_deltas(&times)), best_widths(&deltas_of_deltas(&ints)));
    let (time_buckets, int_buckets) = (buckets(WIDTHS[time_widths]), buckets(WIDTHS[int_widths]));
    let mut bits = BitWriter::with_capacity(samples.len() / 4 + 16);
    bits.write_bits(u64::from(digits), 8);
    bits.write_bits(time_widths as u64, 8);
    bits.write_bits(int_widths as u64, 8);
    let (mut last_time, mut last_int, mut time_delta, mut int_delta) = (0i64, 0i64, 0i64, 0i64);
    for (i, (&time, int)) in times.iter().zip(ints).enumerate() {
        match i {
            0 => {
                write_varint(&mut bits, zigzag(time));
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
                write_bucketed(&mut bits, new_time_delta.wrapping_sub(time_delta), &time_buckets);
                write_bucketed(&mut bits, new_int_delta.wrapping_sub(int_delta), &int_buckets);
                (time_delta, int_delta) = (new_time_delta, new_int_delta);
            }
        }
        (last_time, last_int) = (time, int);
    }
    Some(bits.bytes().to_vec())
}

/// From the third value on, each one's delta minus the previous delta (what is bucketed).
fn deltas_of_deltas(values: &[i64]) -> Vec<i64> {
    values.windows(3).map(|w| w[2].wrapping_sub(w[1]).wrapping_sub(w[1].wrapping_sub(w[0]))).collect()
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
    /// The power of ten and the two bucket sets, None when the header is bad.
    header: Option<(u8, Buckets, Buckets)>,
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
        let mut header = || {
            let digits = bits.read_bits(8).map(|d| d as u8).filter(|d| *d <= MAX_DIGITS)?;
            let time = WIDTHS.get(bits.read_bits(8)? as usize)?;
            let int = WIDTHS.get(bits.read_bits(8)? as usize)?;
            Some((digits, buckets(*time), buckets(*int)))
        };
        let header = header();
        DecimalIter { bits, header, remaining: count, read: 0, time: 0, int: 0, time_delta: 0, int_delta: 0 }
    }

    fn next_sample(&mut self) -> Option<(i64, f64)> {
        let (digits, time_buckets, int_buckets) = self.header?;
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
                self.time_delta = self.time_delta.wrapping_add(read_bucketed(&mut self.bits, &time_buckets)?);
                self.int_delta = self.int_delta.wrapping_add(read_bucketed(&mut self.bits, &int_buckets)?);
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
        // Timestamps a few ms off the beat, values with noise: wider buckets, still small.
        let noisy: Vec<(i64, f64)> =
            (0..120).map(|i| (i * 15_000 + (i * 7919) % 13, (1_000_000 + i * 1_500 + (i * 31) % 90) as f64)).collect();
        let bytes = encode(&noisy).expect("integers");
        assert!(bytes.len() < 200, "{} bytes for 120 noisy samples", bytes.len());
        assert_eq!(round_trip(&noisy).unwrap(), noisy);
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
