//! A chunk of one series' samples, compressed as in Facebook's Gorilla paper (and Prometheus's
//! XOR chunks): timestamps as deltas of deltas in variable-width buckets, values XORed with the
//! previous value and stored as the meaningful bits only.
//!
//! Layout: the first timestamp as a zig-zag varint and the first value's 64 bits; then the
//! first delta as a zig-zag varint; then, per sample, a bucketed delta-of-delta and the XOR
//! encoding of its value. The sample count is kept beside the bytes (in [`Chunk`]).

use crate::bits::{BitReader, BitWriter};

/// Samples per chunk before it is closed (Prometheus's figure: past ~120 the gain is small and
/// queries decode more than they need).
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// How a chunk's bytes are laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Gorilla's XOR of values: any float; what the head appends to.
    #[default]
    Xor = 0,
    /// Values as decimal integers, delta-of-delta coded (`decimal.rs`): for values with a few
    /// decimal digits, such as counters. Written into blocks when smaller.
    Decimal = 1,
}

impl Encoding {
    pub fn from_number(number: u64) -> Option<Encoding> {
        match number {
            0 => Some(Encoding::Xor),
            1 => Some(Encoding::Decimal),
            _ => None,
        }
    }
}

/// A closed (immutable) chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub min_time: i64,
    pub max_time: i64,
    pub count: u16,
    pub encoding: Encoding,
    pub bytes: Vec<u8>,
}

impl Chunk {
    pub fn iter(&self) -> SampleIter<'_> {
        decode(self.encoding, &self.bytes, self.count)
    }

    /// The same samples in the smaller of the two encodings (for a block).
    pub fn recompressed(&self) -> Chunk {
        let samples: Vec<(i64, f64)> = self.iter().collect();
        encode_smallest(&samples)
    }
}

/// Encodes samples (time-sorted, at most `u16::MAX`) in whichever encoding is smaller.
pub fn encode_smallest(samples: &[(i64, f64)]) -> Chunk {
    let mut xor = ChunkEncoder::default();
    for (time, value) in samples {
        xor.append(*time, *value);
    }
    let xor = xor.to_chunk();
    match crate::decimal::encode(samples) {
        Some(bytes) if bytes.len() < xor.bytes.len() => Chunk { encoding: Encoding::Decimal, bytes, ..xor },
        _ => xor,
    }
}

/// Reads a chunk's samples whatever its encoding.
pub fn decode(encoding: Encoding, bytes: &[u8], count: u16) -> SampleIter<'_> {
    match encoding {
        Encoding::Xor => SampleIter::Xor(ChunkIter::new(bytes, count)),
        Encoding::Decimal => SampleIter::Decimal(crate::decimal::DecimalIter::new(bytes, count)),
    }
}

/// The samples of a chunk of either encoding.
pub enum SampleIter<'a> {
    Xor(ChunkIter<'a>),
    Decimal(crate::decimal::DecimalIter<'a>),
}

impl Iterator for SampleIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        match self {
            SampleIter::Xor(iter) => iter.next(),
            SampleIter::Decimal(iter) => iter.next(),
        }
    }
}

/// Encodes time-sorted samples into chunks of at most [`SAMPLES_PER_CHUNK`] (each in its
/// smaller encoding), starting a new chunk at every multiple of `cut_every` ms (block
/// boundaries) when it is not 0.
pub fn encode_all(samples: impl IntoIterator<Item = (i64, f64)>, cut_every: i64) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut open: Vec<(i64, f64)> = Vec::with_capacity(SAMPLES_PER_CHUNK as usize);
    for (time, value) in samples {
        let full = open.len() >= SAMPLES_PER_CHUNK as usize;
        let crosses = cut_every > 0
            && open.first().is_some_and(|(first, _)| first.div_euclid(cut_every) != time.div_euclid(cut_every));
        if full || crosses {
            chunks.push(encode_smallest(&open));
            open.clear();
        }
        open.push((time, value));
    }
    if !open.is_empty() {
        chunks.push(encode_smallest(&open));
    }
    chunks
}

/// Appends samples to an open chunk.
#[derive(Debug, Clone)]
pub struct ChunkEncoder {
    bits: BitWriter,
    /// Where a reader can start instead of at the first sample: the decoder's state after
    /// every [`RESUME_EVERY`]th sample (the first `resume_points` are set). A query for the
    /// last minutes of a series reads only the end of its open chunk, not all of it.
    resume: [ResumePoint; RESUME_POINTS],
    resume_points: u8,
    count: u16,
    min_time: i64,
    last_time: i64,
    last_delta: i64,
    last_value: u64,
    /// Leading and trailing zero counts of the last XOR window written in full.
    leading: u8,
    trailing: u8,
}

/// Samples between two resume points of an open chunk: a read past one decodes at most this
/// many samples it does not want. With 120 samples a chunk, 3 points cost 96 bytes a series.
const RESUME_EVERY: u16 = 32;
const RESUME_POINTS: usize = ((SAMPLES_PER_CHUNK - 1) / RESUME_EVERY) as usize;

/// A [`ChunkIter`]'s state after reading `read` samples, the last at `time`.
#[derive(Debug, Clone, Copy, Default)]
struct ResumePoint {
    position: u16,
    read: u16,
    leading: u8,
    trailing: u8,
    time: i64,
    delta: i64,
    value: u64,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        ChunkEncoder {
            bits: BitWriter::with_capacity(160),
            resume: [ResumePoint::default(); RESUME_POINTS],
            resume_points: 0,
            count: 0,
            min_time: 0,
            last_time: 0,
            last_delta: 0,
            last_value: 0,
            leading: u8::MAX,
            trailing: 0,
        }
    }
}

impl ChunkEncoder {
    pub fn count(&self) -> u16 {
        self.count
    }

    pub fn is_full(&self) -> bool {
        self.count >= SAMPLES_PER_CHUNK
    }

    /// Whether a sample at `time` must go to a new chunk: this one is full, or `time` is in
    /// another `cut_every`-long range (so no chunk straddles a block boundary).
    pub fn must_close_before(&self, time: i64, cut_every: i64) -> bool {
        self.count > 0
            && (self.is_full() || (cut_every > 0 && time.div_euclid(cut_every) != self.min_time.div_euclid(cut_every)))
    }

    pub fn last_time(&self) -> Option<i64> {
        (self.count > 0).then_some(self.last_time)
    }

    pub fn min_time(&self) -> Option<i64> {
        (self.count > 0).then_some(self.min_time)
    }

    /// Appends a sample; the caller keeps timestamps strictly increasing.
    pub fn append(&mut self, time: i64, value: f64) {
        let bits = value.to_bits();
        match self.count {
            0 => {
                write_varint(&mut self.bits, zigzag(time));
                self.bits.write_bits(bits, 64);
                self.min_time = time;
            }
            1 => {
                let delta = time - self.last_time;
                write_varint(&mut self.bits, zigzag(delta));
                self.write_value(bits);
                self.last_delta = delta;
            }
            _ => {
                let delta = time - self.last_time;
                write_delta_of_delta(&mut self.bits, delta.wrapping_sub(self.last_delta));
                self.write_value(bits);
                self.last_delta = delta;
            }
        }
        self.last_time = time;
        self.last_value = bits;
        self.count += 1;
        let point = usize::from(self.resume_points);
        // Bit positions fit u16 in any chunk of at most 120 samples (< 200 bits each).
        if self.count.is_multiple_of(RESUME_EVERY)
            && point < RESUME_POINTS
            && self.bits.len_bits() <= usize::from(u16::MAX)
        {
            // The decoder's window is the encoder's once one was written in full (0 and 0
            // before that, as the decoder starts).
            let (leading, trailing) = if self.leading == u8::MAX { (0, 0) } else { (self.leading, self.trailing) };
            self.resume[point] = ResumePoint {
                position: self.bits.len_bits() as u16,
                read: self.count,
                leading,
                trailing,
                time,
                delta: self.last_delta,
                value: bits,
            };
            self.resume_points += 1;
        }
    }

    fn write_value(&mut self, bits: u64) {
        let xor = bits ^ self.last_value;
        if xor == 0 {
            self.bits.write_bit(false);
            return;
        }
        self.bits.write_bit(true);
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        if self.leading != u8::MAX && leading >= self.leading && trailing >= self.trailing {
            // Fits the previous window: only its bits.
            self.bits.write_bit(false);
            self.bits.write_bits(xor >> self.trailing, 64 - self.leading - self.trailing);
        } else {
            self.bits.write_bit(true);
            let significant = 64 - leading - trailing;
            self.bits.write_bits(u64::from(leading), 5);
            // 64 significant bits do not fit 6 bits: 0 stands for 64 (0 never occurs).
            self.bits.write_bits(u64::from(significant % 64), 6);
            self.bits.write_bits(xor >> trailing, significant);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    /// The samples so far, read in place.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(self.bits.bytes(), self.count)
    }

    /// The samples so far from the last resume point before `min_time` (all of them when
    /// there is none): every sample at or after `min_time`, and maybe a few before.
    pub fn iter_from(&self, min_time: i64) -> ChunkIter<'_> {
        let points = &self.resume[..usize::from(self.resume_points)];
        match points.iter().rev().find(|point| point.time < min_time) {
            Some(point) => ChunkIter {
                bits: BitReader::at(self.bits.bytes(), usize::from(point.position)),
                remaining: self.count - point.read,
                read: point.read,
                time: point.time,
                delta: point.delta,
                value: point.value,
                leading: point.leading,
                trailing: point.trailing,
            },
            None => self.iter(),
        }
    }

    /// The samples so far as a closed chunk (the encoder can go on appending).
    pub fn to_chunk(&self) -> Chunk {
        Chunk {
            min_time: self.min_time,
            max_time: self.last_time,
            count: self.count,
            encoding: Encoding::Xor,
            bytes: self.bits.bytes().to_vec(),
        }
    }

    /// Bytes used so far.
    pub fn len_bytes(&self) -> usize {
        self.bits.bytes().len()
    }
}

/// Decodes a chunk's samples in order; stops early (without panicking) on truncated bytes.
pub struct ChunkIter<'a> {
    bits: BitReader<'a>,
    remaining: u16,
    read: u16,
    time: i64,
    delta: i64,
    value: u64,
    leading: u8,
    trailing: u8,
}

impl<'a> ChunkIter<'a> {
    pub fn new(bytes: &'a [u8], count: u16) -> ChunkIter<'a> {
        ChunkIter {
            bits: BitReader::new(bytes),
            remaining: count,
            read: 0,
            time: 0,
            delta: 0,
            value: 0,
            leading: 0,
            trailing: 0,
        }
    }

    fn next_sample(&mut self) -> Option<(i64, f64)> {
        match self.read {
            0 => {
                self.time = unzigzag(read_varint(&mut self.bits)?);
                self.value = self.bits.read_bits(64)?;
            }
            1 => {
                self.delta = unzigzag(read_varint(&mut self.bits)?);
                self.time = self.time.wrapping_add(self.delta);
                self.read_value()?;
            }
            _ => {
                if let Some(sample) = self.next_from_one_load() {
                    return Some(sample);
                }
                self.delta = self.delta.wrapping_add(read_delta_of_delta(&mut self.bits)?);
                self.time = self.time.wrapping_add(self.delta);
                self.read_value()?;
            }
        }
        self.read += 1;
        Some((self.time, f64::from_bits(self.value)))
    }

    /// The next sample (past the second) when its bits fit one 64-bit load, as nearly every
    /// sample of a scraped series does: its fields are cut from that word without a bounds
    /// check each. None when they do not fit (nothing is consumed then; the bit-by-bit path
    /// reads it). Decoding is most of a query's time.
    fn next_from_one_load(&mut self) -> Option<(i64, f64)> {
        let (word, valid) = self.bits.peek();
        let mut used = 0u32;
        // The next `count` (1..=64) bits of the word, if they are real.
        let mut take = |count: u32| -> Option<u64> {
            if used + count > valid {
                return None;
            }
            let bits = (word << used) >> (64 - count);
            used += count;
            Some(bits)
        };
        // The delta of deltas: a 0 bit, or 1..=3 ones, a 0 and that bucket's bits (four ones
        // and 64 bits never fit with a value: the bit-by-bit path takes them). Padding past
        // the end is zeros, so the ones counted are real.
        let dod = match word.leading_ones().min(4) {
            0 => {
                take(1)?;
                0
            }
            4 => return None,
            ones => {
                take(ones + 1)?;
                let width = BUCKETS[ones as usize - 1].2;
                let raw = take(u32::from(width))? as i64;
                // Sign-extend as `read_bucketed` does.
                if raw > 1i64 << (width - 1) {
                    raw - (1i64 << width)
                } else {
                    raw
                }
            }
        };
        let (mut leading, mut trailing, mut value) = (self.leading, self.trailing, self.value);
        if take(1)? == 1 {
            if take(1)? == 1 {
                leading = take(5)? as u8;
                let significant = match take(6)? as u8 {
                    0 => 64,
                    n => n,
                };
                trailing = 64u8.checked_sub(leading + significant)?;
            }
            let significant = u32::from(64 - leading - trailing);
            value ^= take(significant)? << trailing;
        }
        self.bits.skip(used);
        (self.leading, self.trailing, self.value) = (leading, trailing, value);
        self.delta = self.delta.wrapping_add(dod);
        self.time = self.time.wrapping_add(self.delta);
        self.read += 1;
        Some((self.time, f64::from_bits(self.value)))
    }

    fn read_value(&mut self) -> Option<()> {
        if !self.bits.read_bit()? {
            return Some(());
        }
        if self.bits.read_bit()? {
            self.leading = self.bits.read_bits(5)? as u8;
            let significant = match self.bits.read_bits(6)? as u8 {
                0 => 64,
                n => n,
            };
            self.trailing = 64u8.checked_sub(self.leading + significant)?;
        }
        let significant = 64 - self.leading - self.trailing;
        let xor = self.bits.read_bits(significant)? << self.trailing;
        self.value ^= xor;
        Some(())
    }
}

impl Iterator for ChunkIter<'_> {
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

/// Delta-of-delta buckets: (prefix bits, prefix length, value bits). Scrapes at a steady
/// interval give 0 (one bit); jitter of a few ms fits the 14-bit bucket.
const BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];

pub(crate) fn write_delta_of_delta(bits: &mut BitWriter, dod: i64) {
    write_bucketed(bits, dod, &BUCKETS);
}

pub(crate) fn read_delta_of_delta(bits: &mut BitReader<'_>) -> Option<i64> {
    read_bucketed(bits, &BUCKETS)
}

/// Writes `value` as one `0` bit when it is 0, else as the prefix of the first bucket it fits
/// and its `width` low bits; a prefix of four ones is followed by all 64 bits.
pub(crate) fn write_bucketed(bits: &mut BitWriter, value: i64, buckets: &[(u64, u8, u8); 3]) {
    if value == 0 {
        bits.write_bit(false);
        return;
    }
    for (prefix, prefix_len, width) in buckets {
        let limit = 1i64 << (width - 1);
        if (-limit + 1..=limit).contains(&value) {
            bits.write_bits(*prefix, *prefix_len);
            bits.write_bits(value as u64, *width);
            return;
        }
    }
    bits.write_bits(0b1111, 4);
    bits.write_bits(value as u64, 64);
}

pub(crate) fn read_bucketed(bits: &mut BitReader<'_>, buckets: &[(u64, u8, u8); 3]) -> Option<i64> {
    let mut ones = 0u8;
    while ones < 4 && bits.read_bit()? {
        ones += 1;
    }
    let width = match ones {
        0 => return Some(0),
        4 => return Some(bits.read_bits(64)? as i64),
        n => buckets[n as usize - 1].2,
    };
    let raw = bits.read_bits(width)?;
    // Sign-extend from `width` bits; the bucket stores (-2^(w-1), 2^(w-1)].
    let mut value = raw as i64;
    if value > 1i64 << (width - 1) {
        value -= 1i64 << width;
    }
    Some(value)
}

pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub(crate) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

pub(crate) fn write_varint(bits: &mut BitWriter, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bits.write_bits(u64::from(byte), 8);
            return;
        }
        bits.write_bits(u64::from(byte | 0x80), 8);
    }
}

pub(crate) fn read_varint(bits: &mut BitReader<'_>) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = bits.read_bits(8)?;
        value |= (byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn encode(samples: &[(i64, f64)]) -> Chunk {
        let mut encoder = ChunkEncoder::default();
        for (time, value) in samples {
            encoder.append(*time, *value);
        }
        encoder.to_chunk()
    }

    fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
    }

    proptest! {
        #[test]
        fn samples_round_trip_bit_for_bit(
            start in -(1i64 << 50)..(1i64 << 50),
            steps in proptest::collection::vec((1i64..(1i64 << 40), any::<u64>()), 0..120),
        ) {
            let mut time = start;
            let mut samples = Vec::new();
            for (step, bits) in steps {
                samples.push((time, f64::from_bits(bits)));
                time = time.saturating_add(step);
            }
            let chunk = encode(&samples);
            let decoded: Vec<(i64, f64)> = chunk.iter().collect();
            prop_assert!(same(&decoded, &samples), "{:?} != {:?}", decoded, samples);
        }

        #[test]
        fn scrape_like_series_round_trip(jitter in proptest::collection::vec(-20i64..20, 1..120), base in 0u32..1000) {
            let mut time = 1_700_000_000_000i64;
            let mut value = f64::from(base);
            let mut samples = Vec::new();
            for j in jitter {
                samples.push((time, value));
                time += 15_000 + j;
                value += 1.5;
            }
            let chunk = encode(&samples);
            prop_assert!(same(&chunk.iter().collect::<Vec<_>>(), &samples));
        }
    }

    /// Times jittered into every delta-of-delta bucket and values that repeat, step a little
    /// (the window of the previous value is reused) or change every bit: both decoding paths,
    /// and the switches between them.
    fn mixed_samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
        let jitter = prop_oneof![
            Just(0i64),
            -8_000i64..8_000,
            -60_000i64..60_000,
            -500_000i64..500_000,
            any::<i32>().prop_map(i64::from)
        ];
        let change = prop_oneof![Just(0u64), 1u64..4, 0u64..1_000_000, any::<u64>()];
        proptest::collection::vec((jitter, change), 1..120).prop_map(|steps| {
            let (mut time, mut value) = (1_700_000_000_000i64, 1000.0f64);
            steps
                .into_iter()
                .map(|(jitter, change)| {
                    time += 15_000 + jitter;
                    value = match change {
                        0 => value,
                        1..=3 => value + change as f64,
                        _ if change < 1_000_000 => value * 1.5 + change as f64,
                        _ => f64::from_bits(change),
                    };
                    (time, value)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn an_open_chunk_read_from_a_time_gives_the_same_samples_from_there(
            samples in mixed_samples(),
            cut in 0usize..130,
        ) {
            // The head appends in time order.
            let mut samples = samples;
            samples.sort_by_key(|s| s.0);
            samples.dedup_by_key(|s| s.0);
            let mut encoder = ChunkEncoder::default();
            for (time, value) in &samples {
                encoder.append(*time, *value);
            }
            let all: Vec<(i64, f64)> = encoder.iter().collect();
            // From just after a sample's time, or from one of the times themselves.
            let min_time = samples.get(cut).map_or(i64::MAX, |s| s.0) - (cut % 2) as i64;
            let from: Vec<(i64, f64)> = encoder.iter_from(min_time).collect();
            prop_assert!(same(&from, &all[all.len() - from.len()..]), "not a suffix");
            let wanted = |list: &[(i64, f64)]| list.iter().copied().filter(|s| s.0 >= min_time).collect::<Vec<_>>();
            prop_assert!(same(&wanted(&from), &wanted(&all)));
        }

        #[test]
        fn mixed_series_round_trip_and_every_truncation_decodes_a_prefix(samples in mixed_samples()) {
            let chunk = encode(&samples);
            prop_assert!(same(&chunk.iter().collect::<Vec<_>>(), &samples));
            for len in 0..chunk.bytes.len() {
                let decoded: Vec<_> = decode(Encoding::Xor, &chunk.bytes[..len], chunk.count).collect();
                prop_assert!(decoded.len() < samples.len());
                prop_assert!(same(&decoded, &samples[..decoded.len()]));
            }
        }
    }

    #[test]
    fn a_read_of_the_last_samples_starts_near_them() {
        let mut encoder = ChunkEncoder::default();
        for i in 0..120 {
            encoder.append(i * 15_000, (i * 3) as f64);
        }
        // The last resume point before sample 100 is after sample 96.
        let from: Vec<(i64, f64)> = encoder.iter_from(100 * 15_000).collect();
        assert_eq!(from.len(), 120 - 96);
        assert_eq!(from[0], (96 * 15_000, 288.0));
        assert_eq!(encoder.iter_from(0).count(), 120, "nothing before the first sample to skip");
    }

    #[test]
    fn a_steady_counter_costs_about_a_byte_per_sample() {
        let samples: Vec<(i64, f64)> = (0..120).map(|i| (1_700_000_000_000 + i * 15_000, (i * 3) as f64)).collect();
        let chunk = encode(&samples);
        assert!(chunk.bytes.len() < 200, "{} bytes for 120 samples", chunk.bytes.len());
        assert_eq!((chunk.min_time, chunk.max_time), (samples[0].0, samples[119].0));
    }

    #[test]
    fn special_values_keep_their_bits() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let samples = [(1, f64::NAN), (2, stale), (3, f64::INFINITY), (4, -0.0), (5, f64::MIN_POSITIVE), (6, 0.0)];
        assert!(same(&encode(&samples).iter().collect::<Vec<_>>(), &samples));
    }

    #[test]
    fn truncated_bytes_end_the_iteration_without_panicking() {
        let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 1000, (i as f64).sqrt())).collect();
        let mut chunk = encode(&samples);
        chunk.bytes.truncate(chunk.bytes.len() / 2);
        let decoded: Vec<_> = chunk.iter().collect();
        assert!(decoded.len() < 50);
        assert!(same(&decoded, &samples[..decoded.len()]));
    }
}
