//! Top-N search across splits, sorted by event time.

use std::time::Instant;

use tantivy::{
    collector::{Count, TopDocs},
    snippet::SnippetGenerator,
    DocAddress, Order, Searcher,
};
use vigil_model::search::LogHit;

use super::{check_deadline, LogFilter};
use crate::{hit::HitReader, schema::names, LogReader, LogStoreError};

/// `offset + limit` may not pass this: deep paging should narrow the time range instead.
pub const MAX_RESULT_WINDOW: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Newest first (the default).
    #[default]
    Desc,
    Asc,
}

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub filter: LogFilter,
    pub limit: usize,
    pub offset: usize,
    pub sort: SortOrder,
    /// Add HTML-escaped fragments with `<mark>` around the matches.
    pub highlight: bool,
}

#[derive(Debug, Clone)]
pub struct SearchHits {
    pub total: u64,
    pub hits: Vec<LogHit>,
}

/// Runs the search; stops with [`LogStoreError::Timeout`] once `deadline` passes.
pub fn search(reader: &LogReader, request: &SearchRequest, deadline: Instant) -> Result<SearchHits, LogStoreError> {
    let window = request.offset.saturating_add(request.limit);
    if window > MAX_RESULT_WINDOW {
        return Err(LogStoreError::OverLimit(format!(
            "offset + limit is {window}, over the result window limit of {MAX_RESULT_WINDOW}: narrow the time range instead of paging deeper"
        )));
    }
    let schema = reader.schema();
    let query = request.filter.to_query(schema)?;
    let searchers = reader.searchers()?;
    let order = match request.sort {
        SortOrder::Desc => Order::Desc,
        SortOrder::Asc => Order::Asc,
    };
    let mut total = 0u64;
    let mut candidates: Vec<(i64, usize, DocAddress)> = Vec::new();
    for (split, searcher) in searchers.iter().enumerate() {
        check_deadline(deadline)?;
        if window == 0 {
            total += searcher.search(&*query, &Count)? as u64;
            continue;
        }
        let top = TopDocs::with_limit(window).order_by_fast_field::<i64>(names::TIMESTAMP, order);
        let (count, docs) = searcher.search(&*query, &(Count, top))?;
        total += count as u64;
        candidates.extend(docs.into_iter().map(|(timestamp, address)| (timestamp.unwrap_or(0), split, address)));
    }
    // Ties keep split and document order, so equal timestamps come out in arrival order.
    candidates.sort_by(|a, b| {
        let by_time = match request.sort {
            SortOrder::Desc => b.0.cmp(&a.0),
            SortOrder::Asc => a.0.cmp(&b.0),
        };
        by_time.then((a.1, a.2).cmp(&(b.1, b.2)))
    });
    let mut snippets: Vec<Option<SnippetGenerator>> = (0..searchers.len()).map(|_| None).collect();
    let mut hits = Vec::with_capacity(request.limit);
    let hit_reader = HitReader::new(reader, &searchers);
    for (_, split, address) in candidates.into_iter().skip(request.offset).take(request.limit) {
        let searcher = &searchers[split];
        let (mut hit, doc) = hit_reader.read(split, address)?;
        if request.highlight && !request.filter.q.trim().is_empty() {
            let generator = match &mut snippets[split] {
                Some(generator) => generator,
                slot => slot.insert(snippet_generator(searcher, &*query, schema.message)?),
            };
            let mut snippet = generator.snippet_from_doc(&doc);
            snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
            // tantivy escapes the text before adding the markup.
            hit.highlight = Some(snippet.to_html());
        }
        hits.push(hit);
    }
    Ok(SearchHits { total, hits })
}

fn snippet_generator(
    searcher: &Searcher,
    query: &dyn tantivy::query::Query,
    field: tantivy::schema::Field,
) -> Result<SnippetGenerator, LogStoreError> {
    let mut generator = SnippetGenerator::create(searcher, query, field)?;
    generator.set_max_num_chars(400);
    Ok(generator)
}
