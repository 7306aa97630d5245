//! `fjordctl`: operate Fjord (or any Kafka-compatible broker) from the command line.

mod cli;
mod commands;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

/// jemalloc, not glibc's malloc: `bench produce` allocates each batch and its request frame
/// (up to a MiB) and frees them once sent, and glibc handed that memory back to the kernel and
/// faulted it in again: 55,000 to 1.2 million page faults in a 12 s W3 run, about 5,000 with
/// jemalloc (`docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // One worker per core this process may run on (tokio's default honours `taskset`): a
    // load generator pinned to one core with two workers has them take turns on it, and a
    // response waits a scheduler time slice for the worker that holds its task.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if commands::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole cause chain on one line: "create topic x: TOPIC_ALREADY_EXISTS".
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
