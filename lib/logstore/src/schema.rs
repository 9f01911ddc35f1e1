//! The tantivy schema of log events, and conversion of events to and from documents.

use std::collections::BTreeMap;

use tantivy::{
    schema::{
        Field, IndexRecordOption, JsonObjectOptions, NumericOptions, OwnedValue, Schema, TextFieldIndexing, TextOptions,
    },
    TantivyDocument,
};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};
use vigil_model::LogEvent;

/// Field names users can put in a query (`level:error`, `attributes.status:500`).
pub mod names {
    pub const TIMESTAMP: &str = "timestamp";
    pub const INGEST_TIME: &str = "ingest_time";
    pub const SERVICE: &str = "service";
    pub const HOST: &str = "host";
    pub const LEVEL: &str = "level";
    pub const MESSAGE: &str = "message";
    pub const SOURCE: &str = "source";
    pub const OFFSET: &str = "offset";
    pub const ATTRIBUTES: &str = "attributes";
    pub const FLAGS: &str = "flags";
}

/// The schema and its fields, built once and shared by writers, readers and benchmarks.
#[derive(Clone, Debug)]
pub struct LogSchema {
    pub schema: Schema,
    /// Event time, ms since the epoch (fast: sorting, ranges, histograms).
    pub timestamp: Field,
    /// Arrival time, ms since the epoch (fast: live tail, retention checks).
    pub ingest_time: Field,
    pub service: Field,
    pub host: Field,
    pub level: Field,
    /// Full text, the default search field.
    pub message: Field,
    pub source: Field,
    /// Byte offset in the source file (fast: context queries sort by it).
    pub offset: Field,
    /// Labels and extracted fields as a JSON object of strings.
    pub attributes: Field,
    pub flags: Field,
}

impl Default for LogSchema {
    fn default() -> Self {
        LogSchema::new()
    }
}

impl LogSchema {
    /// Results are ordered by time, never by relevance, so no field keeps field norms (they
    /// would cost a byte per document and field for nothing). Fields kept in a fast column
    /// (timestamp, offset, service, host, level) are not also put in the doc store: a hit reads
    /// them from the column (see `hit.rs`), which keeps the doc store about a quarter smaller.
    pub fn new() -> LogSchema {
        let mut builder = Schema::builder();
        let number = || NumericOptions::default().set_indexed().set_fast();
        let timestamp = builder.add_i64_field(names::TIMESTAMP, number());
        let ingest_time = builder.add_i64_field(names::INGEST_TIME, number());
        let keyword = |fast: bool| {
            let options = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_index_option(IndexRecordOption::Basic)
                    .set_fieldnorms(false),
            );
            if fast {
                options.set_fast(Some("raw"))
            } else {
                options.set_stored()
            }
        };
        let service = builder.add_text_field(names::SERVICE, keyword(true));
        let host = builder.add_text_field(names::HOST, keyword(true));
        let level = builder.add_text_field(names::LEVEL, keyword(true));
        let source = builder.add_text_field(names::SOURCE, keyword(false));
        let flags = builder.add_text_field(names::FLAGS, keyword(false));
        let full_text = TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
            .set_fieldnorms(false);
        let message = builder.add_text_field(
            names::MESSAGE,
            TextOptions::default().set_stored().set_indexing_options(full_text.clone()),
        );
        let offset = builder.add_u64_field(names::OFFSET, number());
        // Attribute values are matched whole (`attributes.status:500`), as labels are: a
        // keyword index is a fraction of the size and cost of a full-text one.
        let exact_value = TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false);
        let attributes = builder.add_json_field(
            names::ATTRIBUTES,
            JsonObjectOptions::default().set_stored().set_indexing_options(exact_value),
        );
        LogSchema {
            schema: builder.build(),
            timestamp,
            ingest_time,
            service,
            host,
            level,
            message,
            source,
            offset,
            attributes,
            flags,
        }
    }

    /// The fields a query may name; anything else is rejected with its name.
    pub fn field_names(&self) -> Vec<&'static str> {
        use names::*;
        vec![TIMESTAMP, INGEST_TIME, SERVICE, HOST, LEVEL, MESSAGE, SOURCE, OFFSET, ATTRIBUTES, FLAGS]
    }

    pub fn to_document(&self, event: &LogEvent) -> TantivyDocument {
        let mut doc = TantivyDocument::new();
        doc.add_i64(self.timestamp, event.timestamp_ms);
        doc.add_i64(self.ingest_time, event.ingest_ms);
        doc.add_text(self.service, &event.service);
        doc.add_text(self.host, &event.host);
        if let Some(level) = event.level {
            doc.add_text(self.level, level.as_str());
        }
        doc.add_text(self.message, &event.message);
        doc.add_text(self.source, &event.source);
        doc.add_u64(self.offset, event.offset);
        if !event.attributes.is_empty() {
            let object: BTreeMap<String, OwnedValue> =
                event.attributes.iter().map(|(key, value)| (key.clone(), OwnedValue::Str(value.clone()))).collect();
            doc.add_object(self.attributes, object);
        }
        for flag in &event.flags {
            doc.add_text(self.flags, flag.as_str());
        }
        doc
    }
}

/// RFC 3339 in UTC with milliseconds, the timestamp format of every API answer.
pub fn format_timestamp(timestamp_ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(timestamp_ms) * 1_000_000)
        .ok()
        .and_then(|time| {
            let millis = time.millisecond();
            let base = time.replace_millisecond(0).ok()?.format(&Rfc3339).ok()?;
            // `base` ends in "Z"; insert the milliseconds before it.
            Some(format!("{}.{millis:03}Z", base.trim_end_matches('Z')))
        })
        .unwrap_or_else(|| timestamp_ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_with_millis() {
        assert_eq!(format_timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
    }
}
