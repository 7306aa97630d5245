//! The `fjord` server binary.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use fjord_broker::broker::Broker;
use fjord_broker::config::Config;
use fjord_broker::limits;
use fjord_broker::maintenance;
use fjord_broker::metrics;
use fjord_broker::server::Server;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

/// jemalloc, not glibc's malloc: each produce request's frame is an allocation of up to a MiB,
/// freed once answered, and glibc handed that memory back to the kernel (`madvise`) and faulted
/// it in again, zeroed, for the next request, 8-10% of the broker's CPU in W2. jemalloc keeps
/// freed pages for reuse (`docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    // Colours only for a person at a terminal: escape codes in a log file get in the way of
    // reading and searching it, and formatting them cost about 2% of CPU under load.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}

async fn run(config: Config) -> anyhow::Result<()> {
    match limits::raise_open_files_limit() {
        Ok(files) => {
            info!(
                soft = files.soft,
                hard = files.hard,
                before = files.before,
                "open files limit"
            );
            let max_connections = config.limits.max_connections;
            if u64::try_from(max_connections).is_ok_and(|n| n >= files.soft) {
                warn!(
                    max_connections,
                    open_files = files.soft,
                    "max.connections is not below the open files limit: accepts will fail with EMFILE first"
                );
            }
        }
        // Not fatal: the server runs with the limit it was given.
        Err(e) => warn!(error = %e, "cannot raise the open files limit"),
    }
    // Bound before the logs load so a taken port fails fast; nothing is accepted until the
    // server runs.
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let advertised = config
        .advertise
        .clone()
        .unwrap_or_else(|| (bound.ip().to_string(), bound.port()));
    let broker = Arc::new(Broker::open(config, advertised)?);
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
        maintenance::MaintenanceConfig::from_config(&broker.config),
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
