//! The `fjord` server binary.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fjord_broker::broker::Broker;
use fjord_broker::config::Config;
use fjord_broker::data_dir::DataDir;
use fjord_broker::maintenance;
use fjord_broker::metrics;
use fjord_broker::server::Server;
use fjord_broker::topics::Topics;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    init_logging(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run(config))
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("invalid log level {:?}", config.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn run(config: Config) -> anyhow::Result<()> {
    let data_dir = DataDir::open(
        &config.data_dir,
        config.node_id,
        config.cluster_id.as_deref(),
    )?;
    let topics = Arc::new(Topics::load(&data_dir.path).context("loading topics")?);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let advertised = config
        .advertise
        .clone()
        .unwrap_or_else(|| (bound.ip().to_string(), bound.port()));
    let groups = fjord_broker::group::boot::start(
        &topics,
        config.groups.clone(),
        fjord_broker::clock::now_ms(),
    )
    .context("starting the group coordinator")?;
    let transactions = fjord_broker::txn::TransactionCoordinator::start(&data_dir.path, &topics)
        .context("starting the transaction coordinator")?;
    let broker = Arc::new(Broker {
        config,
        data_dir,
        advertised,
        topics,
        groups,
        transactions,
        fetch_sessions: fjord_broker::fetch_session::FetchSessionCache::default(),
    });
    let server = Server::new(listener, broker.clone());
    let (stop, stopped) = watch::channel(false);
    let metrics = match broker.config.metrics {
        Some(addr) => Some(start_metrics(addr, broker.clone(), stopped.clone()).await?),
        None => None,
    };
    info!(%bound, cluster_id = broker.cluster_id(), "fjord ready");
    // The one line on stdout: tests and scripts wait for it to know the server accepts.
    println!("listening on {bound}");
    let maintaining = tokio::spawn(maintenance::run(
        broker.topics.clone(),
        Duration::from_millis(broker.config.log_retention_check_interval_ms),
        stopped.clone(),
    ));
    let transacting = tokio::spawn(fjord_broker::txn::run(broker.clone(), stopped.clone()));
    let serving = tokio::spawn(server.run(stopped));
    shutdown_signal().await?;
    info!("shutting down");
    // The receiver only goes away once the server has stopped, so a failed send is harmless.
    let _ = stop.send(true);
    serving.await.context("server task failed")?;
    maintaining.await.context("maintenance task failed")?;
    transacting
        .await
        .context("transaction coordinator task failed")?;
    if let Some(metrics) = metrics {
        metrics.await.context("metrics endpoint task failed")?;
    }
    broker.groups.stop().await;
    broker.topics.flush_all();
    info!("stopped");
    Ok(())
}

/// Installs the Prometheus recorder and serves `/metrics` and `/health` on `addr`. Called once
/// the logs are loaded, so an endpoint that answers means a ready broker.
async fn start_metrics(
    addr: SocketAddr,
    broker: Arc<Broker>,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let handle = metrics::install().context("installing the metrics recorder")?;
    fjord_storage::set_fsync_observer(metrics::fsync_done);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    let bound = listener
        .local_addr()
        .context("reading the bound metrics address")?;
    // Tests find the port of `--metrics 127.0.0.1:0` in this line.
    info!("metrics on http://{bound}/metrics");
    Ok(tokio::spawn(metrics::http::serve(
        listener, broker, handle, stopped,
    )))
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT"),
        _ = term.recv() => Ok(()),
    }
}
