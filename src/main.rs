use std::process::ExitCode;

use clap::Parser;
use quorumdns::cli::{Cli, Command};
use quorumdns::config::{Config, LogFormat};

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn,sled=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("quorumdns: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                let config = args.load_config()?;
                init_tracing(config.log.format);
                quorumdns::cli::serve::run(args, config).await
            }
            Command::Zone(cmd) => quorumdns::cli::zone::run(cmd).await,
            Command::Cluster(cmd) => quorumdns::cli::cluster::run(cmd).await,
            Command::Backup(args) => quorumdns::cli::backup::run_backup(args).await,
            Command::Restore(args) => quorumdns::cli::backup::run_restore(args).await,
            Command::Tsig(cmd) => quorumdns::cli::tsig::run(cmd).await,
            Command::CheckConfig { config } => {
                let c = Config::from_file(&config)?;
                println!("{c:#?}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quorumdns: {e:#}");
            ExitCode::FAILURE
        }
    }
}
