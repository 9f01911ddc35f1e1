//! Starts the chosen roles on one HTTP listener and runs them until shutdown.

use std::{fmt, future::Future};

use anyhow::Context;
use axum::Router;
use tokio::{net::TcpListener, sync::watch};
use vigil_bus::{
    embedded::{EmbeddedBus, EmbeddedConfig},
    kafka::{KafkaConsumer, KafkaProducer},
    Consumer, Producer,
};

use crate::config::VigilConfig;

/// Which roles this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// `POST /api/v1/logs/ingest` onto the bus.
    pub ingest: bool,
    /// Bus -> log index.
    pub pipeline: bool,
    /// The search API over the log index.
    pub query: bool,
    /// A registry node (services, leases, KV) replicated with Raft.
    pub registry: bool,
}

impl Roles {
    pub fn all() -> Roles {
        Roles { ingest: true, pipeline: true, query: true, registry: true }
    }

    pub fn parse(text: &str) -> Result<Roles, String> {
        const NONE: Roles = Roles { ingest: false, pipeline: false, query: false, registry: false };
        let mut roles = NONE;
        for role in text.split(',').map(str::trim).filter(|role| !role.is_empty()) {
            match role {
                "ingest" => roles.ingest = true,
                "pipeline" => roles.pipeline = true,
                "query" => roles.query = true,
                "registry" => roles.registry = true,
                other => {
                    return Err(format!("unknown role {other:?}: the roles are ingest, pipeline, query, registry"))
                }
            }
        }
        if roles == NONE {
            return Err("no role given: the roles are ingest, pipeline, query, registry".to_string());
        }
        Ok(roles)
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            [(self.ingest, "ingest"), (self.pipeline, "pipeline"), (self.query, "query"), (self.registry, "registry")]
                .into_iter()
                .filter_map(|(on, name)| on.then_some(name))
                .collect();
        f.write_str(&names.join(","))
    }
}

/// The transport the roles share.
enum Bus {
    Embedded(EmbeddedBus),
    Kafka(vigil_bus::kafka::KafkaConfig),
}

/// Runs `roles` until `shutdown` resolves (or a role fails), then stops them in order: the
/// HTTP server stops taking requests, the pipeline commits what it holds.
pub async fn run(
    config: VigilConfig,
    roles: Roles,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _lock = vigil_common::data_dir::lock(&config.data_dir)?;
    let bus = open_bus(&config, roles)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let mut router = Router::new().merge(vigil_common::http::observability_routes());
    // The metric store lives with the pipeline that writes it; a query role in the same
    // process reads it.
    let metric_store = if roles.pipeline || roles.query {
        let options = config.metrics.store_options()?;
        Some(open_metric_store(&config.metrics_dir(), options).await?)
    } else {
        None
    };
    // One producer for the ingest endpoints and the self-scrape (one Kafka client, not two).
    let producer = match &bus {
        Some(Bus::Embedded(bus)) => Some(Producer::Embedded(bus.clone())),
        Some(Bus::Kafka(kafka)) => Some(Producer::Kafka(KafkaProducer::new(kafka)?)),
        None => None,
    };
    if let (true, Some(producer)) = (roles.ingest, &producer) {
        router = router.merge(vigil_pipeline::ingest::router(
            producer.clone(),
            &config.bus.logs_topic,
            vigil_pipeline::ingest::DEFAULT_MAX_BODY_BYTES,
        ));
        router = router.merge(vigil_pipeline::remote_write::router(
            producer.clone(),
            &config.bus.metrics_topic,
            vigil_pipeline::ingest::DEFAULT_MAX_BODY_BYTES,
        ));
    }
    if roles.query {
        router = router.merge(vigil_query::router(&config.logs_dir(), config.query.clone()));
        if let Some(store) = &metric_store {
            router = router.merge(vigil_query::prometheus::router(store.clone()));
        }
    }
    let registry = if roles.registry {
        let advertise = match config.registry.advertise.as_str() {
            "" => listener.local_addr()?.to_string(),
            address => address.to_string(),
        };
        let node = vigil_registry::RegistryNode::start(&config.registry, &config.data_dir, &advertise)
            .await
            .with_context(|| format!("failed to start the registry node in {}", config.data_dir.display()))?;
        router = router.merge(vigil_registry::router(node.clone()));
        Some(node)
    } else {
        None
    };
    let router = router
        .fallback(vigil_common::http::not_found)
        .layer(axum::middleware::from_fn(vigil_common::http::track_requests));

    let pipeline = if roles.pipeline {
        let resume = vigil_pipeline::resume_fn(&config.logs_dir());
        let consumer = match &bus {
            Some(Bus::Embedded(bus)) => Consumer::Embedded(bus.consumer(&config.bus.logs_topic, resume)?),
            Some(Bus::Kafka(kafka)) => Consumer::Kafka(KafkaConsumer::new(kafka, &config.bus.logs_topic, resume)?),
            None => unreachable!("open_bus opens a bus whenever ingest or pipeline runs"),
        };
        let task = vigil_pipeline::run(config.pipeline.clone(), config.logs_dir(), consumer, stopped(stop_rx.clone()));
        let logs = tokio::spawn(task);
        let store = metric_store.clone().expect("the metric store is open when the pipeline runs");
        let resume = vigil_pipeline::metrics_resume_fn(store.clone());
        let topic = &config.bus.metrics_topic;
        let consumer = match &bus {
            Some(Bus::Embedded(bus)) => Consumer::Embedded(bus.consumer(topic, resume)?),
            Some(Bus::Kafka(kafka)) => {
                // Its own group member: two consumers with one static id would fence each other.
                let mut kafka = kafka.clone();
                kafka.group_id = format!("{}-metrics", kafka.group_id);
                kafka.instance_id = kafka.instance_id.map(|id| format!("{id}-metrics"));
                Consumer::Kafka(KafkaConsumer::new(&kafka, topic, resume)?)
            }
            None => unreachable!("open_bus opens a bus whenever ingest or pipeline runs"),
        };
        tokio::spawn(crate::metrics_maintenance::run(
            store.clone(),
            config.metrics.maintenance_interval,
            stopped(stop_rx.clone()),
        ));
        let metrics = tokio::spawn(vigil_pipeline::run_metrics(store, consumer, stopped(stop_rx.clone())));
        // The node that stores metrics watches itself too.
        let producer = producer.clone().expect("open_bus opens a bus whenever ingest or pipeline runs");
        let instance = listener.local_addr()?.to_string();
        tokio::spawn(crate::self_scrape::run(
            producer,
            config.bus.metrics_topic.clone(),
            instance,
            stopped(stop_rx.clone()),
        ));
        // Either stage failing ends the pipeline role (and the process).
        Some(tokio::spawn(async move {
            let logs = async { logs.await.context("log pipeline task panicked")? };
            let metrics = async { metrics.await.context("metrics task panicked")? };
            tokio::try_join!(logs, metrics).map(|_| ())
        }))
    } else {
        None
    };

    let server = axum::serve(listener, router).with_graceful_shutdown(stopped(stop_rx.clone()));
    let server = tokio::spawn(async move { server.await.context("http server failed") });
    let result = match pipeline {
        Some(pipeline) => {
            let outcome = pipeline.await.context("pipeline task panicked").and_then(|result| result);
            // The pipeline ended (shutdown or failure): stop the server too.
            server.abort();
            outcome
        }
        None => server.await.context("http server task panicked").and_then(|result| result),
    };
    if let Some(node) = registry {
        if let Err(error) = node.raft().shutdown().await {
            tracing::warn!(%error, "registry did not stop cleanly");
        }
    }
    if let Err(error) = &result {
        tracing::error!(error = %format!("{error:#}"), "vigil stopped with an error");
    }
    result
}

/// Opens the metric store, replaying its log (on a blocking thread: it may be long).
async fn open_metric_store(
    dir: &std::path::Path,
    options: vigil_metricstore::StoreOptions,
) -> anyhow::Result<std::sync::Arc<vigil_metricstore::MetricStore>> {
    let path = dir.to_path_buf();
    let (store, recovered) =
        tokio::task::spawn_blocking(move || vigil_metricstore::MetricStore::open_with(&path, options))
            .await
            .context("metric store thread panicked")?
            .with_context(|| format!("failed to open the metric store at {}", dir.display()))?;
    if recovered.truncated_bytes > 0 {
        tracing::warn!(
            bytes = recovered.truncated_bytes,
            "cut a torn tail off the metric store's log (never acknowledged)"
        );
    }
    for corrupt in &recovered.corrupt_blocks {
        tracing::error!(block = %corrupt, "unreadable metric block set aside (renamed *.corrupt); its samples are not served");
    }
    tracing::info!(
        series = recovered.series,
        samples = recovered.samples,
        blocks = recovered.blocks,
        "metric store opened"
    );
    Ok(std::sync::Arc::new(store))
}

fn open_bus(config: &VigilConfig, roles: Roles) -> anyhow::Result<Option<Bus>> {
    if !roles.ingest && !roles.pipeline {
        return Ok(None);
    }
    if let Some(kafka) = &config.bus.kafka {
        let mut kafka = kafka.clone();
        kafka.instance_id.get_or_insert_with(|| default_instance_id(&config.data_dir));
        return Ok(Some(Bus::Kafka(kafka)));
    }
    let embedded = EmbeddedConfig {
        partitions: config.bus.partitions,
        segment_bytes: config.bus.segment_bytes,
        max_message_bytes: config.bus.max_message_bytes,
    };
    let bus = EmbeddedBus::open(&config.bus_dir(), embedded)
        .with_context(|| format!("failed to open the embedded bus at {}", config.bus_dir().display()))?;
    Ok(Some(Bus::Embedded(bus)))
}

/// A group instance id unique to this node: the host name and the (locked) data directory.
fn default_instance_id(data_dir: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "host".to_string());
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()).hash(&mut hasher);
    format!("vigil-{host}-{:016x}", hasher.finish())
}
