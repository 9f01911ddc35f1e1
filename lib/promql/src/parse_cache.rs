//! Parsed queries, kept by their text. Dashboards send the same few queries again and again,
//! and `promql-parser` rebuilds its grammar tables on every call: parsing was about a tenth of
//! a small instant query's time. A clone of the tree costs a fraction of that.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
};

use promql_parser::parser::Expr;

/// Distinct query texts kept; past it the cache starts over (simple, and a working set of
/// dashboards is far smaller).
const CAPACITY: usize = 1_000;

/// Query texts longer than this are parsed every time: they are rarely repeated verbatim, and
/// the cache stays small.
const LONGEST_CACHED: usize = 4_096;

fn cache() -> &'static Mutex<HashMap<String, Expr>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Expr>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// `parse(query)`, from the cache when this text was parsed before. Errors are not kept.
pub fn parse_cached(query: &str, parse: impl FnOnce(&str) -> Result<Expr, String>) -> Result<Expr, String> {
    if query.len() > LONGEST_CACHED {
        return parse(query);
    }
    // A poisoned lock only means another query panicked while holding it; the map is intact.
    if let Some(expr) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(query) {
        return Ok(expr.clone());
    }
    let expr = parse(query)?;
    let mut cache = cache().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(query.to_string(), expr.clone());
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_query_is_parsed_once_and_errors_are_parsed_again() {
        let calls = std::cell::Cell::new(0);
        let counting = |text: &str| {
            calls.set(calls.get() + 1);
            promql_parser::parser::parse(text)
        };
        let query = "sum by (job) (rate(parse_cache_test_total[5m]))";
        let first = parse_cached(query, counting).expect("valid");
        let second = parse_cached(query, counting).expect("valid");
        assert_eq!(first.to_string(), second.to_string());
        assert_eq!(calls.get(), 1);
        assert!(parse_cached("sum(", counting).is_err());
        assert!(parse_cached("sum(", counting).is_err());
        assert_eq!(calls.get(), 3);
    }
}
