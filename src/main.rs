//! The `lookout` binary: parses the command line and hands off to `lookout::cli`. An error
//! that ends a command is printed here once, with its causes (each once), and exits 2.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Test builds only: FAILPOINTS=name=action;... turns on the fault-injection points.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = lookout::cli::Cli::parse();
    lookout::cli::init_logging(&cli);
    match lookout::cli::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            eprintln!("lookout: {}", lookout::cli::error_chain(error.chain()));
            ExitCode::from(lookout::cli::ERROR_EXIT)
        }
    }
}
