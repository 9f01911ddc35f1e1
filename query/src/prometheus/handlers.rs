//! One handler per Prometheus API endpoint. Queries run on a blocking thread: evaluation reads
//! and decodes chunks.

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde_json::{json, Value as Json_};
use vigil_metricstore::{Labels, MetricStore};

use super::{
    answer::{instant_data, labels_json, matrix_data, success, success_text, PromError},
    params::{parse_duration_ms, Params},
};

type Store = State<Arc<MetricStore>>;

/// Range queries over more points than this are refused, as Prometheus does (11,000).
const MAX_POINTS: i64 = 11_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, PromError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| PromError::internal(format!("query thread failed: {error}")))
}

pub async fn query(State(store): Store, params: Params) -> Result<Response, PromError> {
    let query = params.required("query")?.to_string();
    let time = params.time_ms("time", now_ms())?;
    // The answer is written on the query thread too: a large one takes a while.
    let answer = blocking(move || {
        vigil_promql::instant_query(store.as_ref(), &query, time).map(|value| instant_data(value, time))
    });
    Ok(success_text(answer.await??))
}

pub async fn query_range(State(store): Store, params: Params) -> Result<Response, PromError> {
    let query = params.required("query")?.to_string();
    let start = params.time_ms("start", i64::MIN).and_then(|t| {
        if t == i64::MIN {
            Err(PromError::bad_data("missing parameter \"start\""))
        } else {
            Ok(t)
        }
    })?;
    let end = params.time_ms("end", i64::MIN).and_then(|t| {
        if t == i64::MIN {
            Err(PromError::bad_data("missing parameter \"end\""))
        } else {
            Ok(t)
        }
    })?;
    let step_text = params.required("step")?;
    let step = parse_duration_ms(step_text).ok_or_else(|| {
        PromError::bad_data(format!("invalid parameter \"step\": cannot parse {step_text:?} to a valid duration"))
    })?;
    if end < start {
        return Err(PromError::bad_data("invalid parameter \"end\": end timestamp must not be before start time"));
    }
    if (end - start) / step > MAX_POINTS {
        return Err(PromError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    // The answer is written on the query thread too: a large one takes a while.
    let answer = blocking(move || {
        vigil_promql::range_query(store.as_ref(), &query, start, end, step).map(|series| matrix_data(&series))
    });
    Ok(success_text(answer.await??))
}

/// The series matching any of the `match[]` selectors (those with samples in the range).
pub async fn series(State(store): Store, params: Params) -> Result<Response, PromError> {
    let found =
        matching_series(&store, &params).await?.ok_or_else(|| PromError::bad_data("no match[] parameter provided"))?;
    Ok(success(Json_::Array(found.iter().map(labels_json).collect())))
}

/// Label names; with `match[]`, only those of the matching series (in `start`..`end`).
pub async fn labels(State(store): Store, params: Params) -> Result<Response, PromError> {
    let names = match matching_series(&store, &params).await? {
        None => store.label_names(),
        Some(series) => {
            let names: std::collections::BTreeSet<String> =
                series.iter().flat_map(|labels| labels.iter().map(|(name, _)| name.to_string())).collect();
            names.into_iter().collect()
        }
    };
    Ok(success(json!(names)))
}

/// Values of one label; with `match[]`, only those of the matching series (as Grafana's
/// template variables ask).
pub async fn label_values(
    State(store): Store,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, PromError> {
    let values = match matching_series(&store, &params).await? {
        None => store.label_values(&name),
        Some(series) => {
            let values: std::collections::BTreeSet<String> =
                series.iter().filter_map(|labels| labels.get(&name).map(str::to_string)).collect();
            values.into_iter().collect()
        }
    };
    Ok(success(json!(values)))
}

/// The series the `match[]` selectors select in `start`..`end`, or None without `match[]`.
async fn matching_series(store: &Arc<MetricStore>, params: &Params) -> Result<Option<Vec<Labels>>, PromError> {
    let selectors: Vec<String> = params.all("match[]").into_iter().map(str::to_string).collect();
    if selectors.is_empty() {
        return Ok(None);
    }
    let start = params.time_ms("start", 0)?;
    let end = params.time_ms("end", i64::MAX / 2)?;
    let store = store.clone();
    let found = blocking(move || -> Result<Vec<Labels>, PromError> {
        let mut all = std::collections::BTreeSet::new();
        for selector in &selectors {
            all.extend(select_labels(&store, selector, start, end)?);
        }
        Ok(all.into_iter().collect())
    })
    .await??;
    Ok(Some(found))
}

/// Metric metadata (type, help, unit) as last scraped or sent, per family
/// (`?metric=` for one, `?limit=` to cap the families).
pub async fn metadata(State(store): Store, params: Params) -> Result<Response, PromError> {
    let limit = match params.get("limit").filter(|l| !l.is_empty()) {
        None => usize::MAX,
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n > 0 => n as usize,
            Ok(_) => usize::MAX,
            Err(_) => {
                return Err(PromError::bad_data(format!("invalid parameter \"limit\": {text:?} is not a number")))
            }
        },
    };
    let families = store.metadata(params.get("metric").filter(|m| !m.is_empty()), limit);
    let data: serde_json::Map<String, Json_> = families
        .into_iter()
        .map(|(name, m)| (name, json!([{"type": m.kind, "help": m.help, "unit": m.unit}])))
        .collect();
    Ok(success(Json_::Object(data)))
}

fn select_labels(store: &MetricStore, selector: &str, start: i64, end: i64) -> Result<Vec<Labels>, PromError> {
    let matchers = vigil_promql::selector_matchers(selector)?;
    Ok(store.series(&matchers, start, end))
}
