//! Turns a matching document into a [`LogHit`]: the message, source, attributes and flags come
//! from the doc store; timestamp, offset, service, host and level from their fast columns
//! (they are not stored twice).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
};

use tantivy::{
    columnar::{Column, StrColumn},
    index::SegmentId,
    schema::Value,
    DocAddress, Searcher, SegmentReader, TantivyDocument,
};
use vigil_model::search::LogHit;

use crate::{
    schema::{format_timestamp, names},
    LogReader, LogSchema, LogStoreError,
};

/// The fast columns of one segment that a hit needs.
struct SegmentColumns {
    timestamp: Column<i64>,
    offset: Column<u64>,
    service: Option<StrColumn>,
    host: Option<StrColumn>,
    level: Option<StrColumn>,
}

impl SegmentColumns {
    fn open(segment: &SegmentReader) -> Result<SegmentColumns, LogStoreError> {
        let fast = segment.fast_fields();
        Ok(SegmentColumns {
            timestamp: fast.i64(names::TIMESTAMP)?,
            offset: fast.u64(names::OFFSET)?,
            service: fast.str(names::SERVICE)?,
            host: fast.str(names::HOST)?,
            level: fast.str(names::LEVEL)?,
        })
    }
}

/// Open columns by segment, kept across queries: segments never change, and opening the five
/// columns of every segment a result touches would cost more than the query itself.
#[derive(Default)]
pub(crate) struct ColumnCache(Mutex<HashMap<SegmentId, Arc<SegmentColumns>>>);

impl ColumnCache {
    fn get(&self, segment: &SegmentReader) -> Result<Arc<SegmentColumns>, LogStoreError> {
        let id = segment.segment_id();
        if let Some(columns) = self.lock().get(&id) {
            return Ok(columns.clone());
        }
        let columns = Arc::new(SegmentColumns::open(segment)?);
        self.lock().insert(id, columns.clone());
        Ok(columns)
    }

    /// Forgets segments that merges or retention removed.
    pub(crate) fn retain(&self, live: &HashSet<SegmentId>) {
        self.lock().retain(|id, _| live.contains(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<SegmentColumns>>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Reads hits from the searchers of one query.
pub(crate) struct HitReader<'a> {
    schema: &'a LogSchema,
    searchers: &'a [Searcher],
    cache: &'a ColumnCache,
}

impl<'a> HitReader<'a> {
    pub(crate) fn new(reader: &'a LogReader, searchers: &'a [Searcher]) -> Self {
        HitReader { schema: reader.schema(), searchers, cache: reader.columns() }
    }

    /// The hit at `address` of split `split`, with its stored document (for highlighting).
    pub(crate) fn read(&self, split: usize, address: DocAddress) -> Result<(LogHit, TantivyDocument), LogStoreError> {
        let searcher = &self.searchers[split];
        let doc: TantivyDocument = searcher.doc(address)?;
        let columns = self.cache.get(searcher.segment_reader(address.segment_ord))?;
        let row = address.doc_id;
        let schema = self.schema;
        let stored = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let mut attributes = BTreeMap::new();
        if let Some(object) = doc.get_first(schema.attributes).and_then(|v| v.as_object()) {
            for (key, value) in object {
                if let Some(value) = value.as_str() {
                    attributes.insert(key.to_string(), value.to_string());
                }
            }
        }
        let hit = LogHit {
            timestamp: format_timestamp(columns.timestamp.first(row).unwrap_or(0)),
            service: keyword(columns.service.as_ref(), row)?.unwrap_or_default(),
            host: keyword(columns.host.as_ref(), row)?.unwrap_or_default(),
            level: keyword(columns.level.as_ref(), row)?,
            message: stored(schema.message),
            source: stored(schema.source),
            offset: columns.offset.first(row).unwrap_or(0),
            attributes,
            flags: doc.get_all(schema.flags).filter_map(|v| v.as_str().map(str::to_string)).collect(),
            highlight: None,
        };
        Ok((hit, doc))
    }
}

/// The value of a single-valued keyword column at `row`, if the document has one.
fn keyword(column: Option<&StrColumn>, row: u32) -> Result<Option<String>, LogStoreError> {
    let Some(column) = column else { return Ok(None) };
    let Some(ord) = column.term_ords(row).next() else { return Ok(None) };
    let mut value = String::new();
    column.ord_to_str(ord, &mut value).map_err(tantivy::TantivyError::from)?;
    Ok(Some(value))
}
