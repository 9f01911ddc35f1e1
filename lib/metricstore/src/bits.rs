//! Bit-level writer and reader for the chunk codec: most significant bit first, so a chunk's
//! bytes read in the order they were written.

/// Appends bits to a byte vector.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 means the last byte is full, or there is none).
    used: u8,
}

impl BitWriter {
    pub fn with_capacity(bytes: usize) -> BitWriter {
        BitWriter { bytes: Vec::with_capacity(bytes), used: 0 }
    }

    pub fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// Writes the low `count` bits of `value`, highest first (`count` ≤ 64).
    pub fn write_bits(&mut self, value: u64, count: u8) {
        debug_assert!(count <= 64);
        let mut remaining = count;
        while remaining > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let free = 8 - self.used;
            let take = free.min(remaining);
            // The next `take` bits of `value`, from the top of what remains.
            let shift = remaining - take;
            let chunk = ((value >> shift) & ((1u64 << take) - 1)) as u8;
            let last = self.bytes.len() - 1;
            self.bytes[last] |= chunk << (free - take);
            self.used = (self.used + take) % 8;
            remaining -= take;
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    #[cfg(test)]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Total bits written.
    pub fn len_bits(&self) -> usize {
        if self.used == 0 {
            self.bytes.len() * 8
        } else {
            (self.bytes.len() - 1) * 8 + usize::from(self.used)
        }
    }
}

/// Reads bits written by [`BitWriter`]; every read fails cleanly past the end.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits.
    position: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, position: 0 }
    }

    /// A reader already `position` bits into `bytes` (where an earlier read stopped).
    pub fn at(bytes: &'a [u8], position: usize) -> BitReader<'a> {
        BitReader { bytes, position }
    }

    pub fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.position / 8)?;
        let bit = byte & (0x80 >> (self.position % 8)) != 0;
        self.position += 1;
        Some(bit)
    }

    /// Reads `count` bits (≤ 64) as the low bits of a u64.
    pub fn read_bits(&mut self, count: u8) -> Option<u64> {
        debug_assert!(count <= 64);
        if count == 0 {
            return Some(0);
        }
        if self.position + usize::from(count) > self.bytes.len() * 8 {
            return None;
        }
        if count > 56 {
            // A window of 8 bytes holds at least 57 bits past any bit offset; take two reads.
            let high = self.read_bits(count - 32)?;
            let low = self.read_bits(32)?;
            return Some((high << 32) | low);
        }
        // One big-endian load of the 8 bytes from the current one (zero-padded at the end),
        // instead of a loop over bytes: decoding chunks is most of a query's time.
        let offset = self.position % 8;
        let window = self.window(self.position / 8);
        self.position += usize::from(count);
        Some((window << offset) >> (64 - u32::from(count)))
    }

    /// The next bits, first at the top of the word, and how many of them are real (up to 64:
    /// fewer near the end, and at least 57 elsewhere), without moving. With [`BitReader::skip`]
    /// a decoder can take several fields from one load.
    pub fn peek(&self) -> (u64, u32) {
        let offset = self.position % 8;
        let left = (self.bytes.len() * 8).saturating_sub(self.position);
        let valid = (64 - offset).min(left) as u32;
        if valid == 0 {
            return (0, 0);
        }
        (self.window(self.position / 8) << offset, valid)
    }

    /// Moves past `count` bits that [`BitReader::peek`] showed.
    pub fn skip(&mut self, count: u32) {
        self.position += count as usize;
    }

    fn window(&self, index: usize) -> u64 {
        match self.bytes.get(index..index + 8) {
            Some(bytes) => u64::from_be_bytes(bytes.try_into().expect("8 bytes")),
            None => {
                let mut padded = [0u8; 8];
                let rest = &self.bytes[index.min(self.bytes.len())..];
                padded[..rest.len()].copy_from_slice(rest);
                u64::from_be_bytes(padded)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn what_is_written_reads_back(fields in proptest::collection::vec((any::<u64>(), 1u8..=64), 0..200)) {
            let mut writer = BitWriter::default();
            for (value, count) in &fields {
                writer.write_bits(*value, *count);
            }
            let expected_bits: usize = fields.iter().map(|(_, c)| usize::from(*c)).sum();
            prop_assert_eq!(writer.len_bits(), expected_bits);
            let bytes = writer.into_bytes();
            let mut reader = BitReader::new(&bytes);
            for (value, count) in &fields {
                let mask = if *count == 64 { u64::MAX } else { (1u64 << count) - 1 };
                prop_assert_eq!(reader.read_bits(*count), Some(value & mask));
            }
        }
    }

    #[test]
    fn single_bits_and_reads_past_the_end() {
        let mut writer = BitWriter::default();
        for bit in [true, false, true, true, false, false, false, true, true] {
            writer.write_bit(bit);
        }
        assert_eq!(writer.bytes(), &[0b1011_0001, 0b1000_0000]);
        let bytes = writer.into_bytes();
        let mut reader = BitReader::new(&bytes);
        assert_eq!(reader.read_bits(9), Some(0b1_0110_0011));
        assert_eq!(reader.read_bits(7), Some(0));
        assert_eq!(reader.read_bit(), None);
        assert_eq!(reader.read_bits(1), None);
    }
}
