//! The `arena-bots` binary against a real in-process server: the JSON report has every field,
//! a broken objective exits 1, a met one 0, a bad flag 2; bots behind the link conditioner report
//! per latency band.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_arena-bots");

fn run_bots(url: &str, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["--url", url, "--bots", "5", "--duration", "3s", "--ramp", "500ms"])
        .args(extra)
        .output()
        .expect("the bots binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slos_decide_the_exit_status_and_the_json_is_complete() {
    let mut config = arena_server::config::Config::for_tests();
    config.seed = Some(1);
    let server = arena_server::start(&config).await.expect("a server on a free port");
    let url = server.ws_url();
    let json_path = std::env::temp_dir().join(format!("arena-bots-report-{}.json", std::process::id()));
    let json_arg = json_path.to_str().expect("utf-8 temp path").to_owned();

    let (met, broken, usage) = tokio::task::spawn_blocking(move || {
        let met = run_bots(&url, &["--slo", "desync=0, errors=0, joined>=5", "--json", &json_arg]);
        let broken = run_bots(&url, &["--slo", "rtt_p99<0.001ms"]);
        let usage = run_bots(&url, &["--slo", "latency<5ms"]);
        (met, broken, usage)
    })
    .await
    .expect("runner task");
    server.shutdown().await;

    assert_eq!(met.status.code(), Some(0), "met objectives exit 0: {}", String::from_utf8_lossy(&met.stderr));
    assert_eq!(broken.status.code(), Some(1), "a broken objective exits 1");
    assert!(String::from_utf8_lossy(&broken.stderr).contains("SLO violated: rtt_p99<0.001ms"));
    assert_eq!(usage.status.code(), Some(2), "an unknown metric is a usage error");

    let text = std::fs::read_to_string(&json_path).expect("the JSON report was written");
    let _ = std::fs::remove_file(&json_path);
    let v: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
    for key in [
        "bots",
        "joined",
        "errors",
        "snapshots_per_bot_per_s",
        "bytes_down_per_bot_per_s",
        "bytes_up_per_bot_per_s",
        "rtt_ms",
        "input_ack_ms",
        "snapshot_gap_ms",
        "desyncs",
        "disconnects",
        "bots_cpu_ms_per_bot_s",
        "server",
        "tick_hz",
        "input_queue",
        "dilation",
        "latency_bands",
    ] {
        assert!(v.get(key).is_some(), "the JSON report should have `{key}`: {text}");
    }
    assert_eq!(v["joined"], 5);
    assert!(v["server"]["tick_ms"]["p99"].is_number(), "the server's own tick figures are included");
    assert!(v["input_ack_ms"]["count"].as_u64().unwrap_or(0) > 0, "input acknowledgements are measured");
    assert!(v["input_queue"]["count"].as_u64().unwrap_or(0) > 0, "the server's input queue depth is recorded");
    assert!(v["dilation"]["count"].as_u64().unwrap_or(0) > 0, "the input clock's dilation is recorded");
    assert!(v["sim_link"].is_null(), "no link conditioner unless asked for");
    assert_eq!(v["latency_bands"].as_array().map(Vec::len), Some(0), "one latency: no bands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_behind_the_link_conditioner_report_per_latency_band() {
    let mut config = arena_server::config::Config::for_tests();
    config.seed = Some(3);
    let server = arena_server::start(&config).await.expect("a server on a free port");
    let url = server.ws_url();
    let json = std::env::temp_dir().join(format!("arena-bots-bands-{}.json", std::process::id()));
    let j = json.to_str().unwrap_or("").to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let link = ["--sim-latency", "10ms..40ms", "--sim-jitter", "5ms", "--behaviour", "patrol", "--json", &j];
        run_bots(&url, &[&link[..], &["--slo", "desync=0, errors=0, joined>=5"]].concat())
    })
    .await
    .expect("runner task");
    server.shutdown().await;
    let text = std::fs::read_to_string(&json).unwrap_or_default();
    let _ = std::fs::remove_file(&json);
    assert_eq!(out.status.code(), Some(0), "a conditioned swarm runs clean: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text).expect("a JSON report");
    assert_eq!(v["sim_link"]["latency_ms_min"], 10.0);
    assert_eq!(v["sim_link"]["latency_ms_max"], 40.0);
    let bands = v["latency_bands"].as_array().cloned().unwrap_or_default();
    assert_eq!(bands.len(), 5, "five bots at five latencies make five bands: {text}");
    let rtt = |b: &serde_json::Value| b["rtt_ms"]["p50"].as_f64().unwrap_or(0.0);
    assert!(rtt(&bands[0]) >= 10.0, "the lowest band's round trip includes twice 10 ms: {text}");
    assert!(rtt(&bands[4]) > rtt(&bands[0]), "a higher latency band has a longer round trip: {text}");
    assert!(bands.iter().all(|b| b["input_ack_ms"]["count"].as_u64().unwrap_or(0) > 0), "every band acks inputs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("latency band"), "the table shows the bands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_file_drives_the_swarm() {
    let mut config = arena_server::config::Config::for_tests();
    config.seed = Some(2);
    let server = arena_server::start(&config).await.expect("a server on a free port");
    let url = server.ws_url();
    let dir = std::env::temp_dir();
    let scenario = dir.join(format!("arena-scenario-{}.toml", std::process::id()));
    let json = dir.join(format!("arena-scenario-report-{}.json", std::process::id()));
    std::fs::write(
        &scenario,
        "seed = 3\n[[phase]]\nkind = \"ramp\"\nbots = 6\nduration = \"1s\"\n[[phase]]\nkind = \"spike\"\nbots = 9\nduration = \"1s\"\n[[phase]]\nkind = \"churn\"\nrate = 2\nduration = \"1s\"\n",
    )
    .expect("write the scenario");
    let (s, j) = (scenario.to_str().unwrap_or("").to_owned(), json.to_str().unwrap_or("").to_owned());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN).args(["--url", &url, "--scenario", &s, "--json", &j, "--slo", "desync=0, errors=0"]).output()
    })
    .await
    .expect("runner task")
    .expect("the bots binary runs");
    server.shutdown().await;
    let report = std::fs::read_to_string(&json).unwrap_or_default();
    let _ = (std::fs::remove_file(&scenario), std::fs::remove_file(&json));
    assert_eq!(out.status.code(), Some(0), "the scenario should run clean: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&report).expect("a JSON report");
    assert_eq!(v["bots"], 6 + 3 + 2, "six ramped, three spiking, two churned in");
    assert_eq!(v["joined"], 11);
}
