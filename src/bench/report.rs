//! The benchmark's output: an aligned table on stdout, then one JSON line.

use std::collections::BTreeMap;

#[derive(Default)]
pub struct Report {
    rows: Vec<(String, f64, &'static str)>,
}

impl Report {
    pub fn add(&mut self, name: &str, value: f64, unit: &'static str) {
        self.rows.push((name.to_string(), value, unit));
    }

    pub fn print(&self) {
        let width = self.rows.iter().map(|(name, _, _)| name.len()).max().unwrap_or(10);
        for (name, value, unit) in &self.rows {
            println!("{name:<width$}  {value:>14.3} {unit}");
        }
        let json: BTreeMap<&str, f64> =
            self.rows.iter().map(|(name, value, _)| (name.as_str(), round(*value))).collect();
        println!("{}", serde_json::to_string(&json).expect("numbers serialize"));
    }
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

pub fn median(mut values: Vec<f64>) -> f64 {
    percentile(&mut values, 50.0)
}

/// Nearest-rank percentile; 0 for no values.
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}
