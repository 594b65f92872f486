//! The `arena-server` binary as an operator runs it: bad flags exit 2 with the reason; SIGTERM
//! says goodbye to every client with close code 1001 and exits 0.

use arena_protocol::{ByeReason, ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg, decode_server, encode_client};
use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_arena-server");

#[test]
fn invalid_flags_exit_2_with_the_reason() {
    let out = Command::new(BIN).args(["--tick-hz", "5"]).output().expect("the binary runs");
    assert_eq!(out.status.code(), Some(2), "a usage error exits 2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tick-hz") && stderr.contains('5'), "the message names the flag and value: {stderr}");
}

#[test]
fn help_explains_itself() {
    let out = Command::new(BIN).arg("--help").output().expect("the binary runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--bind",
        "--tick-hz",
        "--max-kbps",
        "--config",
        "--log-format",
        "--slow-client-timeout",
        "--idle-timeout",
        "--max-connections-per-ip",
        "--allowed-origins",
        "--join-secret",
        "--tls-cert",
        "--room-capacity",
        "--max-rooms",
        "--room-idle-timeout",
        "--agones",
        "--shutdown-when-empty",
        "--admin-bind",
        "--admin-token",
    ] {
        assert!(help.contains(flag), "--help should document {flag}");
    }
}

#[test]
fn a_port_in_use_is_one_line_and_exit_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = taken.local_addr().expect("its address");
    let out = Command::new(BIN).args(["--bind", &addr.to_string()]).output().expect("the binary runs");
    assert_eq!(out.status.code(), Some(1), "a start failure exits 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
    assert!(
        line.contains("cannot listen on") && line.contains(&addr.to_string()),
        "the reason, with the cause: {stderr}"
    );
    assert!(!stderr.contains("Stack backtrace"), "no backtrace for an operator's mistake: {stderr}");
}

#[test]
fn a_closed_log_pipe_does_not_stop_the_server() {
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Whatever read the logs went away at once: every log line now meets a broken pipe.
    drop(child.stderr.take());
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let addr = stdout.lines().map_while(Result::ok).find_map(|l| {
        l.split_whitespace().find_map(|w| w.strip_prefix("http://").map(|a| a.trim_end_matches('/').to_owned()))
    });
    let addr = addr.expect("the server says where it listens");
    std::thread::sleep(Duration::from_millis(500));
    let alive = child.try_wait().expect("the child's status").is_none();
    let health = std::net::TcpStream::connect(&addr).ok().map(|mut tcp| {
        use std::io::{Read, Write};
        let _ = tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        let mut response = String::new();
        let _ = tcp.read_to_string(&mut response);
        response
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "the server died when its log pipe closed");
    assert!(health.is_some_and(|r| r.starts_with("HTTP/1.1 200")), "and still answers /healthz");
}

#[test]
fn the_token_subcommand_prints_a_token_the_server_accepts() {
    let secret = "a-join-secret-for-the-binary-test";
    let out = Command::new(BIN)
        .args(["token", "--name", "ace", "--ttl", "90s"])
        .env("ARENA_JOIN_SECRET", secret)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let now = std::time::SystemTime::now();
    let verified = arena_server::net::join_token::check(secret.as_bytes(), &token, "ace", now).expect("a valid token");
    let unix = now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    assert!((85..=91).contains(&(verified.expiry - unix)), "valid for the --ttl given");

    let out =
        Command::new(BIN).args(["token", "--name", "ace"]).env_remove("ARENA_JOIN_SECRET").output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "without a secret it is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("join secret"), "and says what is missing");
    let short = Command::new(BIN).args(["--join-secret", "short", "token", "--name", "a"]).output().expect("runs");
    assert_eq!(short.status.code(), Some(2), "a guessable secret is refused");
}

#[tokio::test]
async fn sigterm_closes_clients_with_1001_and_exits_0() {
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader task")
    .expect("the binary prints where it listens");
    let addr = line.split("http://").nth(1).and_then(|s| s.split('/').next()).expect("an address in the first line");

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("connect");
    let hello = ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: "op".into(),
        resume: None,
        join_token: None,
        room: None,
    });
    ws.send(Message::Binary(encode_client(&hello).into())).await.expect("hello");
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a welcome in time");
    assert!(matches!(first, Some(Ok(Message::Binary(_)))), "the server should welcome us first");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let (mut bye, mut close) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline.into(), ws.next()).await {
        match msg {
            Message::Binary(b) => {
                if let Ok(ServerMsg::Bye(b)) = decode_server(&b) {
                    bye = Some(b.reason);
                }
            }
            Message::Close(frame) => {
                close = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(bye, Some(ByeReason::ShuttingDown), "the client should be told the server is shutting down");
    assert_eq!(close, Some(1001), "with close code 1001 (going away)");
    drop(ws);
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the server should exit within its grace period");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0), "a graceful shutdown exits 0");
}
