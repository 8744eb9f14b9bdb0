//! The `gateway` command: parses arguments, installs logging, binds listeners, waits for
//! signals, and maps outcomes to exit codes (0 success or clean shutdown, 1 failure, 2 usage; `explain`: 3 denied).
//! It is the only place that reads the environment (`secret_env`, `RUST_LOG`) and the
//! terminal. Everything else is library code.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use gateway::log_format;
use gateway::log_writer::{BatchedStdout, FlushGuard};
use gateway::{Config, Error, Gateway, Listeners, LoadError};
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
    /// Read a password from stdin (prompted twice on a terminal) and print its argon2id hash.
    HashPassword,
    /// Exit 0 when the running gateway's admin /healthz answers (for Docker HEALTHCHECK).
    Healthcheck,
    /// Show the route and the access decision for a URL, and why (exit 0 allowed, 3 denied).
    Explain {
        /// The URL, e.g. https://app1.example.com/admin/x.
        url: String,
        /// The signed-in user (from the users file); omitted: not signed in.
        #[arg(long)]
        user: Option<String>,
        /// The request's method.
        #[arg(long, default_value = "GET", value_parser = parse_method)]
        method: http::Method,
        /// The client address, as the gateway sees it after trusted_proxies.
        #[arg(long)]
        from: Option<std::net::IpAddr>,
    },
    /// Mint a token for a user of the users file (service accounts, scripts).
    Token {
        /// The user to mint the token for.
        #[arg(long)]
        user: String,
        /// Lifetime, e.g. "1h" or "30d" (default: auth.token_ttl).
        #[arg(long, value_parser = parse_ttl)]
        ttl: Option<std::time::Duration>,
    },
    /// Sign a user out everywhere: every token of theirs signed in before now is refused.
    Revoke {
        /// The user to sign out.
        #[arg(long)]
        user: String,
    },
    /// Enroll a user in TOTP (secret, QR code, recovery codes) or remove it.
    Totp {
        #[command(subcommand)]
        action: TotpAction,
    },
}

#[derive(Debug, Subcommand)]
enum TotpAction {
    /// Give the user a new TOTP secret and 10 recovery codes (printed once).
    Enroll {
        /// The user of the users file.
        #[arg(long)]
        user: String,
    },
    /// Remove the user's TOTP secret and recovery codes.
    Disable {
        /// The user of the users file.
        #[arg(long)]
        user: String,
    },
}

fn parse_method(text: &str) -> Result<http::Method, String> {
    http::Method::from_bytes(text.as_bytes()).map_err(|_| format!("not an HTTP method: {text:?}"))
}

fn parse_ttl(text: &str) -> Result<std::time::Duration, String> {
    gateway::config::parse_duration(text)
}

/// Environment lookup handed to the library (for `secret_env`).
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The `GATEWAY_<SECTION>__<KEY>` variables, laid over the config file.
fn config_environment() -> gateway::config::Environment {
    gateway::config::Environment::from_vars(std::env::vars_os())
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
        Command::HashPassword => hash_password(),
        Command::Healthcheck => healthcheck(&cli.config.config),
        Command::Explain {
            url,
            user,
            method,
            from,
        } => {
            let asked = gateway::commands::ExplainRequest {
                url: &url,
                user: user.as_deref(),
                method,
                from,
            };
            return match explain(&cli.config.config, &asked) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(3),
                Err(e) => {
                    eprintln!("gateway: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Token { user, ttl } => token(&cli.config.config, &user, ttl),
        Command::Revoke { user } => revoke(&cli.config.config, &user),
        Command::Totp { action } => totp(&cli.config.config, action),
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
    let summary =
        gateway::commands::check(path, &config_environment(), &env_var).map_err(config_error)?;
    println!("{summary}");
    for warning in summary.warnings() {
        println!("{warning}");
    }
    println!("{}: configuration ok", path.display());
    Ok(())
}

/// Config problems are already `file:line:col: message` lines; print them bare.
fn config_error(e: Error) -> anyhow::Error {
    match e {
        Error::Load(LoadError::Config(gateway::config::ConfigError::Invalid { problems })) => {
            anyhow::anyhow!(
                "invalid configuration\n{}",
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        other => anyhow::Error::new(other),
    }
}

fn hash_password() -> anyhow::Result<()> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let second = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        anyhow::ensure!(first == second, "the passwords differ");
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read stdin")?;
        let trimmed = line.strip_suffix('\n').unwrap_or(&line);
        trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned()
    };
    let hash = gateway::commands::hash_password(&password)?;
    writeln!(std::io::stdout(), "{hash}")?;
    Ok(())
}

/// Prints the explanation; whether the request would be allowed.
fn explain(path: &Path, asked: &gateway::commands::ExplainRequest<'_>) -> anyhow::Result<bool> {
    let config = Config::load(path, &config_environment()).map_err(|e| config_error(e.into()))?;
    let explanation = gateway::commands::explain(&config, asked, &env_var).map_err(config_error)?;
    print!("{explanation}");
    Ok(explanation.allowed())
}

fn token(path: &Path, user: &str, ttl: Option<std::time::Duration>) -> anyhow::Result<()> {
    let config = Config::load(path, &config_environment()).map_err(|e| config_error(e.into()))?;
    let token =
        gateway::commands::mint_token(&config, user, ttl, &env_var).map_err(config_error)?;
    println!("{token}");
    Ok(())
}

fn totp(path: &Path, action: TotpAction) -> anyhow::Result<()> {
    use gateway::commands::totp::{disable, enroll, readable_by_others};
    let config = Config::load(path, &config_environment()).map_err(|e| config_error(e.into()))?;
    let users_file = config
        .users
        .as_ref()
        .and_then(|u| u.file.as_ref())
        .map(|f| f.value.clone());
    match action {
        TotpAction::Enroll { user } => {
            let enrolled = enroll(&config, &user).map_err(config_error)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "Scan this with the authenticator app of {user}:\n")?;
            writeln!(out, "{}", enrolled.qr)?;
            writeln!(out, "or enter this URI:\n{}\n", enrolled.uri)?;
            writeln!(
                out,
                "Recovery codes (each works once; shown only now, hand them over safely):"
            )?;
            for code in &enrolled.recovery_codes {
                writeln!(out, "  {code}")?;
            }
            writeln!(out, "\nReload the running gateway (SIGHUP) to apply.")?;
        }
        TotpAction::Disable { user } => {
            disable(&config, &user).map_err(config_error)?;
            println!("removed the second factor of {user}; reload the running gateway (SIGHUP)");
        }
    }
    if users_file.as_deref().is_some_and(readable_by_others) {
        eprintln!(
            "gateway: warning: the users file holds TOTP secrets and is readable by others; chmod 600 it"
        );
    }
    Ok(())
}

fn revoke(path: &Path, user: &str) -> anyhow::Result<()> {
    let config = Config::load(path, &config_environment()).map_err(|e| config_error(e.into()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(gateway::commands::revoke_user(&config, user))? {
        gateway::commands::RevokedVia::Redis(url) => {
            println!("{user}: signed out everywhere (recorded in redis at {url})");
        }
        gateway::commands::RevokedVia::AdminListener(addr) => {
            println!("{user}: signed out on the instance at {addr} (store = \"memory\")");
        }
    }
    Ok(())
}

/// Installs the log subscriber: lines in the `gateway::log_format` formats (colours only
/// on a terminal without `NO_COLOR`) go to stdout in batches, written by a flusher thread
/// at most 50 ms after they are logged (see `gateway::log_writer`). Keep the returned guard
/// until exit: dropping it writes what is still buffered.
fn init_logging(format: LogFormat) -> anyhow::Result<FlushGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let guard = BatchedStdout::start().context("cannot start the log writer")?;
    let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(BatchedStdout);
    match format {
        LogFormat::Text => builder
            .event_format(log_format::Text)
            .fmt_fields(log_format::TextFields)
            .init(),
        LogFormat::Json => builder
            .event_format(log_format::Json)
            .fmt_fields(log_format::JsonFields)
            .init(),
    }
    Ok(guard)
}

fn run(path: &Path, log_format: LogFormat) -> anyhow::Result<()> {
    let _flush_on_exit = init_logging(log_format)?;
    let config = Config::load(path, &config_environment()).map_err(|e| config_error(e.into()))?;
    let gateway = Gateway::new(config, &env_var).map_err(|e| config_error(e.into()))?;
    // Worker 0: `gateway::run` starts the other workers, each on a runtime of its own.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(Arc::new(gateway), path.to_owned()))
}

async fn serve(gateway: Arc<Gateway>, config_path: PathBuf) -> anyhow::Result<()> {
    let snapshot = gateway.snapshot();
    let server = &snapshot.config().server;
    let backlog = server.listen_backlog;
    let https = bind(server.listen, backlog)?;
    let redirect_http = match server.redirect_http {
        Some(addr) => Some(bind(addr, backlog)?),
        None => None,
    };
    let admin = match server.admin_listen {
        Some(addr) => Some(bind(addr, backlog)?),
        None => None,
    };
    tracing::info!(addr = %local_addr(&https), "listening for https");
    if let Some(listener) = &redirect_http {
        tracing::info!(addr = %local_addr(listener), "listening for http, redirecting to https");
    }
    if let Some(listener) = &admin {
        tracing::info!(addr = %local_addr(listener), "listening for admin requests");
    }
    let listeners = Listeners {
        https,
        redirect_http,
        admin,
    };
    let reloads = tokio::spawn(reload_on_sighup(gateway.clone(), config_path));
    gateway::run(listeners, gateway, shutdown_signal()).await;
    reloads.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Reloads config, users and certificates on every SIGHUP; a bad reload keeps the old
/// config serving and logs every problem.
async fn reload_on_sighup(gateway: Arc<Gateway>, config_path: PathBuf) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; reload is unavailable");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        let gateway = gateway.clone();
        let path = config_path.clone();
        let outcome =
            tokio::task::spawn_blocking(move || gateway.reload_from(&path, &env_var)).await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %format!("{:#}", anyhow::Error::new(e)), "reload refused; the previous configuration keeps serving")
            }
            Err(e) => tracing::error!(error = %e, "reload task failed"),
        }
    }
}

fn healthcheck(path: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(gateway::commands::healthcheck(path, &config_environment()))?;
    Ok(())
}

fn local_addr(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map_or_else(|e| format!("unknown ({e})"), |a| a.to_string())
}

/// Binds one listener with the configured accept-queue length.
fn bind(addr: std::net::SocketAddr, backlog: u32) -> anyhow::Result<TcpListener> {
    gateway::bind(addr, backlog).map_err(|source| Error::Bind { addr, source }.into())
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
