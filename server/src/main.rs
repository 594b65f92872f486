//! `arena-server`: runs Arena's rooms and serves the browser client, `/ws` and `/healthz` on one
//! port until Ctrl-C or SIGTERM (or, with `--agones`, Agones' `Shutdown`; with
//! `--shutdown-when-empty`, the last player leaving), then closes every connection with a reason
//! and exits 0.
//! `arena-server token --name N` prints a join token instead (see `--join-secret`).
//! Logs go to stderr; stdout carries only the line saying where to point a browser.

use anyhow::Context;
use arena_server::config::{Command, Config, ConfigError, LogFormat};
use arena_server::net::join_token;
use std::io::Write;
use tracing_subscriber::EnvFilter;

/// With the `heap-stats` feature, the system allocator counts the heap bytes in use for
/// `/metrics` and `/stats`.
#[cfg(feature = "heap-stats")]
#[global_allocator]
static ALLOCATOR: arena_server::heap::CountingAlloc<std::alloc::System> =
    arena_server::heap::CountingAlloc(std::alloc::System);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = match Config::load(std::env::args_os()) {
        Ok(config) => config,
        Err(ConfigError::Usage(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if let Some(Command::Token { name, ttl }) = &config.command {
        let Some(secret) = &config.join_secret else {
            eprintln!("error: `token` needs the join secret: --join-secret or ARENA_JOIN_SECRET");
            std::process::exit(2);
        };
        println!("{}", join_token::mint(secret.0.as_bytes(), name, *ttl, std::time::SystemTime::now()));
        return Ok(());
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_writer(|| LogSink).with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_writer(|| LogSink).with_env_filter(filter).init(),
    }
    tracing::info!(?config, "starting with this configuration");
    let server = match arena_server::start(&config).await {
        Ok(server) => server,
        Err(e) => {
            // One line with the causes ("cannot listen on …: address in use"), not a backtrace.
            tracing::error!(error = format!("{e:#}"), "cannot start");
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    };
    // A closed stdout (`arena-server | head -1`) is no reason to stop.
    let _ = writeln!(std::io::stdout(), "Arena is running: open {} in a browser (Ctrl-C to stop)", server.page_url());
    tokio::select! {
        signal = wait_for_signal() => signal.context("cannot listen for shutdown signals")?,
        () = server.stop_requested() => {}
    }
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// Stderr for the logs, and never an error: a line that cannot be written (whatever read the
/// logs went away) is dropped. Plain stderr would make tracing-subscriber report the failure with
/// `eprintln!`, which panics on the same closed pipe and took the server down with it.
struct LogSink;

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
