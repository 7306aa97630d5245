//! The `fjord` server binary.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fjord_broker::broker::Broker;
use fjord_broker::config::Config;
use fjord_broker::data_dir::DataDir;
use fjord_broker::maintenance;
use fjord_broker::server::Server;
use fjord_broker::topics::Topics;
use tokio::net::TcpListener;
use tokio::sync::watch;
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
    let transactions = fjord_broker::txn::TransactionCoordinator::start(&data_dir.path)
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
    info!(%bound, cluster_id = broker.cluster_id(), "fjord ready");
    // The one line on stdout: tests and scripts wait for it to know the server accepts.
    println!("listening on {bound}");
    let maintaining = tokio::spawn(maintenance::run(
        broker.topics.clone(),
        Duration::from_millis(broker.config.log_retention_check_interval_ms),
        stopped.clone(),
    ));
    let serving = tokio::spawn(server.run(stopped));
    shutdown_signal().await?;
    info!("shutting down");
    // The receiver only goes away once the server has stopped, so a failed send is harmless.
    let _ = stop.send(true);
    serving.await.context("server task failed")?;
    maintaining.await.context("maintenance task failed")?;
    broker.groups.stop().await;
    broker.topics.flush_all();
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT"),
        _ = term.recv() => Ok(()),
    }
}
