// Temporary experiment: where do index bytes go under different settings.
use std::collections::BTreeMap;
use tantivy::{
    schema::*,
    store::{Compressor, ZstdCompressor},
    Index, IndexSettings, TantivyDocument,
};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn main() {
    let rid = env("RID", "1") == "1";
    let record = match env("REC", "pos").as_str() {
        "basic" => IndexRecordOption::Basic,
        "freq" => IndexRecordOption::WithFreqs,
        _ => IndexRecordOption::WithFreqsAndPositions,
    };
    let level: i32 = env("LEVEL", "3").parse().unwrap();
    let block: usize = env("BLOCK", "65536").parse().unwrap();
    let target: u64 = env("BYTES", "50000000").parse().unwrap();
    let mut b = Schema::builder();
    let num = || NumericOptions::default().set_indexed().set_fast();
    let ts = b.add_i64_field("timestamp", if env("SLIM", "0") == "1" { num() } else { num().set_stored() });
    let kw = TextOptions::default()
        .set_stored()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        )
        .set_fast(Some("raw"));
    let kw2 = if env("SLIM", "0") == "1" && env("KW", "1") == "1" {
        TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false),
            )
            .set_fast(Some("raw"))
    } else {
        kw.clone()
    };
    let service = b.add_text_field("service", kw2.clone());
    let host = b.add_text_field("host", kw2.clone());
    let msg = b.add_text_field(
        "message",
        TextOptions::default().set_stored().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer("default").set_index_option(record).set_fieldnorms(false),
        ),
    );
    let off = b.add_u64_field("offset", if env("SLIM", "0") == "1" { num() } else { num().set_stored() });
    let schema = b.build();
    let dir = tempfile::tempdir().unwrap();
    let settings = IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor { compression_level: Some(level) }),
        docstore_blocksize: block,
        ..Default::default()
    };
    let index = Index::builder().schema(schema).settings(settings).create_in_dir(dir.path()).unwrap();
    let mut w = index.writer_with_num_threads::<TantivyDocument>(1, 128 << 20).unwrap();
    let mut files: Vec<_> = walk(std::path::Path::new("/work/shared/data/logs"));
    files.sort();
    let mut bytes = 0u64;
    let mut n = 0u64;
    let mut round = 0;
    let started = std::time::Instant::now();
    'outer: loop {
        for f in &files {
            let data = std::fs::read(f).unwrap();
            for line in data.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
                let mut s = String::from_utf8_lossy(line).into_owned();
                if rid {
                    s.push_str(&format!(" rid={:016x}", mix(n)));
                }
                bytes += s.len() as u64 + 1;
                n += 1;
                let mut d = TantivyDocument::new();
                d.add_i64(ts, 1_700_000_000_000 + n as i64 * 10);
                d.add_text(service, format!("svc-{}", round % 8));
                d.add_text(host, format!("host-{}", n % 50));
                d.add_text(msg, &s);
                d.add_u64(off, bytes);
                w.add_document(d).unwrap();
                if bytes >= target {
                    break 'outer;
                }
            }
        }
        round += 1;
    }
    w.commit().unwrap();
    w.wait_merging_threads().unwrap();
    let secs = started.elapsed().as_secs_f64();
    let mut by_ext: BTreeMap<String, u64> = BTreeMap::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let ext = p.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        *by_ext.entry(ext).or_default() += std::fs::metadata(&p).unwrap().len();
    }
    let total: u64 = by_ext.values().sum();
    print!(
        "rid={rid} rec={record:?} level={level} block={block}: total {:.3} ({:.1} MB/s)",
        total as f64 / bytes as f64,
        bytes as f64 / 1e6 / secs
    );
    for (k, v) in by_ext {
        if v > bytes / 200 {
            print!(" {k}={:.3}", v as f64 / bytes as f64);
        }
    }
    println!();
}
fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(p).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if !name.ends_with(".csv")
            && !name.ends_with(".md")
            && !name.starts_with("LICENSE")
            && name != "CITATION"
            && !name.contains("nginxplus")
        {
            out.push(p);
        }
    }
    out
}
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}
