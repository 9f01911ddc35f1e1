//! `vigil bench logs`: the log path measured against baselines run on the same machine in
//! the same run.
//!
//! - ingest: embedded bus -> pipeline (decode, parse, index) -> durable commit, vs a bare
//!   tantivy harness indexing the same documents with the same schema;
//! - index size over raw size (doc store included);
//! - search p50 / p99 for fixed needle and filter queries vs `grep -c` over the same bytes;
//! - freshness: a line posted to a running server -> searchable.
//!
//! Prints a table, then one JSON line with every figure and ratio.

pub(super) mod corpus;
mod freshness;
mod ingest;

mod search;

use std::path::PathBuf;

use anyhow::Context;

use crate::bench::report::{median, Report};

#[derive(Debug, clap::Args)]
pub struct LogsBenchArgs {
    /// Bytes of log lines to generate from the shared corpus (varied hosts, services, ids).
    #[arg(long, default_value_t = 256 << 20)]
    pub bytes: u64,
    /// Ingest runs (the figures are medians).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Executions of each search query.
    #[arg(long, default_value_t = 20)]
    pub search_repeats: usize,
    /// Lines posted for the freshness measurement.
    #[arg(long, default_value_t = 30)]
    pub freshness_samples: usize,
    /// The shared data directory (default: ../shared/data, or VIGIL_SHARED_DATA).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Scratch directory (default: a temporary directory, deleted afterwards).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Keep the scratch directory (the last run's index) for inspection.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(args: LogsBenchArgs) -> anyhow::Result<()> {
    let data = args
        .data
        .clone()
        .or_else(|| std::env::var_os("VIGIL_SHARED_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let scratch = tempfile::Builder::new()
        .prefix("vigil-bench-")
        .tempdir_in(args.work_dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let corpus = corpus::generate(&data.join("logs"), args.bytes).context("failed to build the corpus")?;
    eprintln!("corpus: {} lines, {:.1} MB from {}", corpus.lines.len(), corpus.bytes as f64 / 1e6, data.display());

    let mut report = Report::default();
    let mut e2e = Vec::new();
    let mut bare = Vec::new();
    let mut last_index = None;
    for run in 0..args.runs.max(1) {
        let dir = scratch.path().join(format!("run-{run}"));
        let measured = ingest::end_to_end(&corpus, &dir).await?;
        eprintln!("run {run}: end-to-end {:.1} MB/s", measured.mb_per_s);
        e2e.push(measured);
        let baseline = ingest::bare_tantivy(&corpus, &dir.join("bare")).await?;
        eprintln!("run {run}: bare tantivy {:.1} MB/s", baseline.mb_per_s);
        bare.push(baseline);
        if let Some(previous) = last_index.replace(dir.clone()) {
            std::fs::remove_dir_all(previous).ok();
        }
    }
    let e2e_mb = median(e2e.iter().map(|m| m.mb_per_s).collect());
    let bare_mb = median(bare.iter().map(|m| m.mb_per_s).collect());
    report.add("corpus_bytes", corpus.bytes as f64, "B");
    report.add("corpus_lines", corpus.lines.len() as f64, "lines");
    report.add("ingest_e2e_mb_per_s", e2e_mb, "MB/s");
    report.add("ingest_e2e_lines_per_s", median(e2e.iter().map(|m| m.lines_per_s).collect()), "lines/s");
    report.add("ingest_e2e_cpu_cores", median(e2e.iter().map(|m| m.cpu_cores).collect()), "cores");
    report.add(
        "ingest_e2e_mb_per_s_per_core",
        median(e2e.iter().map(|m| m.mb_per_s / m.cpu_cores.max(0.01)).collect()),
        "MB/s",
    );
    report.add("ingest_bare_tantivy_mb_per_s", bare_mb, "MB/s");
    report.add("ingest_bare_tantivy_cpu_cores", median(bare.iter().map(|m| m.cpu_cores).collect()), "cores");
    report.add(
        "ingest_bare_tantivy_mb_per_s_per_core",
        median(bare.iter().map(|m| m.mb_per_s / m.cpu_cores.max(0.01)).collect()),
        "MB/s",
    );
    // Each run measures both back to back, so the per-run ratio cancels most of the noise of a
    // shared machine; the figure is the median of those ratios.
    let ratios = e2e.iter().zip(&bare).map(|(e, b)| e.mb_per_s / b.mb_per_s).collect();
    report.add("ingest_ratio_e2e_vs_bare", median(ratios), "x");
    let index_dir = last_index.context("at least one run")?;
    let index_bytes = ingest::dir_bytes(&index_dir.join("logs"))?;
    report.add("index_bytes", index_bytes as f64, "B");
    report.add("index_bytes_over_raw", index_bytes as f64 / corpus.bytes as f64, "x");

    let searched =
        search::measure(&index_dir.join("logs"), &corpus, &scratch.path().join("corpus.log"), args.search_repeats)?;
    searched.add_to(&mut report);

    let fresh = freshness::measure(&scratch.path().join("freshness"), args.freshness_samples).await?;
    report.add("freshness_p50_ms", fresh.p50_ms, "ms");
    report.add("freshness_p99_ms", fresh.p99_ms, "ms");

    report.print();
    if args.keep {
        eprintln!("kept {}", scratch.keep().display());
    }
    Ok(())
}
