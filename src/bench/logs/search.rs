//! Search latency over the indexed corpus, and `grep -c` over the same bytes as baseline.

use std::{
    io::Write,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use vigil_logstore::{
    search::{self, LogFilter, SearchRequest},
    LogReader, LogSchema,
};

use super::corpus::Corpus;
use crate::bench::report::{percentile, Report};

pub struct SearchFigures {
    per_query: Vec<(&'static str, f64, f64)>,
    p50_ms: f64,
    p99_ms: f64,
    grep_ms: f64,
    needle_p50_ms: f64,
}

impl SearchFigures {
    pub fn add_to(&self, report: &mut Report) {
        for (name, p50, p99) in &self.per_query {
            report.add(&format!("search_{name}_p50_ms"), *p50, "ms");
            report.add(&format!("search_{name}_p99_ms"), *p99, "ms");
        }
        report.add("search_p50_ms", self.p50_ms, "ms");
        report.add("search_p99_ms", self.p99_ms, "ms");
        report.add("grep_c_needle_ms", self.grep_ms, "ms");
        report.add("search_needle_speedup_vs_grep", self.grep_ms / self.needle_p50_ms.max(0.001), "x");
        report.add("search_p99_speedup_vs_grep", self.grep_ms / self.p99_ms.max(0.001), "x");
    }
}

fn queries(corpus: &Corpus) -> Vec<(&'static str, LogFilter)> {
    let q = |text: &str| LogFilter { q: text.to_string(), ..Default::default() };
    vec![
        ("needle", q(&corpus.needle)),
        ("word", q("exception")),
        ("phrase", q("\"connection closed\"")),
        ("bool", q("error AND NOT timeout")),
        ("service_filter", LogFilter { q: "failed".into(), service: Some("openssh-3".into()), ..Default::default() }),
        ("level_filter", LogFilter { level: Some("error".into()), host: Some("host-7".into()), ..Default::default() }),
    ]
}

pub fn measure(logs_dir: &Path, corpus: &Corpus, corpus_file: &Path, repeats: usize) -> anyhow::Result<SearchFigures> {
    let reader = LogReader::new(logs_dir, LogSchema::new());
    // Opening the splits is a server start-up cost, not a query's.
    reader.searchers()?;
    let mut all = Vec::new();
    let mut per_query = Vec::new();
    let mut needle_p50 = 0.0;
    for (name, filter) in queries(corpus) {
        let request = SearchRequest { filter, limit: 100, ..Default::default() };
        let mut times = Vec::new();
        for _ in 0..repeats.max(1) {
            let started = Instant::now();
            let found = search::search(&reader, &request, Instant::now() + Duration::from_secs(60))?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if name == "needle" {
                anyhow::ensure!(found.total == 1, "the needle matched {} lines, not 1", found.total);
            }
        }
        let (p50, p99) = (percentile(&mut times, 50.0), percentile(&mut times, 99.0));
        if name == "needle" {
            needle_p50 = p50;
        }
        per_query.push((name, p50, p99));
        all.extend(times);
    }
    write_corpus(corpus, corpus_file)?;
    let mut grep_times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let output = Command::new("grep").arg("-c").arg(&corpus.needle).arg(corpus_file).output()?;
        grep_times.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(String::from_utf8_lossy(&output.stdout).trim() == "1", "grep found the needle more than once");
    }
    std::fs::remove_file(corpus_file).ok();
    Ok(SearchFigures {
        per_query,
        p50_ms: percentile(&mut all, 50.0),
        p99_ms: percentile(&mut all, 99.0),
        grep_ms: percentile(&mut grep_times, 50.0),
        needle_p50_ms: needle_p50,
    })
}

fn write_corpus(corpus: &Corpus, path: &Path) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (_, _, line) in &corpus.lines {
        file.write_all(line)?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(())
}
