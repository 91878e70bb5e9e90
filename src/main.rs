//! The `lookout` binary: parses the command line and hands off to `lookout::cli`. An error
//! that ends a command is printed here once, with its causes (each once), and exits 2.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, not the system allocator: the daemon allocates and frees many small strings per
/// alert from several threads, where glibc's malloc spent a fifth of the writer's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Test builds only: FAILPOINTS=name=action;... turns on the fault-injection points.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = lookout::cli::Cli::parse();
    let logging = lookout::cli::init_logging(&cli);
    let outcome = lookout::cli::run(cli);
    // What is logged is written out before the error that ends the command.
    drop(logging);
    match outcome {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            eprintln!("lookout: {}", lookout::cli::error_chain(error.chain()));
            ExitCode::from(lookout::cli::ERROR_EXIT)
        }
    }
}
