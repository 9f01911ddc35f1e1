//! The evaluator: walks the parsed expression at one evaluation time. Selectors read from data
//! fetched once per query (the whole range a range query needs), so a range query costs one
//! storage read per selector, not one per step. In a range query, subtrees that `range/`
//! evaluated for every step at once are read from there instead of being evaluated again.

use std::collections::HashMap;

use promql_parser::{
    label::MatchOp as ParsedOp,
    parser::{Expr, MatrixSelector, Offset, VectorSelector},
};
use vigil_metricstore::{MatchOp, Matcher, SelectHints, SeriesSamples};

use crate::{
    aggregate, binary,
    error::{execution, unsupported, QueryError},
    functions,
    range::{
        self,
        columns::{at_step, Column, Steps},
        Precomputed,
    },
    value::{is_stale, Sample, Series, Value},
};

/// Where series come from.
pub trait Storage {
    /// Series matching every matcher with their samples in `[min_time, max_time]` (ms).
    /// `hints` say how the samples will be used, so a store may answer from a downsampled
    /// tier where that gives the same function result at a coarser grain.
    fn select(&self, matchers: &[Matcher], min_time: i64, max_time: i64, hints: &SelectHints) -> Vec<SeriesSamples>;

    /// `column` of each series `select` gives, in label order, leaving out the Nones. A store
    /// that can read series one by one overrides it, so that the query never holds all the
    /// samples at once (and may read them on several cores).
    fn select_columns(
        &self,
        matchers: &[Matcher],
        min_time: i64,
        max_time: i64,
        hints: &SelectHints,
        column: &(dyn Fn(SeriesSamples) -> Option<Column> + Sync),
    ) -> Vec<Column> {
        self.select(matchers, min_time, max_time, hints).into_iter().filter_map(column).collect()
    }
}

impl Storage for vigil_metricstore::MetricStore {
    fn select(&self, matchers: &[Matcher], min_time: i64, max_time: i64, hints: &SelectHints) -> Vec<SeriesSamples> {
        vigil_metricstore::MetricStore::select(self, matchers, min_time, max_time, hints)
    }

    fn select_columns(
        &self,
        matchers: &[Matcher],
        min_time: i64,
        max_time: i64,
        hints: &SelectHints,
        column: &(dyn Fn(SeriesSamples) -> Option<Column> + Sync),
    ) -> Vec<Column> {
        let columns = self.select_map(matchers, min_time, max_time, hints, column);
        columns.into_iter().flatten().collect()
    }
}

impl Storage for vigil_metricstore::Head {
    fn select(&self, matchers: &[Matcher], min_time: i64, max_time: i64, _hints: &SelectHints) -> Vec<SeriesSamples> {
        vigil_metricstore::Head::select(self, matchers, min_time, max_time)
    }
}

/// The most samples a query may hold: those read from storage plus one slot per series and
/// step of a range query (Prometheus's `--query.max-samples` default). Past it the query
/// fails with a clear error instead of exhausting memory.
pub const MAX_SAMPLES: usize = 50_000_000;

/// Prometheus's default: an instant selector looks back this far for a series' last sample.
pub const DEFAULT_LOOKBACK_MS: i64 = 5 * 60 * 1000;

pub struct Evaluator<'a> {
    storage: &'a dyn Storage,
    pub lookback_ms: i64,
    /// The query's first and last evaluation times: what to prefetch.
    start: i64,
    end: i64,
    /// Time between evaluations (0 for an instant query).
    step: i64,
    fetched: HashMap<String, Vec<SeriesSamples>>,
    /// Samples held so far, against [`MAX_SAMPLES`].
    loaded: usize,
    /// A range query's steps and the subtrees already evaluated at every one of them.
    precomputed: Option<(Steps, Precomputed)>,
}

impl<'a> Evaluator<'a> {
    pub fn new(storage: &'a dyn Storage, start: i64, end: i64, step: i64, lookback_ms: i64) -> Evaluator<'a> {
        Evaluator { storage, lookback_ms, start, end, step, fetched: HashMap::new(), loaded: 0, precomputed: None }
    }

    /// Has [`Evaluator::eval`] read the subtrees in `parts` at `steps` rather than evaluate them.
    pub fn use_precomputed(&mut self, steps: Steps, parts: Precomputed) {
        self.precomputed = (!parts.is_empty()).then_some((steps, parts));
    }

    pub fn eval(&mut self, expr: &Expr, time: i64) -> Result<Value, QueryError> {
        if let Some((steps, parts)) = &self.precomputed {
            if let (Some(computed), Some(index)) = (parts.get(&range::address(expr)), steps.index_of(time)) {
                return match computed {
                    Ok(columns) => Ok(Value::Vector(at_step(columns, index))),
                    Err(error) => Err(error.clone()),
                };
            }
        }
        match expr {
            Expr::NumberLiteral(number) => Ok(Value::Scalar(number.val)),
            Expr::StringLiteral(text) => Ok(Value::String(text.val.clone())),
            Expr::Paren(paren) => self.eval(&paren.expr, time),
            Expr::Unary(unary) => match self.eval(&unary.expr, time)? {
                Value::Scalar(value) => Ok(Value::Scalar(-value)),
                Value::Vector(samples) => {
                    let negated: Vec<Sample> = samples
                        .into_iter()
                        .map(|s| Sample { labels: s.labels.with_name_dropped(), value: -s.value })
                        .collect();
                    check_unique(&negated)?;
                    Ok(Value::Vector(negated))
                }
                other => Err(execution(format!("unary minus needs a scalar or a vector, not a {}", other.type_name()))),
            },
            Expr::VectorSelector(selector) => self.instant_vector(selector, time).map(Value::Vector),
            Expr::MatrixSelector(selector) => {
                self.range_vector(selector, time, None).map(|(series, _)| Value::Matrix(series))
            }
            Expr::Call(call) => functions::call(self, call, time),
            Expr::Aggregate(aggregation) => aggregate::eval(self, aggregation, time),
            Expr::Binary(binary) => binary::eval(self, binary, time),
            Expr::Subquery(_) => Err(unsupported("subqueries (expr[range:step])")),
            Expr::Extension(_) => Err(unsupported("extension expressions")),
        }
    }

    /// Each matching series' last sample in `(t - lookback, t]`, unless it is a stale marker.
    pub fn instant_vector(&mut self, selector: &VectorSelector, time: i64) -> Result<Vec<Sample>, QueryError> {
        let at = time - offset_ms(&selector.offset)?;
        let lookback = self.lookback_ms;
        let series = self.fetch(selector, lookback, None)?;
        Ok(series
            .iter()
            .filter_map(|series| {
                let end = series.samples.partition_point(|(t, _)| *t <= at);
                let (t, value) = *series.samples[..end].last()?;
                (t > at - lookback && !is_stale(value)).then(|| Sample { labels: series.labels.clone(), value })
            })
            .collect())
    }

    /// Each matching series' samples in `(t - range, t]` (stale markers left out), and that
    /// window's end in ms. `function` is what will be applied to each window, if anything.
    pub fn range_vector(
        &mut self,
        selector: &MatrixSelector,
        time: i64,
        function: Option<&str>,
    ) -> Result<(Vec<Series>, i64), QueryError> {
        let range = selector.range.as_millis() as i64;
        let at = time - offset_ms(&selector.vs.offset)?;
        let series = self.fetch(&selector.vs, range, function)?;
        let selected = series
            .iter()
            .filter_map(|series| {
                let from = series.samples.partition_point(|(t, _)| *t <= at - range);
                let to = series.samples.partition_point(|(t, _)| *t <= at);
                let points: Vec<(i64, f64)> =
                    series.samples[from..to].iter().copied().filter(|(_, value)| !is_stale(*value)).collect();
                (!points.is_empty()).then(|| Series { labels: series.labels.clone(), points })
            })
            .collect();
        Ok((selected, at))
    }

    /// `column` of each of the selector's series over the whole query, in label order. The
    /// series are not kept (unless an earlier [`Evaluator::fetch`] kept them); the columns,
    /// `steps` values each, count against [`MAX_SAMPLES`].
    pub fn fetch_columns(
        &mut self,
        selector: &VectorSelector,
        window: i64,
        function: Option<&str>,
        steps: usize,
        column: &(dyn Fn(SeriesSamples) -> Option<Column> + Sync),
    ) -> Result<Vec<Column>, QueryError> {
        if selector.at.is_some() {
            return Err(unsupported("the @ modifier"));
        }
        let offset = offset_ms(&selector.offset)?;
        let columns = match self.fetched.get(&fetch_key(selector, window, function)) {
            Some(series) => series.iter().cloned().filter_map(column).collect(),
            None => {
                let matchers = matchers_of(selector)?;
                let hints =
                    SelectHints { function: function.map(str::to_string), range_ms: window, step_ms: self.step };
                let (start, end) = (self.start - offset - window, self.end - offset);
                self.storage.select_columns(&matchers, start, end, &hints, column)
            }
        };
        self.loaded += columns.len() * steps;
        if self.loaded > MAX_SAMPLES {
            return Err(too_many_samples());
        }
        Ok(columns)
    }

    /// The selector's series over the whole query, read once.
    pub fn fetch(
        &mut self,
        selector: &VectorSelector,
        window: i64,
        function: Option<&str>,
    ) -> Result<&Vec<SeriesSamples>, QueryError> {
        if selector.at.is_some() {
            return Err(unsupported("the @ modifier"));
        }
        let offset = offset_ms(&selector.offset)?;
        let key = fetch_key(selector, window, function);
        if !self.fetched.contains_key(&key) {
            let matchers = matchers_of(selector)?;
            let hints = SelectHints { function: function.map(str::to_string), range_ms: window, step_ms: self.step };
            let series = self.storage.select(&matchers, self.start - offset - window, self.end - offset, &hints);
            let steps = if self.step > 0 { ((self.end - self.start) / self.step + 1) as usize } else { 1 };
            self.loaded += series.iter().map(|s| s.samples.len() + steps).sum::<usize>();
            if self.loaded > MAX_SAMPLES {
                return Err(too_many_samples());
            }
            self.fetched.insert(key.clone(), series);
        }
        Ok(&self.fetched[&key])
    }
}

fn fetch_key(selector: &VectorSelector, window: i64, function: Option<&str>) -> String {
    format!("{selector}|{window}|{}", function.unwrap_or(""))
}

fn too_many_samples() -> QueryError {
    execution(format!(
        "query processing would load more than {MAX_SAMPLES} samples into memory; narrow the selectors, shorten the range or raise the step"
    ))
}

pub fn offset_ms(offset: &Option<Offset>) -> Result<i64, QueryError> {
    Ok(match offset {
        None => 0,
        Some(Offset::Pos(duration)) => duration.as_millis() as i64,
        Some(Offset::Neg(duration)) => -(duration.as_millis() as i64),
    })
}

pub(crate) fn matchers_of(selector: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
    if !selector.matchers.or_matchers.is_empty() {
        return Err(unsupported("'or' between label matchers"));
    }
    let mut matchers = Vec::new();
    if let Some(name) = &selector.name {
        matchers.push(Matcher::equal("__name__", name.clone()));
    }
    for matcher in &selector.matchers.matchers {
        let op = match &matcher.op {
            ParsedOp::Equal => MatchOp::Equal,
            ParsedOp::NotEqual => MatchOp::NotEqual,
            ParsedOp::Re(_) => MatchOp::Regex,
            ParsedOp::NotRe(_) => MatchOp::NotRegex,
        };
        let matcher = Matcher::new(matcher.name.clone(), op, matcher.value.clone())
            .map_err(|error| execution(format!("invalid regular expression {:?}: {error}", matcher.value)))?;
        matchers.push(matcher);
    }
    Ok(matchers)
}

/// Refuses a vector holding two elements with the same labels (after a function or operator
/// dropped the metric name), as Prometheus does.
pub fn check_unique(samples: &[Sample]) -> Result<(), QueryError> {
    let mut seen = std::collections::HashSet::new();
    for sample in samples {
        if !seen.insert(&sample.labels) {
            return Err(execution("vector cannot contain metrics with the same labelset"));
        }
    }
    Ok(())
}
