//! Reading metric batches and remote-write requests straight from their protobuf bytes,
//! without decoding them into owned structs: the ingest hot path checks and stores millions
//! of series a minute, and building a `String` per label name and value (then dropping it)
//! was most of its cost. Only the fields Vigil uses are read; unknown fields are skipped as
//! protobuf requires. Anything malformed is reported, and callers fall back to `prost`.

/// A base-128 varint (LEB128) at `position`, which moves past it; None past the end or for
/// more than 64 bits.
pub fn read_uvarint(bytes: &[u8], position: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*position)?;
        *position += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// The fields of a message in order: (number, value, the field's whole encoding).
pub struct Fields<'a> {
    bytes: &'a [u8],
    position: usize,
    failed: bool,
}

pub fn fields(bytes: &[u8]) -> Fields<'_> {
    Fields { bytes, position: 0, failed: false }
}

impl<'a> Fields<'a> {
    /// Whether iteration stopped at malformed bytes (rather than at the end).
    pub fn failed(&self) -> bool {
        self.failed
    }

    fn varint(&mut self) -> Option<u64> {
        read_uvarint(self.bytes, &mut self.position)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(n).filter(|end| *end <= self.bytes.len())?;
        let taken = &self.bytes[self.position..end];
        self.position = end;
        Some(taken)
    }

    fn next_field(&mut self) -> Option<(u32, Field<'a>, &'a [u8])> {
        let start = self.position;
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).ok().filter(|n| *n > 0)?;
        let value = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            2 => {
                let length = usize::try_from(self.varint()?).ok()?;
                Field::Bytes(self.take(length)?)
            }
            5 => Field::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            _ => return None,
        };
        Some((number, value, &self.bytes[start..self.position]))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u32, Field<'a>, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.position >= self.bytes.len() {
            return None;
        }
        let field = self.next_field();
        if field.is_none() {
            self.failed = true;
        }
        field
    }
}

/// A time series read in place: its labels' encoding (all label fields, one after another)
/// and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesView<'a> {
    /// The bytes of every label field, in order: equal bytes mean equal labels, so this keys
    /// a cache of parsed labels.
    pub label_bytes: &'a [u8],
    pub samples: Vec<(i64, f64)>,
}

impl<'a> SeriesView<'a> {
    /// Reads a `TimeSeries` message; None when it is malformed or its labels are not one run
    /// of fields (valid protobuf, but not what any known sender writes: use `prost`).
    pub fn parse(bytes: &'a [u8]) -> Option<SeriesView<'a>> {
        let mut labels: Option<(usize, usize)> = None;
        let mut samples = Vec::with_capacity(1);
        let mut iter = fields(bytes);
        let mut position = 0;
        for (number, field, whole) in iter.by_ref() {
            let start = position;
            position += whole.len();
            match (number, field) {
                (1, Field::Bytes(_)) => match &mut labels {
                    None => labels = Some((start, position)),
                    Some((_, end)) if *end == start => *end = position,
                    Some(_) => return None,
                },
                (2, Field::Bytes(sample)) => samples.push(parse_sample(sample)?),
                _ => {}
            }
        }
        if iter.failed() {
            return None;
        }
        let (from, to) = labels.unwrap_or((0, 0));
        Some(SeriesView { label_bytes: &bytes[from..to], samples })
    }

    /// The (name, value) pairs, in their encoded order; None when one is malformed or not
    /// UTF-8.
    pub fn labels(&self) -> Option<Vec<(&'a str, &'a str)>> {
        label_pairs(self.label_bytes)
    }
}

/// The (name, value) pairs of a run of `Label` fields.
pub fn label_pairs(label_bytes: &[u8]) -> Option<Vec<(&str, &str)>> {
    let mut pairs = Vec::with_capacity(8);
    let mut iter = fields(label_bytes);
    for (_, field, _) in iter.by_ref() {
        let Field::Bytes(label) = field else { return None };
        let (mut name, mut value) = ("", "");
        let mut inner = fields(label);
        for (number, field, _) in inner.by_ref() {
            match (number, field) {
                (1, Field::Bytes(text)) => name = std::str::from_utf8(text).ok()?,
                (2, Field::Bytes(text)) => value = std::str::from_utf8(text).ok()?,
                _ => {}
            }
        }
        if inner.failed() {
            return None;
        }
        pairs.push((name, value));
    }
    (!iter.failed()).then_some(pairs)
}

fn parse_sample(bytes: &[u8]) -> Option<(i64, f64)> {
    let (mut timestamp, mut value) = (0i64, 0.0f64);
    let mut iter = fields(bytes);
    for (number, field, _) in iter.by_ref() {
        match (number, field) {
            (1, Field::Fixed64(bits)) => value = f64::from_bits(bits),
            (2, Field::Varint(raw)) => timestamp = raw as i64,
            _ => {}
        }
    }
    (!iter.failed()).then_some((timestamp, value))
}

/// A `MetricBatch` read in place: its version, its series' encodings and its metadata
/// entries' encodings (which callers decode with `prost`: they are few and small).
pub struct BatchView<'a> {
    pub schema_version: u32,
    pub series: Vec<&'a [u8]>,
    pub metadata: Vec<&'a [u8]>,
}

impl<'a> BatchView<'a> {
    pub fn parse(bytes: &'a [u8]) -> Option<BatchView<'a>> {
        let mut view = BatchView { schema_version: 0, series: Vec::new(), metadata: Vec::new() };
        let mut iter = fields(bytes);
        for (number, field, _) in iter.by_ref() {
            match (number, field) {
                (1, Field::Varint(version)) => view.schema_version = u32::try_from(version).ok()?,
                (2, Field::Bytes(series)) => view.series.push(series),
                (4, Field::Bytes(metadata)) => view.metadata.push(metadata),
                _ => {}
            }
        }
        (!iter.failed()).then_some(view)
    }
}

/// The series of a remote-write `WriteRequest` (field 1), read in place, and whether it has
/// metadata (field 3).
pub fn write_request_series(bytes: &[u8]) -> Option<(Vec<&[u8]>, bool)> {
    let mut series = Vec::new();
    let mut has_metadata = false;
    let mut iter = fields(bytes);
    for (number, field, _) in iter.by_ref() {
        match (number, field) {
            (1, Field::Bytes(one)) => series.push(one),
            (3, Field::Bytes(_)) => has_metadata = true,
            _ => {}
        }
    }
    (!iter.failed()).then_some((series, has_metadata))
}

/// A `MetricBatch` encoding of a whole remote-write request, made by renumbering its fields
/// (series 1 → 2, metadata 3 → 4) and copying their bytes, plus the version and source.
pub fn batch_from_write_request(request: &[u8], schema_version: u32, source: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(request.len() + source.len() + 8);
    put_key(&mut out, 1, 0);
    put_varint(&mut out, u64::from(schema_version));
    let mut iter = fields(request);
    for (number, field, _) in iter.by_ref() {
        let renumbered = match number {
            1 => 2,
            3 => 4,
            _ => continue,
        };
        let Field::Bytes(body) = field else { return None };
        put_key(&mut out, renumbered, 2);
        put_varint(&mut out, body.len() as u64);
        out.extend_from_slice(body);
    }
    if iter.failed() {
        return None;
    }
    put_key(&mut out, 3, 2);
    put_varint(&mut out, source.len() as u64);
    out.extend_from_slice(source.as_bytes());
    Some(out)
}

fn put_key(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::metrics::{Label, MetricBatch, MetricMetadata, Sample, TimeSeries, WriteRequest};

    fn request() -> WriteRequest {
        let label = |n: &str, v: &str| Label { name: n.into(), value: v.into() };
        WriteRequest {
            timeseries: vec![
                TimeSeries {
                    labels: vec![label("__name__", "up"), label("job", "node")],
                    samples: vec![Sample { value: 1.5, timestamp: 1000 }, Sample { value: -2.25, timestamp: -5 }],
                },
                TimeSeries { labels: vec![label("__name__", "x")], samples: vec![] },
            ],
            metadata: vec![MetricMetadata { metric_family_name: "up".into(), ..Default::default() }],
        }
    }

    #[test]
    fn views_read_what_prost_wrote_and_the_renumbered_request_is_a_batch() {
        let bytes = request().encode_to_vec();
        let (series, has_metadata) = write_request_series(&bytes).unwrap();
        assert!(has_metadata);
        let first = SeriesView::parse(series[0]).unwrap();
        assert_eq!(first.labels().unwrap(), [("__name__", "up"), ("job", "node")]);
        assert_eq!(first.samples[0], (1000, 1.5));
        assert_eq!(first.samples[1], (-5, -2.25), "negative timestamps too");
        let batch_bytes = batch_from_write_request(&bytes, 1, "remote-write").unwrap();
        let batch = MetricBatch::decode(batch_bytes.as_slice()).unwrap();
        assert_eq!(batch.schema_version, 1);
        assert_eq!(batch.source, "remote-write");
        assert_eq!(batch.series, request().timeseries);
        assert_eq!(batch.metadata, request().metadata);
        let view = BatchView::parse(&batch_bytes).unwrap();
        assert_eq!(view.series.len(), 2);
        assert_eq!(view.metadata.len(), 1);
    }

    #[test]
    fn malformed_bytes_are_refused_not_misread() {
        let bytes = request().encode_to_vec();
        assert!(write_request_series(&bytes[..bytes.len() - 3]).is_none(), "a cut message");
        assert!(BatchView::parse(&[0x12, 0x50, 1, 2]).is_none(), "a length past the end");
        assert!(label_pairs(&[0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe]).is_none(), "a name that is not UTF-8");
    }
}
