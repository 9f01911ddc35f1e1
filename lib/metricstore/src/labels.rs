//! A series' identity: its metric name and labels, as Prometheus has them. The name is the
//! `__name__` label; labels are kept sorted by name, and a label with an empty value is the
//! same as no label (Prometheus's rule).

use std::sync::{Arc, OnceLock};

pub const METRIC_NAME: &str = "__name__";

/// Where a query keeps a metric name that a function or operator dropped: as in Prometheus
/// 3, the name is only removed from the query's result, so an aggregation `by (__name__)`
/// above still groups by it. Labels starting with `__` are reserved, so no series has it.
pub const DROPPED_NAME: &str = "__vigil_dropped_name__";

/// Sorted, unique label pairs (the metric name included as `__name__`). Shared: a clone is a
/// reference count, as query evaluation passes the same labels through every step.
#[derive(Clone)]
pub struct Labels(Arc<Pairs>);

impl Default for Labels {
    fn default() -> Labels {
        // Through `from_sorted`, so empty labels carry the hash of no pairs like any other.
        Labels::from_sorted(Vec::new())
    }
}

struct Pairs {
    pairs: Vec<(String, String)>,
    /// A hash of the pairs, made once: the head looks series up by labels for every sample.
    hash: u64,
    /// The next step of name dropping, made once: for labels with a metric name, the same
    /// with it set aside (most functions drop it); for labels with a name set aside, the same
    /// without it (what a query answers). Series labels are shared by every query, so each
    /// step is made once per series, not per query.
    name_dropped: OnceLock<Labels>,
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.pairs == other.0.pairs
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Labels) -> std::cmp::Ordering {
        self.0.pairs.cmp(&other.0.pairs)
    }
}

impl std::fmt::Debug for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Labels").field(&self.0.pairs).finish()
    }
}

/// Why a set of labels was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("invalid metric name {0:?}: use letters, digits, '_' and ':', not starting with a digit")]
    MetricName(String),
    #[error("invalid label name {0:?}: use letters, digits and '_', not starting with a digit")]
    LabelName(String),
    #[error("label {0:?} appears twice")]
    Duplicate(String),
    #[error("the series has no metric name (__name__)")]
    NoName,
}

impl Labels {
    /// Checks and sorts `pairs`; drops empty values. A series needs a metric name.
    pub fn new<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Labels, LabelError>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let labels = Labels::unchecked(pairs)?;
        match labels.get(METRIC_NAME) {
            None => Err(LabelError::NoName),
            Some(name) if !is_metric_name(name) => Err(LabelError::MetricName(name.to_string())),
            Some(_) => Ok(labels),
        }
    }

    /// Like [`Labels::new`] without requiring a metric name (query results drop it).
    pub fn unchecked<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Labels, LabelError>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut pairs: Vec<(String, String)> =
            pairs.into_iter().map(|(n, v)| (n.into(), v.into())).filter(|(_, value)| !value.is_empty()).collect();
        pairs.sort();
        for window in pairs.windows(2) {
            if window[0].0 == window[1].0 {
                return Err(LabelError::Duplicate(window[0].0.clone()));
            }
        }
        if let Some((name, _)) = pairs.iter().find(|(name, _)| name != METRIC_NAME && !is_label_name(name)) {
            return Err(LabelError::LabelName(name.clone()));
        }
        Ok(Labels::from_sorted(pairs))
    }

    fn from_sorted(pairs: Vec<(String, String)>) -> Labels {
        use std::hash::BuildHasher;
        // A fixed-seed hasher: equal labels hash equally in every map, in every process.
        let hash = rustc_hash::FxBuildHasher.hash_one(&pairs);
        Labels(Arc::new(Pairs { hash, pairs, name_dropped: OnceLock::new() }))
    }

    /// Checks label pairs as [`Labels::new`] would, without building them (no allocation for
    /// up to 16 pairs).
    pub fn check<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), LabelError> {
        let mut names: smallvec::SmallVec<[&str; 16]> = smallvec::SmallVec::new();
        let mut metric_name = None;
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            if name == METRIC_NAME {
                metric_name = Some(value);
            } else if !is_label_name(name) {
                return Err(LabelError::LabelName(name.to_string()));
            }
            names.push(name);
        }
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(LabelError::Duplicate(pair[0].to_string()));
        }
        match metric_name {
            None => Err(LabelError::NoName),
            Some(name) if !is_metric_name(name) => Err(LabelError::MetricName(name.to_string())),
            Some(_) => Ok(()),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        let pairs = &self.0.pairs;
        pairs.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| pairs[i].1.as_str())
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.pairs.is_empty()
    }

    /// The same labels with the metric name set aside under [`DROPPED_NAME`] (what most
    /// PromQL functions return); [`Labels::finish_name_drop`] removes it from a result.
    pub fn with_name_dropped(&self) -> Labels {
        if self.metric_name().is_none() {
            return self.clone();
        }
        if self.get(DROPPED_NAME).is_some() {
            // Both a name and a set-aside one (a label_replace wrote __name__): not cached,
            // the cache holds the other step for such labels.
            return Labels::from_sorted(self.0.pairs.iter().filter(|(n, _)| n != DROPPED_NAME).cloned().collect())
                .with_name_dropped();
        }
        self.0
            .name_dropped
            .get_or_init(|| {
                let mut pairs: Vec<(String, String)> =
                    self.0
                        .pairs
                        .iter()
                        .map(|(n, v)| {
                            if n == METRIC_NAME {
                                (DROPPED_NAME.to_string(), v.clone())
                            } else {
                                (n.clone(), v.clone())
                            }
                        })
                        .collect();
                pairs.sort();
                Labels::from_sorted(pairs)
            })
            .clone()
    }

    /// The labels a query answers with: a name set aside by [`Labels::with_name_dropped`]
    /// is gone.
    pub fn finish_name_drop(&self) -> Labels {
        if self.get(DROPPED_NAME).is_none() {
            return self.clone();
        }
        let finish = || Labels::from_sorted(self.0.pairs.iter().filter(|(n, _)| n != DROPPED_NAME).cloned().collect());
        if self.metric_name().is_some() {
            return finish();
        }
        self.0.name_dropped.get_or_init(finish).clone()
    }

    /// The metric name, whether kept or set aside to be dropped (what `by (__name__)` groups
    /// by), and whether it was set aside.
    pub fn name_for_grouping(&self) -> Option<(&str, bool)> {
        match self.metric_name() {
            Some(name) => Some((name, false)),
            None => self.get(DROPPED_NAME).map(|name| (name, true)),
        }
    }
}

impl std::fmt::Display for Labels {
    /// `name{a="1", b="2"}`, as Prometheus prints a series.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for (name, value) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_agrees_with_new_and_equal_labels_hash_equally() {
        let cases: [&[(&str, &str)]; 6] = [
            &[("__name__", "up"), ("job", "a")],
            &[("job", "a")],
            &[("__name__", "up"), ("job", "a"), ("job", "b")],
            &[("__name__", "up"), ("0job", "a")],
            &[("__name__", "1up")],
            &[("__name__", "up"), ("job", "")],
        ];
        for pairs in cases {
            assert_eq!(
                Labels::check(pairs.iter().copied()),
                Labels::new(pairs.iter().copied()).map(|_| ()),
                "{pairs:?}"
            );
        }
        use std::hash::{BuildHasher, RandomState};
        let state = RandomState::new();
        let a = Labels::new([("job", "a"), ("__name__", "up")]).unwrap();
        let b = Labels::new([("__name__", "up"), ("job", "a"), ("x", "")]).unwrap();
        assert_eq!(a, b);
        assert_eq!(state.hash_one(&a), state.hash_one(&b));
        assert_eq!(
            state.hash_one(Labels::default()),
            state.hash_one(Labels::unchecked(Vec::<(&str, &str)>::new()).unwrap())
        );
    }

    #[test]
    fn labels_are_sorted_checked_and_empty_values_dropped() {
        let labels = Labels::new([("job", "node"), ("__name__", "up"), ("zone", "")]).unwrap();
        assert_eq!(labels.iter().collect::<Vec<_>>(), [("__name__", "up"), ("job", "node")]);
        assert_eq!(labels.to_string(), r#"up{job="node"}"#);
        assert_eq!(labels.get("zone"), None);
        assert_eq!(Labels::new([("job", "x")]), Err(LabelError::NoName));
        assert_eq!(Labels::new([("__name__", "1up")]), Err(LabelError::MetricName("1up".into())));
        assert_eq!(Labels::new([("__name__", "up"), ("a-b", "1")]), Err(LabelError::LabelName("a-b".into())));
        assert_eq!(Labels::new([("__name__", "up"), ("a", "1"), ("a", "2")]), Err(LabelError::Duplicate("a".into())));
        assert!(Labels::new([("__name__", "node:cpu:rate5m")]).is_ok());
    }
}
