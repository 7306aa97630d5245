//! The command line: global options and the command tree.

use clap::{Parser, Subcommand};

use crate::commands::{bench, consume, group, produce, topic};

/// Operate Fjord, or any Kafka-compatible broker, from the command line.
#[derive(Debug, Parser)]
#[command(name = "fjordctl", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Broker(s) to bootstrap from, comma-separated HOST:PORT.
    #[arg(
        long,
        short = 'b',
        global = true,
        env = "FJORD_BOOTSTRAP",
        default_value = "127.0.0.1:9092"
    )]
    pub(crate) bootstrap: String,
    /// The client id sent to the broker.
    #[arg(long, global = true, default_value = "fjordctl")]
    pub(crate) client_id: String,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, list, describe, alter and delete topics.
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// Produce one record per line of standard input.
    Produce(produce::ProduceArgs),
    /// Print the records of a topic.
    Consume(consume::ConsumeArgs),
    /// List, describe, reset and delete consumer groups.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Load generators.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}
