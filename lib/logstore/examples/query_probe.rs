// Temporary experiment: first vs later query latency on a kept index.
use std::time::{Duration, Instant};
use vigil_logstore::{
    search::{self, LogFilter, SearchRequest},
    LogReader, LogSchema,
};
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let t = Instant::now();
    let reader = LogReader::new(std::path::Path::new(&dir), LogSchema::new());
    reader.searchers().unwrap();
    println!("open {:?}", t.elapsed());
    for q in std::env::args().skip(2) {
        let mut times = vec![];
        for _ in 0..31 {
            let request = SearchRequest {
                filter: LogFilter { q: q.clone(), ..Default::default() },
                limit: std::env::var("LIMIT").map(|v| v.parse().unwrap()).unwrap_or(100),
                ..Default::default()
            };
            let t = Instant::now();
            let found = search::search(&reader, &request, Instant::now() + Duration::from_secs(60)).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            let _ = found.total;
        }
        let first = times[0];
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{q}: first {first:.2} ms, median {:.3} ms", times[15]);
    }
}
