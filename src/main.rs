//! The `gateway` command: parses arguments, installs logging, binds listeners, waits for
//! signals, and maps outcomes to exit codes (0 success or clean shutdown, 1 failure, 2 usage).
//! Everything else is library code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use gateway::{Config, Error, Gateway, Listeners};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "gateway",
    version,
    about = "TLS-terminating reverse proxy with JWT login"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: ConfigArg,
    /// Log line format.
    #[arg(
        long,
        global = true,
        env = "GATEWAY_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// Config file.
    #[arg(
        long,
        global = true,
        env = "GATEWAY_CONFIG",
        default_value = "gateway.toml"
    )]
    config: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Run,
    /// Validate the config and everything it names; print a summary.
    Check,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(&cli.config.config, cli.log_format),
        Command::Check => check(&cli.config.config),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &Path) -> anyhow::Result<()> {
    let summary = gateway::check(path).map_err(config_error)?;
    println!("{summary}");
    println!("{}: configuration ok", path.display());
    Ok(())
}

/// Config problems are already `file:line:col: message` lines; print them bare.
fn config_error(e: Error) -> anyhow::Error {
    match e {
        Error::Config(gateway::config::ConfigError::Invalid { problems }) => anyhow::anyhow!(
            "invalid configuration\n{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
        other => anyhow::Error::new(other),
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

fn run(path: &Path, log_format: LogFormat) -> anyhow::Result<()> {
    init_logging(log_format);
    let config = Config::load(path).map_err(|e| config_error(e.into()))?;
    let gateway = Gateway::new(config).map_err(config_error)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(gateway))
}

async fn serve(gateway: Gateway) -> anyhow::Result<()> {
    let server = &gateway.config().server;
    let https = bind(server.listen).await?;
    let redirect_http = match server.redirect_http {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    tracing::info!(addr = %local_addr(&https), "listening for https");
    if let Some(listener) = &redirect_http {
        tracing::info!(addr = %local_addr(listener), "listening for http, redirecting to https");
    }
    let listeners = Listeners {
        https,
        redirect_http,
    };
    gateway::run(listeners, Arc::new(gateway), shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

fn local_addr(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map_or_else(|e| format!("unknown ({e})"), |a| a.to_string())
}

async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source }.into())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
