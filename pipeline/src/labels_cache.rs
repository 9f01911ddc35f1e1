//! Parsed labels by their encoded bytes. A series arrives every scrape with the same label
//! bytes, so its labels are checked and built once and shared afterwards (a reference count
//! instead of a string per label name and value, every time).

use std::collections::HashMap;

use vigil_metricstore::{LabelError, Labels};

/// Forgotten all at once past this many series (a churn of series names must not grow it
/// without bound; the next batches rebuild what is still sent).
const MAX_ENTRIES: usize = 2_000_000;

#[derive(Default)]
pub struct LabelsCache {
    by_bytes: HashMap<Box<[u8]>, Result<Labels, LabelError>, rustc_hash::FxBuildHasher>,
}

impl LabelsCache {
    /// The labels encoded in `label_bytes` (a run of remote-write `Label` fields), or why
    /// they are invalid; None when the bytes are malformed.
    pub fn get(&mut self, label_bytes: &[u8]) -> Option<Result<Labels, LabelError>> {
        if let Some(known) = self.by_bytes.get(label_bytes) {
            return Some(known.clone());
        }
        let pairs = vigil_model::metrics_wire::label_pairs(label_bytes)?;
        let parsed = Labels::new(pairs);
        if self.by_bytes.len() >= MAX_ENTRIES {
            self.by_bytes.clear();
        }
        self.by_bytes.insert(label_bytes.into(), parsed.clone());
        Some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use vigil_model::metrics::Label;

    use super::*;

    #[test]
    fn the_same_bytes_give_the_same_shared_labels_and_bad_ones_their_error() {
        let encode = |pairs: &[(&str, &str)]| -> Vec<u8> {
            pairs
                .iter()
                .flat_map(|(n, v)| {
                    let label = Label { name: n.to_string(), value: v.to_string() };
                    let mut field = vec![0x0a];
                    label.encode_length_delimited(&mut field).expect("vec grows");
                    field
                })
                .collect()
        };
        let mut cache = LabelsCache::default();
        let bytes = encode(&[("__name__", "up"), ("job", "a")]);
        let first = cache.get(&bytes).unwrap().unwrap();
        let second = cache.get(&bytes).unwrap().unwrap();
        assert_eq!(first, Labels::new([("__name__", "up"), ("job", "a")]).unwrap());
        assert_eq!(first.to_string(), second.to_string());
        assert!(matches!(cache.get(&encode(&[("__name__", "bad-name")])), Some(Err(LabelError::MetricName(_)))));
        assert!(cache.get(&[0x0a, 0x40]).is_none(), "malformed bytes");
    }
}
