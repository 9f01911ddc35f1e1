//! The exact neighbouring lines of one line of a source file, in file order.

use std::ops::Bound;

use tantivy::{
    collector::TopDocs,
    query::{BooleanQuery, Occur, Query, RangeQuery},
    DocAddress, Order, Term,
};
use vigil_model::search::{ContextResponse, LogHit};

use super::filter::exact;
use crate::{hit::HitReader, schema::names, LogReader, LogStoreError};

/// Most lines on either side.
pub const MAX_CONTEXT_LINES: usize = 1_000;

#[derive(Debug, Clone)]
pub struct ContextRequest {
    pub source: String,
    /// Narrows to one host when several ship files of the same path.
    pub host: Option<String>,
    pub offset: u64,
    pub before: usize,
    pub after: usize,
}

pub fn context(reader: &LogReader, request: &ContextRequest) -> Result<ContextResponse, LogStoreError> {
    if request.before > MAX_CONTEXT_LINES || request.after > MAX_CONTEXT_LINES {
        return Err(LogStoreError::OverLimit(format!("before and after are limited to {MAX_CONTEXT_LINES} lines")));
    }
    let schema = reader.schema();
    let searchers = reader.searchers()?;
    let base = |lower: Bound<u64>, upper: Bound<u64>| -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, exact(schema.source, &request.source))];
        if let Some(host) = &request.host {
            clauses.push((Occur::Must, exact(schema.host, host)));
        }
        let to_term = |bound: Bound<u64>| match bound {
            Bound::Included(v) => Bound::Included(Term::from_field_u64(schema.offset, v)),
            Bound::Excluded(v) => Bound::Excluded(Term::from_field_u64(schema.offset, v)),
            Bound::Unbounded => Bound::Unbounded,
        };
        clauses.push((Occur::Must, Box::new(RangeQuery::new(to_term(lower), to_term(upper)))));
        Box::new(BooleanQuery::new(clauses))
    };
    let fetch = |query: &dyn Query, limit: usize, order: Order| -> Result<Vec<(u64, LogHit)>, LogStoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut found: Vec<(u64, usize, DocAddress)> = Vec::new();
        for (split, searcher) in searchers.iter().enumerate() {
            let top = TopDocs::with_limit(limit).order_by_fast_field::<u64>(names::OFFSET, order);
            for (offset, address) in searcher.search(query, &top)? {
                found.push((offset.unwrap_or(0), split, address));
            }
        }
        found.sort_by_key(|(offset, split, address)| (*offset, *split, *address));
        if order == Order::Desc {
            found.reverse();
        }
        found.truncate(limit);
        let hits = HitReader::new(reader, &searchers);
        found.into_iter().map(|(offset, split, address)| Ok((offset, hits.read(split, address)?.0))).collect()
    };
    let line = fetch(&*base(Bound::Included(request.offset), Bound::Included(request.offset)), 1, Order::Asc)?;
    let mut before = fetch(&*base(Bound::Unbounded, Bound::Excluded(request.offset)), request.before, Order::Desc)?;
    before.reverse();
    let after = fetch(&*base(Bound::Excluded(request.offset), Bound::Unbounded), request.after, Order::Asc)?;
    Ok(ContextResponse {
        before: before.into_iter().map(|(_, hit)| hit).collect(),
        line: line.into_iter().next().map(|(_, hit)| hit),
        after: after.into_iter().map(|(_, hit)| hit).collect(),
    })
}
