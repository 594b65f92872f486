//! `arena-server`: runs one Arena room and serves the browser client, `/ws` and `/healthz` on one
//! port until Ctrl-C or SIGTERM, then closes every connection with a reason and exits 0.
//! Logs go to stderr; stdout carries only the line saying where to point a browser.

use anyhow::Context;
use arena_server::config::{Config, ConfigError, LogFormat};
use tracing_subscriber::EnvFilter;

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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_writer(std::io::stderr).with_env_filter(filter).init(),
    }
    tracing::info!(?config, "starting with this configuration");
    let server = arena_server::start(&config).await?;
    println!("Arena is running: open http://{}/ in a browser (Ctrl-C to stop)", server.local_addr());
    wait_for_signal().await.context("cannot listen for shutdown signals")?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
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
