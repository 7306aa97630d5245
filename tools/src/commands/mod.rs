//! One module per command; `run` connects and dispatches.

pub(crate) mod bench;
pub(crate) mod consume;
pub(crate) mod fetcher;
pub(crate) mod group;
pub(crate) mod member;
pub(crate) mod produce;
pub(crate) mod progress;
pub(crate) mod sender;
pub(crate) mod table;
pub(crate) mod topic;

use fjord_tools::client::Client;

use crate::cli::{Cli, Command};

/// Connects to the cluster and runs the command.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut client = Client::connect(&cli.bootstrap, &cli.client_id).await?;
    match cli.command {
        Command::Topic(command) => topic::run(&mut client, command).await,
        Command::Produce(args) => produce::run(&mut client, args).await,
        Command::Consume(args) => consume::run(&mut client, args).await,
        Command::Group(command) => group::run(&mut client, command).await,
        Command::Bench(command) => bench::run(&mut client, command).await,
    }
}

/// Whether the error is stdout closing under us (`fjordctl consume ... | head`), which is how a
/// reader says it has seen enough, not a failure.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
