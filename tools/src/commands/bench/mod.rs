//! `fjordctl bench ...`: load generators with throughput and latency reports.
//!
//! - [`produce`]: open-loop producer over several pipelined connections.
//! - [`consume`]: reads a topic as fast as it is served.
//! - [`stats`]: HDR histograms, the progress line and the final report.
//! - [`pace`]: the precise timer open-loop sends wait on.

pub(crate) mod consume;
pub(crate) mod pace;
pub(crate) mod produce;
pub(crate) mod stats;

use clap::Subcommand;
use fjord_tools::client::Client;

/// Bench commands.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Generate produce load and report throughput and latency.
    Produce(produce::ProduceBenchArgs),
    /// Read a topic and report throughput and end-to-end latency.
    Consume(consume::ConsumeBenchArgs),
}

/// Runs a bench command.
pub(crate) async fn run(client: &mut Client, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Produce(args) => produce::run(client, args).await,
        BenchCommand::Consume(args) => consume::run(client, args).await,
    }
}
