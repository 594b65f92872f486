//! The real web client in a real headless Chromium: it loads the page from the server, joins,
//! moves its ship with the keyboard and sees the bots' ships on its canvas.
//!
//! Needs what `scripts/test.sh` prepares: Chromium, `web-client/pkg/arena_wasm.wasm`
//! (`scripts/build-web.sh`) and `tests/browser/node_modules` (`npm ci` there). A missing piece
//! fails the test with the command that fixes it; it is never skipped.

use arena_bots::behaviour::Behaviour;
use arena_tests::{spawn_bots, start_server};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_client_joins_moves_and_sees_other_ships() {
    let root = repo();
    assert!(
        root.join("web-client/pkg/arena_wasm.wasm").exists(),
        "the wasm module is missing: run scripts/build-web.sh (scripts/test.sh does it for you)"
    );
    assert!(
        root.join("tests/browser/node_modules/playwright-core").exists(),
        "playwright-core is missing: run `npm ci` in tests/browser (scripts/test.sh does it for you)"
    );

    let server = start_server(|c| c.arena_size = 1200).await;
    let url = server.ws_url();
    let bots: Vec<_> = spawn_bots(&url, 4, Behaviour::Wander, Duration::from_secs(90));

    let base = format!("http://{}/", server.local_addr());
    let script = root.join("tests/browser/play.mjs");
    let screenshot = root.join("target/browser-test.png");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node").arg(script).arg(base).env("ARENA_SCREENSHOT", screenshot).output()
    })
    .await
    .expect("the node runner task should not panic")
    .expect("node should start (is Node.js installed?)");

    for bot in &bots {
        bot.abort();
    }
    server.shutdown().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser test should pass; exit {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status.code()
    );
    println!("{stdout}");
}
