//! `waylog` binary: parse arguments, call the library, map errors to exit codes.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use waylog::cli::{self, Cli, Command};

// The ingest path allocates many small JSON values; mimalloc measurably beats glibc there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(0);
            }
            let first = e.to_string();
            let first = first
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("usage: waylog <verb> ...: {first}");
            return ExitCode::from(cli::EXIT_USAGE as u8);
        }
    };
    match cli.command {
        Command::Serve(args) => {
            let config = match (*args).into_config() {
                Ok(c) => c,
                Err(msg) => {
                    eprintln!("waylog: invalid configuration: {msg}");
                    return ExitCode::from(cli::EXIT_USAGE as u8);
                }
            };
            init_tracing();
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("waylog: cannot start runtime: {e}");
                    return ExitCode::from(cli::EXIT_SERVER as u8);
                }
            };
            match rt.block_on(waylog::api::serve(
                config,
                Arc::new(waylog::clock::SystemClock),
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("waylog: {e:#}");
                    ExitCode::from(cli::EXIT_SERVER as u8)
                }
            }
        }
        _ => {
            // Other verbs log only when asked (benchmark drivers, debugging).
            if std::env::var_os("WAYLOG_LOG").is_some() {
                init_tracing();
            }
            run_verb(cli)
        }
    }
}

fn run_verb(cli: cli::Cli) -> ExitCode {
    match cli::run(cli) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", e.message);
            ExitCode::from(e.code as u8)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WAYLOG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
