//! The deployment files (`deploy/`), checked without a cluster or a Docker daemon (this machine
//! has neither): the YAML parses into the Agones kinds with the fields docs/DEPLOY.md relies on,
//! every argument the Fleet gives `arena-server` is one the server accepts, and the Dockerfile's
//! runtime stage works: the files it copies, laid out the same way in a temporary folder, with
//! its environment, make a server that serves the page, `/healthz`, and the console on the admin
//! port.

use arena_server::config::Config;
use serde_yaml::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml(name: &str) -> Value {
    let path = repo().join("deploy").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, key| &v[*key])
}

#[test]
fn the_fleet_autoscaler_and_allocation_are_what_the_docs_say() {
    let fleet = yaml("fleet.yaml");
    assert_eq!(fleet["kind"].as_str(), Some("Fleet"));
    assert_eq!(fleet["apiVersion"].as_str(), Some("agones.dev/v1"));
    let gs = at(&fleet, &["spec", "template", "spec"]);
    let port = &gs["ports"][0];
    assert_eq!((port["containerPort"].as_u64(), port["protocol"].as_str()), (Some(7777), Some("TCP")));
    assert!(at(gs, &["health", "periodSeconds"]).as_u64().is_some_and(|s| s >= 3), "pings come every 2 s");
    assert!(at(gs, &["counters", "players", "capacity"]).as_u64().is_some());
    let container = &at(gs, &["template", "spec", "containers"])[0];
    let args: Vec<String> =
        container["args"].as_sequence().expect("args").iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
    assert!(args.iter().any(|a| a == "--agones"), "the Fleet runs the server with --agones: {args:?}");
    let config = Config::load(std::iter::once("arena-server".to_owned()).chain(args.iter().cloned()))
        .unwrap_or_else(|e| panic!("arena-server refuses the Fleet's arguments {args:?}: {e}"));
    assert!(config.agones);
    let capacity = at(gs, &["counters", "players", "capacity"]).as_u64();
    assert_eq!(capacity, Some(u64::from(config.max_clients)), "the players Counter's capacity is --max-clients");
    assert!(at(container, &["resources", "requests", "cpu"]).as_str().is_some());
    assert!(at(container, &["resources", "limits", "memory"]).as_str().is_some());

    let autoscaler = yaml("fleetautoscaler.yaml");
    assert_eq!(autoscaler["kind"].as_str(), Some("FleetAutoscaler"));
    assert_eq!(at(&autoscaler, &["spec", "fleetName"]).as_str(), fleet["metadata"]["name"].as_str());
    assert_eq!(at(&autoscaler, &["spec", "policy", "type"]).as_str(), Some("Buffer"));
    assert!(at(&autoscaler, &["spec", "policy", "buffer", "bufferSize"]).as_u64().is_some());

    let allocation = yaml("allocation.yaml");
    assert_eq!(allocation["kind"].as_str(), Some("GameServerAllocation"));
    let selectors = at(&allocation, &["spec", "selectors"]).as_sequence().expect("selectors");
    assert_eq!(selectors[0]["gameServerState"].as_str(), Some("Allocated"), "pack players into servers in use first");
    assert_eq!(selectors.last().and_then(|s| s["gameServerState"].as_str()), Some("Ready"));
}

/// The Dockerfile's runtime stage: `COPY --from=build /src/<from>… <to>` and `ENV` lines.
struct Runtime {
    copies: Vec<(Vec<String>, String)>,
    env: Vec<(String, String)>,
}

fn runtime_stage(dockerfile: &str) -> Runtime {
    let joined = dockerfile.replace("\\\n", " ");
    let stage = joined.split("AS runtime").nth(1).expect("a stage named runtime");
    let mut copies = Vec::new();
    let mut env = Vec::new();
    for line in stage.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("COPY --from=build ") {
            let mut parts: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
            let to = parts.pop().expect("a destination");
            copies.push((parts, to));
        } else if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("ENV KEY=value");
                env.push((k.to_owned(), v.to_owned()));
            }
        }
    }
    Runtime { copies, env }
}

/// Copies `from` (a file or a folder) into `to` (a folder when it ends with `/`).
fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    }
}

#[test]
fn the_images_runtime_layout_serves_the_game_and_the_console() {
    let root = repo();
    let dockerfile = std::fs::read_to_string(root.join("deploy/Dockerfile")).expect("deploy/Dockerfile");
    let runtime = runtime_stage(&dockerfile);
    assert!(dockerfile.contains("USER 10001"), "the image runs as a non-root user");
    let image = std::env::temp_dir().join(format!("arena-image-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&image);
    // The test's own build of the server stands in for the release build.
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    for (sources, to) in &runtime.copies {
        for source in sources {
            let from = match source.strip_prefix("/src/target/release/") {
                Some(binary) => target.join(binary),
                None => root.join(source.strip_prefix("/src/").expect("copied from /src")),
            };
            assert!(from.exists(), "the image copies {} which is missing (scripts/build-web.sh?)", from.display());
            let dest = image.join(to.trim_start_matches('/'));
            let dest = if to.ends_with('/') { dest.join(from.file_name().expect("a name")) } else { dest };
            copy(&from, &dest);
        }
    }
    let binary = image.join("usr/local/bin/arena-server");
    assert!(binary.exists(), "the image has the server at /usr/local/bin/arena-server");
    let mut command = Command::new(&binary);
    for (key, value) in &runtime.env {
        let value = match key.as_str() {
            // Free loopback ports instead of the image's fixed ones.
            "ARENA_BIND" | "ARENA_ADMIN_BIND" => "127.0.0.1:0".to_owned(),
            _ => value.replace("/srv/", &format!("{}/srv/", image.display())),
        };
        command.env(key, value);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the server starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    // stdout: "Arena is running: open http://ADDR/ …"; stderr (JSON logs): the admin address.
    // The log goes through a channel: the admin address is in it, and all of it is shown if the
    // server does not come up.
    let (lines, log) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let page = stdout.lines().map_while(Result::ok).find_map(|l| {
        l.split_whitespace().find(|w| w.starts_with("http://")).map(|w| w.trim_end_matches('/').to_owned())
    });
    let mut seen = Vec::new();
    let admin = loop {
        let Ok(line) = log.recv_timeout(Duration::from_secs(5)) else { break None };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let found = v["fields"]["admin_addr"].as_str().map(str::to_owned);
        seen.push(line);
        if found.is_some() {
            break found;
        }
    };
    let (Some(page), Some(admin)) = (page, admin) else {
        let _ = child.kill();
        let _ = child.wait();
        seen.extend(log.try_iter());
        panic!("the server should say where it listens (stdout) and its admin address (log):\n{}", seen.join("\n"));
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let addr: std::net::SocketAddr = page.trim_start_matches("http://").parse().expect("an address");
    let admin: std::net::SocketAddr = admin.parse().expect("an address");
    let deadline = Instant::now() + Duration::from_secs(10);
    let (index, health, console) = runtime.block_on(async {
        while arena_tests::http_get(addr, "/healthz").await.0 != 200 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (
            arena_tests::http_get(addr, "/").await,
            arena_tests::http_get(addr, "/healthz").await,
            arena_tests::http_get(admin, "/console").await,
        )
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&image);
    assert_eq!(index.0, 200, "the image serves the page from its web root");
    assert!(index.1.contains("<canvas"), "the game's page: {}", index.1);
    assert_eq!(health.0, 200);
    assert_eq!(console.0, 200, "and the console on the admin port");
}
