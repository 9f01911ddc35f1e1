//! Governance documents kept in the registry: circuit-breaker, rate-limit and load-balancing
//! policies for services, and alert rule groups (Prometheus's rule-file shape, so existing
//! files load unchanged). Each type validates itself and names the field it refuses.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

/// Which kind of document; its path segment in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    CircuitBreaker,
    RateLimit,
    LoadBalancing,
    AlertRules,
}

impl DocumentKind {
    pub const POLICIES: [DocumentKind; 3] =
        [DocumentKind::CircuitBreaker, DocumentKind::RateLimit, DocumentKind::LoadBalancing];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::CircuitBreaker => "circuit-breaker",
            DocumentKind::RateLimit => "rate-limit",
            DocumentKind::LoadBalancing => "load-balancing",
            DocumentKind::AlertRules => "alert-rules",
        }
    }

    pub fn parse(text: &str) -> Option<DocumentKind> {
        [DocumentKind::CircuitBreaker, DocumentKind::RateLimit, DocumentKind::LoadBalancing, DocumentKind::AlertRules]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A document's content, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "spec", rename_all = "kebab-case")]
pub enum Document {
    CircuitBreaker(CircuitBreakerPolicy),
    RateLimit(RateLimitPolicy),
    LoadBalancing(LoadBalancingPolicy),
    AlertRules(AlertRuleGroup),
}

impl Document {
    pub fn kind(&self) -> DocumentKind {
        match self {
            Document::CircuitBreaker(_) => DocumentKind::CircuitBreaker,
            Document::RateLimit(_) => DocumentKind::RateLimit,
            Document::LoadBalancing(_) => DocumentKind::LoadBalancing,
            Document::AlertRules(_) => DocumentKind::AlertRules,
        }
    }

    /// The service a policy applies to (None for alert rules).
    pub fn service(&self) -> Option<&str> {
        match self {
            Document::CircuitBreaker(p) => Some(&p.service),
            Document::RateLimit(p) => Some(&p.service),
            Document::LoadBalancing(p) => Some(&p.service),
            Document::AlertRules(_) => None,
        }
    }

    /// Parses the JSON body of a `kind` document and checks its values.
    pub fn from_json(kind: DocumentKind, body: &[u8]) -> Result<Document, String> {
        let document = match kind {
            DocumentKind::CircuitBreaker => Document::CircuitBreaker(decode(body)?),
            DocumentKind::RateLimit => Document::RateLimit(decode(body)?),
            DocumentKind::LoadBalancing => Document::LoadBalancing(decode(body)?),
            DocumentKind::AlertRules => Document::AlertRules(decode(body)?),
        };
        document.validate()?;
        Ok(document)
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            Document::CircuitBreaker(p) => p.validate(),
            Document::RateLimit(p) => p.validate(),
            Document::LoadBalancing(p) => p.validate(),
            Document::AlertRules(g) => g.validate(),
        }
    }
}

/// Decodes JSON, naming the field at fault (`interval: invalid value ...`).
fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            error.inner().to_string()
        } else {
            format!("{path}: {}", error.inner())
        }
    })
}

fn check_service(service: &str) -> Result<(), String> {
    if service.trim().is_empty() {
        return Err("service is empty: name the service the policy applies to".to_string());
    }
    Ok(())
}

fn check_ratio(field: &str, value: f64) -> Result<(), String> {
    if !(value > 0.0 && value <= 1.0) {
        return Err(format!("{field} is {value}: it must be above 0 and at most 1"));
    }
    Ok(())
}

fn check_positive(field: &str, value: Duration) -> Result<(), String> {
    if value.is_zero() {
        return Err(format!("{field} must be above 0"));
    }
    Ok(())
}

/// Open the circuit when too many calls fail (or are slow) in a window; after `open_for`,
/// let `half_open_calls` through to probe; close again if they succeed. (Sentinel's
/// degrade rules, resilience4j's circuit breaker.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerPolicy {
    pub service: String,
    /// Limit to one method or endpoint; absent: every call to the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Share of failed calls (0 to 1) that opens the circuit.
    pub failure_rate_threshold: f64,
    /// A call slower than this counts as slow.
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub slow_call_duration: Option<Duration>,
    /// Share of slow calls (0 to 1) that opens the circuit; needs `slow_call_duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_call_rate_threshold: Option<f64>,
    /// Calls a window needs before its rates count.
    #[serde(default = "default_minimum_calls")]
    pub minimum_calls: u32,
    /// The statistics window.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// How long the circuit stays open before probing.
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
    #[serde(default = "default_half_open_calls")]
    pub half_open_calls: u32,
}

fn default_minimum_calls() -> u32 {
    10
}

fn default_half_open_calls() -> u32 {
    3
}

impl CircuitBreakerPolicy {
    pub fn validate(&self) -> Result<(), String> {
        check_service(&self.service)?;
        check_ratio("failure_rate_threshold", self.failure_rate_threshold)?;
        match (self.slow_call_duration, self.slow_call_rate_threshold) {
            (Some(duration), Some(rate)) => {
                check_positive("slow_call_duration", duration)?;
                check_ratio("slow_call_rate_threshold", rate)?;
            }
            (None, None) => {}
            _ => return Err("slow_call_duration and slow_call_rate_threshold go together: give both or neither".into()),
        }
        check_positive("window", self.window)?;
        check_positive("open_for", self.open_for)?;
        if self.minimum_calls == 0 || self.half_open_calls == 0 {
            return Err("minimum_calls and half_open_calls must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitScope {
    /// Each instance enforces the limit alone.
    PerInstance,
    /// The limit is shared by every instance (each takes limit / instances).
    Service,
}

/// At most `limit` calls per `interval`, with bursts up to `burst` (a token bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitPolicy {
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub limit: u64,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Tokens the bucket holds (default: `limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    #[serde(default = "default_scope")]
    pub scope: RateLimitScope,
    /// Wait up to this long for a token before refusing; absent: refuse at once.
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub max_queue_wait: Option<Duration>,
}

fn default_scope() -> RateLimitScope {
    RateLimitScope::PerInstance
}

impl RateLimitPolicy {
    pub fn validate(&self) -> Result<(), String> {
        check_service(&self.service)?;
        if self.limit == 0 {
            return Err("limit must be at least 1 (to stop all calls, disable the instances instead)".into());
        }
        check_positive("interval", self.interval)?;
        if self.burst == Some(0) {
            return Err("burst must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalancing {
    RoundRobin,
    /// By instance weight.
    WeightedRoundRobin,
    Random,
    LeastRequests,
    /// The same key (the value of `hash_header`) goes to the same instance while it is healthy.
    ConsistentHash,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancingPolicy {
    pub service: String,
    pub strategy: LoadBalancing,
    /// The request header whose value `consistent_hash` hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_header: Option<String>,
    /// Prefer instances with this tag (a zone, a version) while any is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer_tag: Option<String>,
}

impl LoadBalancingPolicy {
    pub fn validate(&self) -> Result<(), String> {
        check_service(&self.service)?;
        match (&self.strategy, &self.hash_header) {
            (LoadBalancing::ConsistentHash, Some(header)) if !header.trim().is_empty() => Ok(()),
            (LoadBalancing::ConsistentHash, _) => {
                Err("hash_header is missing: consistent_hash needs the header to hash".into())
            }
            (_, Some(_)) => Err("hash_header only goes with strategy consistent_hash".into()),
            (_, None) => Ok(()),
        }
    }
}

/// A group of alerting and recording rules, as in a Prometheus rule file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleGroup {
    pub name: String,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub query_offset: Option<Duration>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
}

/// One rule: `alert` or `record`, with its PromQL expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub expr: RuleExpr,
    #[serde(default, rename = "for", with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<Duration>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A PromQL expression; rule files also write plain numbers (`expr: 1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RuleExpr {
    Text(String),
    Number(f64),
}

impl RuleExpr {
    pub fn text(&self) -> String {
        match self {
            RuleExpr::Text(text) => text.clone(),
            RuleExpr::Number(number) => number.to_string(),
        }
    }
}

impl AlertRuleGroup {
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name is empty: every rule group needs a name".into());
        }
        for (position, rule) in self.rules.iter().enumerate() {
            let at = format!("group {:?}, rules[{position}]", self.name);
            match (&rule.alert, &rule.record) {
                (Some(name), None) | (None, Some(name)) if !name.trim().is_empty() => {}
                (Some(_), Some(_)) => return Err(format!("{at}: a rule has alert or record, not both")),
                _ => return Err(format!("{at}: a rule needs a non-empty alert or record name")),
            }
            if rule.expr.text().trim().is_empty() {
                return Err(format!("{at}: expr is empty"));
            }
            if rule.record.is_some()
                && (rule.for_.is_some() || rule.keep_firing_for.is_some() || !rule.annotations.is_empty())
            {
                return Err(format!(
                    "{at}: for, keep_firing_for and annotations belong to alerting rules, not recording rules"
                ));
            }
        }
        Ok(())
    }
}

/// A Prometheus rule file: `groups:` of rule groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub groups: Vec<AlertRuleGroup>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_name_the_field_they_refuse() {
        let bad = br#"{"service":"api","failure_rate_threshold":1.5,"window":"10s","open_for":"30s"}"#;
        let error = Document::from_json(DocumentKind::CircuitBreaker, bad).unwrap_err();
        assert!(error.contains("failure_rate_threshold"), "{error}");
        let unknown = br#"{"service":"api","limit":10,"interval":"1s","colour":"red"}"#;
        let error = Document::from_json(DocumentKind::RateLimit, unknown).unwrap_err();
        assert!(error.contains("colour"), "{error}");
        let hash = br#"{"service":"api","strategy":"consistent_hash","hash_header":"x-user"}"#;
        let policy = Document::from_json(DocumentKind::LoadBalancing, hash).expect("valid policy");
        assert_eq!(policy.service(), Some("api"));
    }

    #[test]
    fn alert_rules_accept_prometheus_shapes_and_refuse_mixed_rules() {
        let group = br#"{"name":"g","rules":[{"alert":"Down","expr":"up == 0","for":"5m","labels":{"severity":"page"}},{"record":"r","expr":1}]}"#;
        assert!(Document::from_json(DocumentKind::AlertRules, group).is_ok());
        let mixed = br#"{"name":"g","rules":[{"alert":"A","record":"r","expr":"up"}]}"#;
        let error = Document::from_json(DocumentKind::AlertRules, mixed).unwrap_err();
        assert!(error.contains("rules[0]"), "{error}");
    }
}
