//! Merging one series' samples from several sources (blocks, the head, its out-of-order
//! buffer). Sources may overlap after a crash between writing a block and truncating the log,
//! or when late samples were compacted separately: a timestamp is kept once.

/// Merges time-sorted sample lists into one time-sorted list with unique timestamps. On equal
/// timestamps the later list wins (callers pass the freshest source last).
pub fn merge_samples(mut sources: Vec<Vec<(i64, f64)>>) -> Vec<(i64, f64)> {
    sources.retain(|source| !source.is_empty());
    if sources.len() <= 1 {
        return sources.pop().unwrap_or_default();
    }
    // The usual case: sources follow each other in time; join them.
    if sources.windows(2).all(|pair| pair[0].last().map(|s| s.0) < pair[1].first().map(|s| s.0)) {
        return sources.concat();
    }
    let mut all: Vec<(usize, i64, f64)> = sources
        .iter()
        .enumerate()
        .flat_map(|(rank, samples)| samples.iter().map(move |(time, value)| (rank, *time, *value)))
        .collect();
    // By time, and for one time the freshest source first, so dedup keeps it.
    all.sort_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
    all.dedup_by_key(|sample| sample.1);
    all.into_iter().map(|(_, time, value)| (time, value)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_in_sequence_are_joined_and_overlaps_keep_one_sample_per_time() {
        assert_eq!(merge_samples(vec![vec![(1, 1.0)], vec![], vec![(2, 2.0)]]), [(1, 1.0), (2, 2.0)]);
        assert_eq!(
            merge_samples(vec![vec![(1, 1.0), (3, 3.0)], vec![(2, 2.0), (3, 9.0)]]),
            [(1, 1.0), (2, 2.0), (3, 9.0)],
            "the later source wins a shared timestamp"
        );
        assert!(merge_samples(vec![]).is_empty());
    }
}
