//! Sends one call to the registry, moving on to the next node when one is down or has no
//! leader, until an answer arrives or the failover deadline passes.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use reqwest::{Method, Url};
use vigil_model::{error::ErrorBody, ErrorCode};

use crate::ClientError;

/// Long enough for the cluster to elect a new leader (a few hundred milliseconds) many times
/// over, short enough that a caller notices a cluster that is really gone.
const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_secs(15);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(crate) struct Transport {
    endpoints: Arc<[Url]>,
    /// The node calls go to first; moved on when it fails, shared by every clone so one failed
    /// call spares the others the dead node.
    current: Arc<AtomicUsize>,
    http: reqwest::Client,
    pub token: Option<Arc<str>>,
    pub failover_timeout: Duration,
    pub request_timeout: Duration,
}

/// One call: where, what, and whether sending it twice is harmless.
pub(crate) struct Call {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<(&'static str, Vec<u8>)>,
    /// Safe to send again when it is not known whether the first try arrived.
    pub idempotent: bool,
    /// Overrides the request timeout (blocking queries wait longer).
    pub timeout: Option<Duration>,
}

impl Call {
    pub fn new(method: Method, path: &[&str]) -> Call {
        let idempotent = method != Method::POST;
        Call {
            method,
            segments: path.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            idempotent,
            timeout: None,
        }
    }

    pub fn query(mut self, name: &'static str, value: impl ToString) -> Call {
        self.query.push((name, value.to_string()));
        self
    }

    pub fn json(mut self, body: &impl serde::Serialize) -> Call {
        self.body = Some(("application/json", serde_json::to_vec(body).expect("request bodies serialize")));
        self
    }

    pub fn text(mut self, body: &str) -> Call {
        self.body = Some(("text/plain; charset=utf-8", body.as_bytes().to_vec()));
        self
    }

    /// How error messages name the call: `PUT /v1/kv/a/b`.
    pub fn name(&self) -> String {
        format!("{} /{}", self.method, self.segments.join("/"))
    }
}

/// A 2xx answer.
pub(crate) struct Answer {
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self, call: &str) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body)
            .map_err(|error| ClientError::Decode { call: call.to_string(), detail: error.to_string() })
    }
}

/// What one try at one node came to.
enum Try {
    Answered(Result<Answer, ClientError>),
    /// This node could not serve the call; another may.
    NextNode(String),
}

impl Transport {
    pub fn new<I, S>(endpoints: I) -> Result<Transport, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let endpoints: Vec<Url> =
            endpoints.into_iter().map(|e| parse_endpoint(e.as_ref())).collect::<Result<_, _>>()?;
        if endpoints.is_empty() {
            return Err(ClientError::Config("no registry endpoint given: pass at least one node's address".into()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|error| ClientError::Config(format!("failed to build the HTTP client: {error}")))?;
        Ok(Transport {
            endpoints: endpoints.into(),
            current: Arc::new(AtomicUsize::new(0)),
            http,
            token: None,
            failover_timeout: DEFAULT_FAILOVER_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }

    /// Sends `call`, trying each node in turn (pausing between rounds) until one answers.
    pub async fn send(&self, call: &Call) -> Result<Answer, ClientError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        let mut tried_this_round = 0;
        loop {
            let turn = self.current.load(Ordering::Relaxed);
            let endpoint = &self.endpoints[turn % self.endpoints.len()];
            let reason = match self.try_once(endpoint, call).await {
                Try::Answered(answer) => return answer,
                Try::NextNode(reason) => reason,
            };
            tracing::debug!(endpoint = %endpoint, call = %call.name(), %reason, "registry node did not serve the call");
            // Another clone may have moved on already: only move from the node that failed.
            let _ = self.current.compare_exchange(turn, turn.wrapping_add(1), Ordering::Relaxed, Ordering::Relaxed);
            if started.elapsed() >= self.failover_timeout {
                return Err(ClientError::Unreachable {
                    call: call.name(),
                    endpoints: self.endpoints.iter().map(Url::as_str).collect::<Vec<_>>().join(", "),
                    waited_ms: started.elapsed().as_millis(),
                    last: format!("{endpoint}: {reason}"),
                });
            }
            tried_this_round += 1;
            if tried_this_round >= self.endpoints.len() {
                // Every node failed once: likely an election; give it time before the next round.
                tried_this_round = 0;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }

    async fn try_once(&self, endpoint: &Url, call: &Call) -> Try {
        let mut url = endpoint.clone();
        url.path_segments_mut().expect("endpoints are http(s) URLs").pop_if_empty().extend(&call.segments);
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut request =
            self.http.request(call.method.clone(), url).timeout(call.timeout.unwrap_or(self.request_timeout));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, body)) = &call.body {
            request = request.header(reqwest::header::CONTENT_TYPE, *content_type).body(body.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            // Refused or unreachable: the call never arrived, any node may take it.
            Err(error) if error.is_connect() => return Try::NextNode(error.to_string()),
            Err(error) if call.idempotent => return Try::NextNode(error.to_string()),
            Err(error) => return Try::Answered(Err(in_doubt(call, &error.to_string()))),
        };
        let status = response.status().as_u16();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(error) if call.idempotent => return Try::NextNode(error.to_string()),
            Err(error) => return Try::Answered(Err(in_doubt(call, &error.to_string()))),
        };
        if (200..300).contains(&status) {
            return Try::Answered(Ok(Answer { body }));
        }
        let error = api_error(call, status, &body);
        // 503: this node has no leader, or the write did not commit in time. Safe to take
        // elsewhere only when sending it twice is harmless.
        if status == 503 && call.idempotent {
            return Try::NextNode(error.to_string());
        }
        Try::Answered(Err(error))
    }
}

/// A call that may or may not have been applied: the connection broke after it was sent.
fn in_doubt(call: &Call, error: &str) -> ClientError {
    ClientError::Unreachable {
        call: call.name(),
        endpoints: String::new(),
        waited_ms: 0,
        last: format!("the connection failed after the call was sent, so it may have been applied: {error}"),
    }
}

fn api_error(call: &Call, status: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => ClientError::Api { call: call.name(), status, code: body.error.code, message: body.error.message },
        Err(_) => ClientError::Api {
            call: call.name(),
            status,
            code: if status == 503 { ErrorCode::Unavailable } else { ErrorCode::Internal },
            message: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        },
    }
}

/// `127.0.0.1:7301`, `http://node-1:7301` or `https://registry.example/` → a base URL.
fn parse_endpoint(text: &str) -> Result<Url, ClientError> {
    let text = text.trim();
    let with_scheme = if text.contains("://") { text.to_string() } else { format!("http://{text}") };
    let url = Url::parse(&with_scheme)
        .map_err(|error| ClientError::Config(format!("registry endpoint {text:?} is not an address: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || url.cannot_be_a_base() {
        return Err(ClientError::Config(format!(
            "registry endpoint {text:?} must be host:port or an http(s) URL such as http://127.0.0.1:7070"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_host_port_and_urls_and_refuse_the_rest() {
        assert_eq!(parse_endpoint("127.0.0.1:7301").unwrap().as_str(), "http://127.0.0.1:7301/");
        assert_eq!(parse_endpoint(" https://reg.example/base/ ").unwrap().as_str(), "https://reg.example/base/");
        assert!(parse_endpoint("ftp://x:1").is_err());
        assert!(parse_endpoint("").is_err());
        assert!(Transport::new(Vec::<String>::new()).is_err());
    }

    #[test]
    fn path_segments_are_escaped_one_by_one() {
        let mut url = parse_endpoint("127.0.0.1:1").unwrap();
        url.path_segments_mut().unwrap().pop_if_empty().extend(["v1", "kv", "a b", "c?d"]);
        assert_eq!(url.path(), "/v1/kv/a%20b/c%3Fd");
    }

    #[test]
    fn error_answers_keep_the_registry_code_and_message() {
        let call = Call::new(Method::PUT, &["v1", "kv", "k"]);
        let body = br#"{"error":{"code":"conflict","message":"compare-and-set failed"}}"#;
        let error = api_error(&call, 409, body);
        assert!(error.is_conflict());
        assert!(error.to_string().contains("PUT /v1/kv/k"), "{error}");
        let garbled = api_error(&call, 502, b"bad gateway");
        assert_eq!(garbled.code(), Some(ErrorCode::Internal));
        assert!(garbled.to_string().contains("bad gateway"));
    }
}
