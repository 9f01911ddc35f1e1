//! Single-call heartbeats over HTTP/2 (cleartext, prior knowledge): one request and one answer
//! per renewal, many in flight on a few connections, the way long-lived clients renew leases
//! (etcd's keep-alive stream, Nacos 2's gRPC connection). It drives the `h2` crate directly,
//! one task per connection keeping a window of requests in flight, so the load generator,
//! which shares the machine, costs little next to the node it measures.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{stream::FuturesUnordered, StreamExt};

use super::load::Measured;
use crate::bench::report::percentile;

/// Connections, and heartbeats in flight on each.
const CONNECTIONS: usize = 4;
const IN_FLIGHT: usize = 64;

/// Renews `hb-0` .. `hb-{instances - 1}` of service `bench` on `address` for `duration`.
pub async fn run(address: &str, instances: u64, duration: Duration) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut connections = Vec::new();
    for connection in 0..CONNECTIONS {
        let tcp = tokio::net::TcpStream::connect(address).await?;
        tcp.set_nodelay(true)?;
        let (sender, driver) = h2::client::handshake(tcp).await?;
        tokio::spawn(async move {
            if let Err(error) = driver.await {
                tracing::debug!(%error, "bench h2 connection ended");
            }
        });
        let address = address.to_string();
        connections.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut in_flight = FuturesUnordered::new();
            let mut n = connection as u64 * 7919;
            loop {
                while in_flight.len() < IN_FLIGHT && Instant::now() < deadline {
                    let uri =
                        format!("http://{address}/v1/registry/services/bench/instances/hb-{}/heartbeat", n % instances);
                    n += 1;
                    let sender = sender.clone();
                    in_flight.push(async move {
                        let sent = Instant::now();
                        (heartbeat(sender, uri).await, sent.elapsed())
                    });
                }
                match in_flight.next().await {
                    Some((Ok(()), latency)) => latencies.push(latency.as_secs_f64() * 1000.0),
                    Some((Err(_), _)) => errors += 1,
                    None => break,
                }
            }
            (latencies, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for connection in connections {
        let (connection_latencies, connection_errors) = connection.await?;
        latencies.extend(connection_latencies);
        errors += connection_errors;
    }
    Ok(Measured {
        per_s: latencies.len() as f64 / started.elapsed().as_secs_f64(),
        p50_ms: percentile(&mut latencies, 50.0),
        p99_ms: percentile(&mut latencies, 99.0),
        errors,
    })
}

async fn heartbeat(sender: h2::client::SendRequest<Bytes>, uri: String) -> Result<(), String> {
    let mut sender = sender.ready().await.map_err(|error| error.to_string())?;
    let request = http::Request::put(uri).body(()).map_err(|error| error.to_string())?;
    let (response, _) = sender.send_request(request, true).map_err(|error| error.to_string())?;
    let response = response.await.map_err(|error| error.to_string())?;
    let status = response.status();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|error| error.to_string())?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("answered {status}"))
    }
}
