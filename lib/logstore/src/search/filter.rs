//! [`LogFilter`]: the user's query string plus the structured filters, as one tantivy query.

use std::ops::Bound;

use tantivy::{
    query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, QueryParserError, RangeQuery, TermQuery},
    query_grammar::{UserInputAst, UserInputLeaf},
    schema::{Field, IndexRecordOption},
    tokenizer::TokenizerManager,
    Term,
};

use crate::{LogSchema, LogStoreError};

/// Longest query string accepted.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// Longest regular expression (`message:/.../`) accepted: the automaton built from it is
/// matched against whole term dictionaries.
pub const MAX_REGEX_BYTES: usize = 256;

/// What to match: `q` in tantivy's Lucene-like syntax (message by default, AND between terms)
/// and exact filters. Empty `q` matches everything.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub q: String,
    /// Event time from (inclusive), ms.
    pub start_ms: Option<i64>,
    /// Event time until (exclusive), ms.
    pub end_ms: Option<i64>,
    pub service: Option<String>,
    pub host: Option<String>,
    pub level: Option<String>,
    pub source: Option<String>,
    /// Arrival time from (inclusive), ms: used by the live tail.
    pub ingest_from_ms: Option<i64>,
}

impl LogFilter {
    pub fn to_query(&self, schema: &LogSchema) -> Result<Box<dyn Query>, LogStoreError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let q = self.q.trim();
        if q.len() > MAX_QUERY_BYTES {
            return Err(LogStoreError::OverLimit(format!(
                "query is {} bytes, over the limit of {MAX_QUERY_BYTES} bytes",
                q.len()
            )));
        }
        if !q.is_empty() && q != "*" {
            clauses.push((Occur::Must, parse_user_query(schema, q)?));
        }
        for (field, value) in [
            (schema.service, &self.service),
            (schema.host, &self.host),
            (schema.level, &self.level),
            (schema.source, &self.source),
        ] {
            if let Some(value) = value {
                clauses.push((Occur::Must, exact(field, value)));
            }
        }
        if self.start_ms.is_some() || self.end_ms.is_some() {
            clauses.push((Occur::Must, i64_range(schema.timestamp, self.start_ms, self.end_ms)));
        }
        if self.ingest_from_ms.is_some() {
            clauses.push((Occur::Must, i64_range(schema.ingest_time, self.ingest_from_ms, None)));
        }
        Ok(match clauses.len() {
            0 => Box::new(AllQuery),
            1 => clauses.pop().expect("one clause").1,
            _ => Box::new(BooleanQuery::new(clauses)),
        })
    }
}

pub(crate) fn exact(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
}

pub(crate) fn i64_range(field: Field, from: Option<i64>, until: Option<i64>) -> Box<dyn Query> {
    let lower = from.map_or(Bound::Unbounded, |v| Bound::Included(Term::from_field_i64(field, v)));
    let upper = until.map_or(Bound::Unbounded, |v| Bound::Excluded(Term::from_field_i64(field, v)));
    Box::new(RangeQuery::new(lower, upper))
}

fn parse_user_query(schema: &LogSchema, q: &str) -> Result<Box<dyn Query>, LogStoreError> {
    if let Ok(ast) = tantivy::query_grammar::parse_query(q) {
        check_regex_lengths(&ast)?;
    }
    let mut parser = QueryParser::new(schema.schema.clone(), vec![schema.message], TokenizerManager::default());
    parser.set_conjunction_by_default();
    parser.allow_regexes();
    parser.parse_query(q).map_err(|error| describe_parse_error(schema, q, error))
}

fn check_regex_lengths(ast: &UserInputAst) -> Result<(), LogStoreError> {
    match ast {
        UserInputAst::Clause(clauses) => clauses.iter().try_for_each(|(_, clause)| check_regex_lengths(clause)),
        UserInputAst::Boost(inner, _) => check_regex_lengths(inner),
        UserInputAst::Leaf(leaf) => match leaf.as_ref() {
            UserInputLeaf::Regex { pattern, .. } if pattern.len() > MAX_REGEX_BYTES => {
                Err(LogStoreError::OverLimit(format!(
                    "regular expression of {} bytes in q, over the limit of {MAX_REGEX_BYTES} bytes",
                    pattern.len()
                )))
            }
            _ => Ok(()),
        },
    }
}

/// Turns tantivy's parse errors into messages that say where and what to do.
fn describe_parse_error(schema: &LogSchema, q: &str, error: QueryParserError) -> LogStoreError {
    let known = schema.field_names().join(", ");
    let message = match error {
        QueryParserError::SyntaxError(_) => {
            let (_, errors) = tantivy::query_grammar::parse_query_lenient(q);
            match errors.first() {
                Some(first) => format!("syntax error in q at position {}: {}", first.pos, first.message),
                None => "syntax error in q: check quotes, parentheses and ranges".to_string(),
            }
        }
        QueryParserError::FieldDoesNotExist(field) => {
            format!("unknown field '{field}' in q: the fields are {known} (quote a value that contains ':')")
        }
        QueryParserError::ExpectedInt(_) | QueryParserError::ExpectedBase64(_) | QueryParserError::ExpectedFloat(_) => {
            format!("invalid value in q: {error} (timestamp, ingest_time and offset take integers)")
        }
        other => format!("invalid q: {other}"),
    };
    LogStoreError::BadQuery(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(q: &str) -> String {
        let filter = LogFilter { q: q.to_string(), ..Default::default() };
        match filter.to_query(&LogSchema::new()) {
            Err(LogStoreError::BadQuery(message)) => message,
            other => panic!("expected a bad query error for {q:?}, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn unknown_field_is_named() {
        let message = bad("colour:red");
        assert!(message.contains("'colour'"), "{message}");
    }

    #[test]
    fn syntax_error_gives_position() {
        let message = bad("message:\"unclosed");
        assert!(message.contains("position"), "{message}");
    }

    #[test]
    fn long_regexes_are_refused_naming_the_limit() {
        let filter = LogFilter { q: format!("message:/{}/", "a".repeat(300)), ..Default::default() };
        match filter.to_query(&LogSchema::new()) {
            Err(LogStoreError::OverLimit(message)) => assert!(message.contains("256"), "{message}"),
            other => panic!("expected a limit error, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn valid_queries_parse() {
        for q in [
            "error",
            "level:error AND NOT timeout",
            "\"connection refused\"",
            "attributes.status:500",
            "offset:[10 TO 20]",
            "conn*",
            "message:/err.r/",
        ] {
            let filter = LogFilter { q: q.to_string(), ..Default::default() };
            if let Err(error) = filter.to_query(&LogSchema::new()) {
                panic!("{q}: {error}");
            }
        }
    }
}
