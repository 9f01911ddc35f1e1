//! Range queries evaluated series-major. The per-step evaluator (`eval.rs`) walks the whole
//! expression once per step, visiting every series at every step with binary searches and
//! fresh allocations. Here the shapes that dominate dashboards are evaluated for all steps at
//! once instead: selectors and range functions slide a window along each series
//! (`window.rs`); aggregations and `histogram_quantile` group each series once
//! (`aggregate.rs`); element-wise operations map the values (`elementwise.rs`).
//!
//! [`precompute`] walks the expression top-down. A subtree of supported shapes becomes
//! [`Column`]s (`columns.rs`). When the root is such a subtree the query's result is made
//! from its columns directly; otherwise the largest such subtrees are handed to the
//! per-step evaluator, which reads one step out of them instead of evaluating them.
//!
//! Invariants: a subtree is computed here only with the same functions, data and element
//! order the per-step evaluator uses, so the results are the same to the bit
//! (`tests/range_matches_instant.rs` checks this). An error found here is kept with the
//! subtree and surfaces only where the per-step evaluator would have evaluated it.

mod aggregate;
pub mod columns;
mod elementwise;
mod window;

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, BinaryExpr, Call, Expr, MatrixSelector, VectorSelector};

use self::columns::{Column, Steps};
use crate::{
    aggregate::is_combining,
    binary,
    error::QueryError,
    eval::{offset_ms, Evaluator},
    functions::math_function,
    over_time::WindowFunction,
};

/// Columns of a subtree, or the error evaluating it gave.
pub type Computed = Result<Vec<Column>, QueryError>;

/// Subtrees computed ahead for the per-step evaluator, keyed by [`address`].
pub type Precomputed = HashMap<usize, Computed>;

/// Where an expression node lives: the key of [`Precomputed`]. The parsed expression is
/// borrowed, unmoved, for the whole query, so an address names one node.
pub fn address(expr: &Expr) -> usize {
    expr as *const Expr as usize
}

/// Evaluates what it can of `expr` series-major over `steps`: Some with the root's columns
/// when that is the whole expression; otherwise None, and the evaluator holds the subtrees
/// that were.
pub fn precompute(evaluator: &mut Evaluator<'_>, expr: &Expr, steps: Steps) -> Option<Computed> {
    let mut planner = Planner { evaluator, steps, parts: HashMap::new() };
    let whole = planner.columns(expr);
    let parts = planner.parts;
    evaluator.use_precomputed(steps, parts);
    whole
}

struct Planner<'e, 'a> {
    evaluator: &'e mut Evaluator<'a>,
    steps: Steps,
    parts: Precomputed,
}

impl Planner<'_, '_> {
    /// The columns of `expr` if it is a supported shape. If it is not, the supported
    /// subtrees under it are kept in `parts` and the answer is None.
    fn columns(&mut self, expr: &Expr) -> Option<Computed> {
        match expr {
            Expr::Paren(paren) => self.columns(&paren.expr),
            Expr::VectorSelector(selector) => Some(self.selector(selector)),
            Expr::Call(call) => self.call(call),
            Expr::Aggregate(aggregation) => self.aggregate(aggregation),
            Expr::Binary(binary) => self.binary(binary),
            Expr::Unary(unary) => {
                let input = self.columns(&unary.expr)?;
                Some(input.and_then(elementwise::negate))
            }
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::MatrixSelector(_)
            | Expr::Subquery(_)
            | Expr::Extension(_) => None,
        }
    }

    /// `expr` is an operand of a node evaluated per step: its columns, if it has them, are
    /// kept for the per-step evaluator to read.
    fn keep(&mut self, expr: &Expr) {
        if let Some(computed) = self.columns(expr) {
            self.parts.insert(address(expr), computed);
        }
    }

    fn selector(&mut self, selector: &VectorSelector) -> Computed {
        let offset = offset_ms(&selector.offset)?;
        let (lookback, steps) = (self.evaluator.lookback_ms, self.steps);
        let column = |series| window::instant(&series, steps, offset, lookback);
        self.evaluator.fetch_columns(selector, lookback, None, steps.count, &column)
    }

    fn over_range(&mut self, selector: &MatrixSelector, name: &str, function: WindowFunction) -> Computed {
        let offset = offset_ms(&selector.vs.offset)?;
        let range = selector.range.as_millis() as i64;
        let steps = self.steps;
        let column = |series| window::over_range(series, steps, offset, range, function);
        self.evaluator.fetch_columns(&selector.vs, range, Some(name), steps.count, &column)
    }

    fn call(&mut self, call: &Call) -> Option<Computed> {
        let name = call.func.name;
        let args: Vec<&Expr> = call.args.args.iter().map(|arg| arg.as_ref()).collect();
        // quantile_over_time(q, m[r]) takes q first; the other range functions take m[r] only.
        let (q, range_arg) = match (name, args.as_slice()) {
            ("quantile_over_time", [q, range_arg]) => (literal(q), Some(*range_arg)),
            (_, [range_arg]) => (Some(f64::NAN), Some(*range_arg)),
            _ => (None, None),
        };
        let function = q.and_then(|q| WindowFunction::parse(name, q));
        if let (Some(function), Some(selector)) = (function, range_arg.and_then(matrix_selector)) {
            return Some(self.over_range(selector, name, function));
        }
        if let (Some(f), [arg]) = (math_function(name), args.as_slice()) {
            let input = self.columns(arg)?;
            return Some(input.map(|columns| elementwise::map(columns, f)));
        }
        if let ("histogram_quantile", [q, arg]) = (name, args.as_slice()) {
            if let Some(q) = literal(q) {
                let input = self.columns(arg)?;
                return Some(input.and_then(|columns| aggregate::histogram_quantile(q, &columns, self.steps)));
            }
        }
        for arg in args {
            self.keep(arg);
        }
        None
    }

    fn aggregate(&mut self, aggregation: &AggregateExpr) -> Option<Computed> {
        let op = aggregation.op.to_string().to_lowercase();
        // Only quantile's parameter is used by a combining aggregation; only a literal one is
        // known to be the same at every step.
        let param = match op.as_str() {
            "quantile" => aggregation.param.as_deref().and_then(literal),
            _ => None,
        };
        if !is_combining(&op) || (op == "quantile" && param.is_none()) {
            if let Some(param) = &aggregation.param {
                self.keep(param);
            }
            self.keep(&aggregation.expr);
            return None;
        }
        let input = self.columns(&aggregation.expr)?;
        let modifier = aggregation.modifier.as_ref();
        Some(input.and_then(|columns| aggregate::combine_groups(&op, param, modifier, &columns, self.steps)))
    }

    /// A vector and a literal scalar; anything else between two vectors is per step.
    fn binary(&mut self, binary: &BinaryExpr) -> Option<Computed> {
        let op = binary.op.to_string().to_lowercase();
        let filling =
            binary.modifier.as_ref().is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some());
        let operation = elementwise::ScalarOperation {
            op: &op,
            comparison: binary.op.is_comparison_operator(),
            return_bool: binary.return_bool(),
        };
        let supported = !filling && binary::apply(&op, 1.0, 1.0).is_ok();
        match (literal(&binary.lhs), literal(&binary.rhs)) {
            (None, Some(scalar)) if supported => {
                let input = self.columns(&binary.lhs)?;
                Some(input.and_then(|columns| operation.apply(columns, scalar, false)))
            }
            (Some(scalar), None) if supported => {
                let input = self.columns(&binary.rhs)?;
                Some(input.and_then(|columns| operation.apply(columns, scalar, true)))
            }
            _ => {
                self.keep(&binary.lhs);
                self.keep(&binary.rhs);
                None
            }
        }
    }
}

/// The number `expr` is, if it is a number literal (possibly in parentheses or negated): the
/// same at every step.
fn literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(number) => Some(number.val),
        Expr::Paren(paren) => literal(&paren.expr),
        Expr::Unary(unary) => literal(&unary.expr).map(|value| -value),
        _ => None,
    }
}

fn matrix_selector(expr: &Expr) -> Option<&MatrixSelector> {
    match expr {
        Expr::Paren(paren) => matrix_selector(&paren.expr),
        Expr::MatrixSelector(selector) => Some(selector),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use vigil_metricstore::{Head, Labels};

    use super::*;

    /// How `query` splits: whether its root is series-major, and how many subtrees under an
    /// unsupported root are.
    fn split(query: &str) -> (bool, usize) {
        let head = Head::new();
        let (id, _) = head.series_id(&Labels::new([("__name__", "x"), ("le", "1")]).expect("valid labels"));
        head.append(id, 0, 1.0).expect("first sample");
        let expr = crate::parse(query).expect("valid query");
        let steps = Steps { start: 0, step: 15_000, count: 4 };
        let mut evaluator = Evaluator::new(&head, 0, 45_000, 15_000, crate::DEFAULT_LOOKBACK_MS);
        let mut planner = Planner { evaluator: &mut evaluator, steps, parts: HashMap::new() };
        let whole = planner.columns(&expr);
        (whole.is_some(), planner.parts.len())
    }

    #[test]
    fn dashboard_shapes_are_series_major_and_the_rest_per_step_around_them() {
        for query in [
            "x",
            "rate(x[5m])",
            "sum by (le) (rate(x[5m]))",
            "histogram_quantile(0.9, sum by (le) (rate(x[5m])))",
            "max_over_time(x[1h])",
            "quantile_over_time(0.5, x[1h])",
            "100 * (1 - avg(rate(x[5m])))",
            "-abs(x) > bool 0",
        ] {
            assert_eq!(split(query), (true, 0), "{query}");
        }
        for (query, parts) in [
            ("topk(2, rate(x[5m]))", 1),
            ("rate(x[5m]) / on (le) sum by (le) (rate(x[1m]))", 2),
            ("time()", 0),
            ("quantile(scalar(x), x)", 2),
            ("rate(x[5m:1m])", 0),
        ] {
            assert_eq!(split(query), (false, parts), "{query}");
        }
    }
}
