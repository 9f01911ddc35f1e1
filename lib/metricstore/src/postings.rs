//! The inverted label index: label name → value → the sorted ids of the series that carry it.
//! The head and every block keep one; matchers select series through it.

use std::collections::BTreeMap;

use crate::{labels::Labels, matcher::Matcher};

#[derive(Debug, Default)]
pub struct Postings {
    lists: BTreeMap<String, BTreeMap<String, Vec<u32>>>,
}

impl Postings {
    /// Adds series `id`; ids must be added in increasing order so each list stays sorted.
    pub fn add(&mut self, id: u32, labels: &Labels) {
        for (name, value) in labels.iter() {
            self.lists.entry(name.to_string()).or_default().entry(value.to_string()).or_default().push(id);
        }
    }

    /// Takes series `id` out of every list.
    pub fn remove(&mut self, id: u32, labels: &Labels) {
        for (name, value) in labels.iter() {
            let Some(values) = self.lists.get_mut(name) else { continue };
            if let Some(ids) = values.get_mut(value) {
                if let Ok(at) = ids.binary_search(&id) {
                    ids.remove(at);
                }
                if ids.is_empty() {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                self.lists.remove(name);
            }
        }
    }

    /// Ids the matchers could select: narrowed by every matcher that a series without its
    /// label fails, else `None` (every series). The caller still checks each matcher on each
    /// candidate's labels.
    pub fn candidates(&self, matchers: &[Matcher]) -> Option<Vec<u32>> {
        let mut narrowed: Option<Vec<u32>> = None;
        for matcher in matchers.iter().filter(|m| !m.matches_empty()) {
            let mut ids: Vec<u32> = self
                .lists
                .get(&matcher.name)
                .map(|values| {
                    values
                        .iter()
                        .filter(|(value, _)| matcher.matches(value))
                        .flat_map(|(_, ids)| ids.iter().copied())
                        .collect()
                })
                .unwrap_or_default();
            ids.sort_unstable();
            ids.dedup();
            narrowed = Some(match narrowed {
                None => ids,
                Some(previous) => intersect(&previous, &ids),
            });
        }
        narrowed
    }

    /// The candidates of [`Postings::candidates`], or every id below `count` when no matcher
    /// narrows them.
    pub fn candidate_ids(&self, matchers: &[Matcher], count: u32) -> impl Iterator<Item = u32> {
        let narrowed = self.candidates(matchers);
        let all = narrowed.is_none().then_some(0..count);
        narrowed.into_iter().flatten().chain(all.into_iter().flatten())
    }

    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }

    pub fn label_values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.lists.get(name).into_iter().flat_map(|values| values.keys().map(String::as_str))
    }
}

/// Whether `labels` satisfy every matcher (a missing label counts as "").
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

/// The matchers [`Postings::candidate_ids`] does not apply exactly: those a series without
/// the label passes. The candidates satisfy every other one already, so only these are
/// checked on each candidate's labels (reading labels is a cache miss per series).
pub fn unindexed(matchers: &[Matcher]) -> Vec<Matcher> {
    matchers.iter().filter(|m| m.matches_empty()).cloned().collect()
}

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}
