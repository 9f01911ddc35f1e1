//! JSON lines (application loggers, Vector, Fluent Bit, the OTel collector): one object per
//! line, nested objects flattened with `.`, the well-known keys of [`crate::keys`] consumed
//! as timestamp, level and message, every other leaf kept as a string field.

use serde_json::{Map, Value};

use crate::{keys, level, time, Format, JsonError, ParseContext, Parsed};

/// Parses one JSON object. `Err` when the text is not valid JSON or not an object; the
/// caller then keeps the raw text, flagged.
pub fn parse_json_object(line: &str, ctx: &ParseContext) -> Result<Parsed, JsonError> {
    let value: Value = serde_json::from_str(line)?;
    let Value::Object(map) = value else {
        return Err(JsonError::NotAnObject);
    };
    let mut leaves = Vec::with_capacity(map.len());
    flatten(None, &map, &mut leaves);
    let mut used = vec![false; leaves.len()];
    let mut p = Parsed { format: Format::Json, ..Parsed::default() };

    if let Some((i, ms)) = first_match(&leaves, keys::TIMESTAMP_KEYS, |v| timestamp(v, ctx)) {
        p.timestamp_ms = Some(ms);
        used[i] = true;
    }
    let level = first_match(&leaves, keys::LEVEL_KEYS, level_of)
        .or_else(|| first_match(&leaves, &[keys::OTEL_SEVERITY_NUMBER], |v| level::from_otel_number(v.as_i64()?)));
    if let Some((i, l)) = level {
        p.level = Some(l);
        used[i] = true;
    }
    if let Some((i, m)) = first_match(&leaves, keys::MESSAGE_KEYS, |v| v.as_str()) {
        p.message = Some(m.trim_end_matches(['\n', '\r']).to_string());
        used[i] = true;
    }

    p.fields = leaves.into_iter().zip(used).filter(|(_, u)| !u).map(|((k, v), _)| (k, text(v))).collect();
    Ok(p)
}

/// Collects `(dotted.key, leaf)` for every non-object value and every empty object.
fn flatten<'a>(prefix: Option<&str>, map: &'a Map<String, Value>, out: &mut Vec<(String, &'a Value)>) {
    for (k, v) in map {
        let key = match prefix {
            Some(p) => format!("{p}.{k}"),
            None => k.clone(),
        };
        match v {
            Value::Object(inner) if !inner.is_empty() => flatten(Some(&key), inner, out),
            _ => out.push((key, v)),
        }
    }
}

/// The first key of `names` (in that order of preference) whose leaf `f` accepts.
fn first_match<'a, T>(
    leaves: &[(String, &'a Value)],
    names: &[&str],
    f: impl Fn(&'a Value) -> Option<T>,
) -> Option<(usize, T)> {
    names.iter().find_map(|name| {
        leaves.iter().enumerate().filter(|(_, (k, _))| k == name).find_map(|(i, (_, v))| f(v).map(|t| (i, t)))
    })
}

fn timestamp(v: &Value, ctx: &ParseContext) -> Option<i64> {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(u) => time::civil::epoch_int_to_ms(u),
            None => time::civil::epoch_to_ms(n.as_f64()?),
        },
        Value::String(s) => time::parse_value(s, ctx.now_ms),
        _ => None,
    }
}

fn level_of(v: &Value) -> Option<vigil_model::Level> {
    match v {
        Value::String(s) => keys::level_value(s),
        Value::Number(n) => level::from_pino_number(n.as_i64()?),
        _ => None,
    }
}

/// A leaf as field text: strings as they are, everything else as its JSON text.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
