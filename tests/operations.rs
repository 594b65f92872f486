//! What operators rely on: `/metrics` in the Prometheus text format with the documented names,
//! `/readyz` that says when not to send players, `/stats` with precise tick figures.

use arena_bots::behaviour::{Behaviour, Brain};
use arena_protocol::ServerMsg;
use arena_tests::{RawClient, eventually, http_get, reports, spawn_bot, spawn_bots, start_server};
use std::collections::HashMap;
use std::time::Duration;

/// Parses the text exposition: every sample line is `name{labels} value`; returns the samples by
/// their full series name (labels included) and the names declared by `# TYPE` lines.
fn parse(text: &str) -> (HashMap<String, f64>, Vec<(String, String)>) {
    let mut samples = HashMap::new();
    let mut types = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            types.push((parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned()));
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let (series, value) =
                line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line has a value: {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("a sample value is a number: {line:?}"));
            samples.insert(series.to_owned(), value);
        }
    }
    (samples, types)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_parsed_and_named_by_the_conventions() {
    let server = start_server(|c| c.arena_size = 1000).await;
    let url = server.ws_url();
    let bots: Vec<_> = spawn_bots(&url, 3, Behaviour::Chase, Duration::from_secs(6));
    let stats = server.stats().clone();
    let in3 = eventually(Duration::from_secs(5), || stats.clients.get() == 3).await;
    assert!(in3, "three bots should be in, clients {} connections {}", stats.clients.get(), stats.connections.get());
    let started = std::time::Instant::now();
    let mut vandal = RawClient::joined(&url).await;
    // In the room first: garbage sent before the Join is handled would leave the count at 3 all
    // along, and the scrape below could catch the vandal's Join before its Leave.
    let welcome = vandal.wait_for(Duration::from_secs(5), |m| matches!(m, ServerMsg::Welcome(_)).then_some(())).await;
    assert!(welcome.is_some(), "the vandal should be welcomed");
    vandal.send_bytes(&[0xff; 9]).await;
    let ending = vandal.ending(Duration::from_secs(5)).await;
    assert!(ending.close.is_some(), "the vandal should be closed");
    println!("vandal closed in {:?}", started.elapsed());
    assert!(eventually(Duration::from_secs(5), || stats.clients.get() == 3).await, "the vandal should be gone");
    let (status, text) = http_get(server.local_addr(), "/metrics").await;
    let bots = reports(bots).await;
    server.shutdown().await;

    assert_eq!(status, 200);
    assert!(text.trim_end().ends_with("# EOF"), "OpenMetrics text ends with # EOF");
    let (samples, types) = parse(&text);
    let kind = |name: &str| types.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str());
    assert_eq!(kind("arena_tick_duration_seconds"), Some("histogram"));
    assert_eq!(kind("arena_tick_overruns"), Some("counter"), "counters are declared without _total, sampled with it");
    for series in [
        "arena_clients_connected",
        "arena_connections_open",
        "arena_entities",
        "arena_ticks_total",
        "arena_tick_overruns_total",
        "arena_bytes_sent_total",
        "arena_bytes_received_total",
        "arena_snapshots_sent_total",
        "arena_snapshots_dropped_total",
        "arena_connections_closed_total{reason=\"malformed\"}",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "arena_tick_duration_seconds_count{phase=\"total\"}",
        "arena_tick_duration_seconds_count{phase=\"replicate\"}",
    ] {
        assert!(samples.contains_key(series), "/metrics should have {series}; got:\n{text}");
    }
    assert_eq!(samples["arena_clients_connected"], 3.0);
    assert_eq!(samples["arena_connections_closed_total{reason=\"malformed\"}"], 1.0);
    assert!(samples["arena_bytes_sent_total"] > 0.0 && samples["arena_ticks_total"] > 0.0);
    assert!(samples["process_resident_memory_bytes"] > 1e6, "the process's memory should be reported");
    // The tick budget (1/30 s) is a bucket boundary, and buckets are cumulative.
    let budget = samples.keys().find(|k| {
        k.starts_with("arena_tick_duration_seconds_bucket{")
            && k.contains("phase=\"total\"")
            && k.contains("le=\"0.0333")
    });
    assert!(budget.is_some(), "a bucket should end at the 33.3 ms tick budget");
    let inf = samples["arena_tick_duration_seconds_bucket{le=\"+Inf\",phase=\"total\"}"];
    assert_eq!(inf, samples["arena_tick_duration_seconds_count{phase=\"total\"}"], "+Inf bucket = count");
    assert!(bots.iter().all(|b| b.error.is_none()), "scraping should not disturb play");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_full_when_the_room_is_full() {
    let server = start_server(|c| c.max_clients = 1).await;
    let addr = server.local_addr();
    let (status, body) = http_get(addr, "/readyz").await;
    assert_eq!(status, 200, "an empty room is ready: {body}");
    let bot = spawn_bot(&server.ws_url(), "only", Brain::fixed(0), Duration::from_secs(2));
    let stats = server.stats().clone();
    assert!(eventually(Duration::from_secs(5), || stats.clients.get() == 1).await);
    let (status, body) = http_get(addr, "/readyz").await;
    let (health, _) = http_get(addr, "/healthz").await;
    let _ = bot.await;
    server.shutdown().await;
    assert_eq!(status, 503, "a full room is not ready");
    assert!(body.contains("full"), "and says why: {body}");
    assert_eq!(health, 200, "a full room is still alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_give_precise_tick_percentiles() {
    let server = start_server(|_| {}).await;
    let stats = server.stats().clone();
    // Rooms open for players: one is enough to tick.
    let player = spawn_bot(&server.ws_url(), "ticker", Brain::fixed(0), Duration::from_secs(3));
    assert!(
        eventually(Duration::from_secs(5), || stats.tick_histograms().phases[4].len() > 30).await,
        "ticks are published"
    );
    let (status, body) = http_get(server.local_addr(), "/stats").await;
    let _ = player.await;
    server.shutdown().await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("/stats is JSON");
    let total = &v["phases"]["total"];
    assert!(total["count"].as_u64().unwrap_or(0) > 30, "{body}");
    let recorded: u64 = total["recorded"].as_array().map_or(0, |a| a.iter().filter_map(|p| p[1].as_u64()).sum());
    assert_eq!(Some(recorded), total["count"].as_u64(), "the recorded pairs add up to the count");
    assert!(total["p999_us"].as_u64() >= total["p50_us"].as_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_test_runs_the_server_binary_and_reports_both_sides() {
    use arena_bots::loadtest::{LoadTestConfig, run};
    use arena_bots::swarm::SwarmConfig;
    // `cargo test --workspace` builds the server binary next to this test's folder.
    let exe = std::env::current_exe().expect("the test binary's path");
    let server_bin = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>").join("arena-server");
    assert!(
        server_bin.exists(),
        "{} is missing: run the workspace's tests (cargo test --workspace)",
        server_bin.display()
    );
    let config = LoadTestConfig {
        server_bin,
        server_args: vec!["--arena-size".into(), "1500".into()],
        swarm: SwarmConfig {
            url: String::new(),
            bots: 10,
            ramp: Duration::from_secs(1),
            duration: Duration::from_secs(4),
            behaviour: Behaviour::Mixed,
            seed: 3,
            source_ips: Vec::new(),
            sim_link: Default::default(),
            ping_every: arena_bots::bot::DEFAULT_PING_EVERY,
            chaos: None,
            decoding: None,
            rooms: Default::default(),
        },
        idle: 20,
    };
    let report = run(config, std::sync::Arc::default()).await.expect("the load test runs");
    assert_eq!(report.clients.joined, 10, "every bot should join");
    assert_eq!(report.clients.desyncs, 0);
    assert!(
        report.server.window.ticks > 60,
        "the window should hold a few seconds of ticks: {}",
        report.server.window.ticks
    );
    assert!(
        report.server.window.tick_ms.p50 > 0.0 && report.server.window.tick_ms.max >= report.server.window.tick_ms.p99
    );
    assert!(report.server.kib_per_idle_connection.is_some(), "idle connections should be measured");
    assert!(report.server_exited_cleanly, "SIGTERM should end the server with status 0");
    let json: serde_json::Value = serde_json::to_value(&report).expect("the report serializes");
    for key in ["server", "clients", "window_s", "server_exited_cleanly"] {
        assert!(json.get(key).is_some(), "the JSON report should have `{key}`");
    }
    assert!(json["server"]["tick_ms"]["p999"].is_number());
}

/// `GET path` with `Authorization: Bearer token`: the status.
async fn get_with_token(addr: std::net::SocketAddr, path: &str, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: arena\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_endpoints_move_to_the_admin_port_behind_the_token() {
    const TOKEN: &str = "an-admin-token-of-some-length";
    let server = start_server(|c| {
        c.admin_bind = Some("127.0.0.1:0".parse().expect("an address"));
        c.admin_token = Some(TOKEN.parse().expect("long enough"));
    })
    .await;
    let (game, admin) = (server.local_addr(), server.admin_addr().expect("bound"));
    for path in ["/metrics", "/stats", "/rooms", "/console"] {
        assert_eq!(http_get(game, path).await.0, 404, "{path} is not on the game port");
    }
    for path in ["/metrics", "/stats", "/rooms"] {
        assert_eq!(http_get(admin, path).await.0, 401, "{path} needs the token");
        assert_eq!(get_with_token(admin, path, "not-the-token-at-all-no").await, 401, "{path}: a wrong token");
        assert_eq!(get_with_token(admin, path, TOKEN).await, 200, "{path} with the token");
        assert_eq!(http_get(admin, &format!("{path}?token={TOKEN}")).await.0, 200, "{path} with ?token=");
    }
    let (status, page) = http_get(admin, "/console").await;
    assert_eq!(status, 200, "the console page holds no data and asks for the token");
    assert!(page.contains("console.js"), "{page}");
    assert_eq!(http_get(game, "/healthz").await.0, 200, "the probes stay on the game port");
    assert_eq!(http_get(admin, "/healthz").await.0, 200, "and are on the admin port too");
    assert!(server.stats().refused_with("admin_token") >= 6, "refusals are counted");
    server.shutdown().await;

    // Without --admin-bind the token guards the same endpoints on the game port.
    let server = start_server(|c| c.admin_token = Some(TOKEN.parse().expect("long enough"))).await;
    let game = server.local_addr();
    assert_eq!(http_get(game, "/metrics").await.0, 401);
    assert_eq!(get_with_token(game, "/metrics", TOKEN).await, 200);
    assert_eq!(http_get(game, "/").await.0, 200, "the game's page needs no token");
    server.shutdown().await;
}
