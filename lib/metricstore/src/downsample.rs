//! Downsampling: a series' raw samples become, per window of `resolution` ms, the count, sum,
//! minimum and maximum of its values, plus the counter samples that keep rate() exact at
//! window boundaries (the first sample, each window's last sample and the last sample
//! before each reset). Long
//! range queries read these tiers instead of every raw sample (`store.rs` picks the tier).

use vigil_model::metrics::STALE_NAN_BITS;

use crate::{
    block::Stream,
    chunk::{encode_all, Chunk},
};

/// The tiers written for every raw block: 5 minutes and 1 hour.
pub const RESOLUTIONS_MS: [i64; 2] = [5 * 60_000, 3_600_000];

/// The aggregate streams of `samples` (time-sorted raw samples of one series). Stale markers
/// (a series' end) are not values and are left out. Chunks never cross `cut_every`.
pub fn downsample(samples: &[(i64, f64)], resolution_ms: i64, cut_every: i64) -> Vec<(Stream, Chunk)> {
    let mut count = Vec::new();
    let mut sum = Vec::new();
    let mut min = Vec::new();
    let mut max = Vec::new();
    let mut counter = Vec::new();
    let values = samples.iter().copied().filter(|(_, v)| !is_stale_marker(*v));
    let mut window: Option<Window> = None;
    let mut previous: Option<(i64, f64)> = None;
    for (time, value) in values {
        let index = time.div_euclid(resolution_ms);
        if window.as_ref().is_some_and(|w| w.index != index) {
            let done = window.take().expect("checked");
            done.emit(&mut count, &mut sum, &mut min, &mut max, &mut counter);
        }
        if let Some((before_time, before_value)) = previous {
            // A reset: keep the value it reset from, or rate() over the tier would miss the
            // increase before it.
            if value < before_value && counter.last().map(|(t, _)| *t) != Some(before_time) {
                counter.push((before_time, before_value));
            }
        }
        if previous.is_none() {
            // The series' first sample: without it the increase up to the first window's
            // end would be lost.
            counter.push((time, value));
        }
        window.get_or_insert(Window::new(index, time, value)).add(time, value);
        previous = Some((time, value));
    }
    if let Some(done) = window {
        done.emit(&mut count, &mut sum, &mut min, &mut max, &mut counter);
    }
    let mut chunks = Vec::new();
    for (stream, samples) in
        [(Stream::Count, count), (Stream::Sum, sum), (Stream::Min, min), (Stream::Max, max), (Stream::Counter, counter)]
    {
        chunks.extend(encode_all(samples, cut_every).into_iter().map(|chunk| (stream, chunk)));
    }
    chunks
}

struct Window {
    index: i64,
    last_time: i64,
    last_value: f64,
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Window {
    fn new(index: i64, time: i64, value: f64) -> Window {
        Window { index, last_time: time, last_value: value, count: 0.0, sum: 0.0, min: value, max: value }
    }

    fn add(&mut self, time: i64, value: f64) {
        self.last_time = time;
        self.last_value = value;
        self.count += 1.0;
        self.sum += value;
        // NaN values do not hide real ones, as in min_over_time.
        if value < self.min || self.min.is_nan() {
            self.min = value;
        }
        if value > self.max || self.max.is_nan() {
            self.max = value;
        }
    }

    /// Each aggregate is stamped with the window's last sample time: a query window that ends
    /// there sees the aggregate exactly when it would have seen the last raw sample.
    fn emit(
        self,
        count: &mut Vec<(i64, f64)>,
        sum: &mut Vec<(i64, f64)>,
        min: &mut Vec<(i64, f64)>,
        max: &mut Vec<(i64, f64)>,
        counter: &mut Vec<(i64, f64)>,
    ) {
        let time = self.last_time;
        count.push((time, self.count));
        sum.push((time, self.sum));
        min.push((time, self.min));
        max.push((time, self.max));
        if counter.last().map(|(t, _)| *t) != Some(time) {
            counter.push((time, self.last_value));
        }
    }
}

fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(chunks: &[(Stream, Chunk)], wanted: Stream) -> Vec<(i64, f64)> {
        chunks.iter().filter(|(s, _)| *s == wanted).flat_map(|(_, c)| c.iter()).collect()
    }

    #[test]
    fn windows_hold_count_sum_min_max_and_the_counter_keeps_resets() {
        // One sample a minute for 10 minutes; a counter that resets at minute 7.
        let values = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 5.0, 15.0, 25.0];
        let samples: Vec<(i64, f64)> = values.iter().enumerate().map(|(i, v)| (i as i64 * 60_000, *v)).collect();
        let chunks = downsample(&samples, 5 * 60_000, 0);
        assert_eq!(stream(&chunks, Stream::Count), [(240_000, 5.0), (540_000, 5.0)]);
        assert_eq!(stream(&chunks, Stream::Sum), [(240_000, 100.0), (540_000, 155.0)]);
        assert_eq!(stream(&chunks, Stream::Min), [(240_000, 0.0), (540_000, 5.0)]);
        assert_eq!(stream(&chunks, Stream::Max), [(240_000, 40.0), (540_000, 60.0)]);
        assert_eq!(
            stream(&chunks, Stream::Counter),
            [(0, 0.0), (240_000, 40.0), (360_000, 60.0), (540_000, 25.0)],
            "the value before the reset is kept, so the increase is 60 + 25"
        );
    }

    #[test]
    fn stale_markers_are_not_values() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let chunks = downsample(&[(0, 1.0), (1000, stale)], 60_000, 0);
        assert_eq!(stream(&chunks, Stream::Count), [(0, 1.0)]);
    }
}
