//! The `lookout` binary: parses the command line and hands off to `lookout::cli`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Test builds only: FAILPOINTS=name=action;... turns on the fault-injection points.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = lookout::cli::Cli::parse();
    lookout::cli::init_logging(&cli);
    match lookout::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("lookout: {error:#}");
            ExitCode::from(2)
        }
    }
}
