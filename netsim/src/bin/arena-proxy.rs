//! `arena-proxy`: a TCP proxy that delays every chunk of bytes each way by a latency ± jitter,
//! order kept — the link conditioner for any client and server, not only Arena's own (which have
//! it built in as `--sim-latency` / `--sim-jitter`). A development and test tool: point a browser
//! or a bot at the proxy's address and it plays as if the server were far away.
//!
//! `cargo run -p arena-netsim --features proxy --bin arena-proxy -- --listen 127.0.0.1:9080
//! --to 127.0.0.1:8080 --latency 75ms --jitter 15ms`

use arena_netsim::{DelayLine, LinkProfile};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

const USAGE: &str = "usage: arena-proxy --listen ADDR --to ADDR [--latency 75ms] [--jitter 15ms]
Delays every chunk of bytes each way by latency ± jitter (uniform), keeping their order.";

struct Args {
    listen: SocketAddr,
    to: SocketAddr,
    profile: LinkProfile,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut listen, mut to, mut profile) = (None, None, LinkProfile::default());
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = Some(value()?.parse().map_err(|e| format!("--listen: {e}"))?),
            "--to" => to = Some(value()?.parse().map_err(|e| format!("--to: {e}"))?),
            "--latency" => profile.latency = value()?.parse::<arena_netsim::Latency>()?.min,
            "--jitter" => profile.jitter = arena_netsim::parse_jitter(&value()?)?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args { listen: listen.ok_or("--listen is required")?, to: to.ok_or("--to is required")?, profile })
}

/// Copies `from` to `to`, each chunk held until due.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, profile: LinkProfile, seed: u64) {
    let mut line: DelayLine<Vec<u8>> = DelayLine::new(profile, seed);
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    loop {
        while let Some(chunk) = line.pop_due(Instant::now().into_std()) {
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        if !open && line.is_empty() {
            let _ = to.shutdown().await;
            return;
        }
        let due = line.next_due().map(Instant::from_std);
        tokio::select! {
            n = from.read(&mut buf), if open => match n {
                Ok(0) | Err(_) => open = false,
                Ok(n) => {
                    line.push(Instant::now().into_std(), buf[..n].to_vec());
                }
            },
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {}
        }
    }
}

#[tokio::main]
async fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    eprintln!(
        "arena-proxy: {} -> {} with {:?} ± {:?} each way",
        args.listen, args.to, args.profile.latency, args.profile.jitter
    );
    let mut seed = 0u64;
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        seed += 2;
        let (to, profile) = (args.to, args.profile);
        tokio::spawn(async move {
            let Ok(server) = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(to)).await else { return };
            let Ok(server) = server else { return };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(pump(cr, sw, profile, seed), pump(sr, cw, profile, seed + 1));
        });
    }
}
