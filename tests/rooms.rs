//! Many rooms in one process, over real WebSockets: rooms share nothing (no entity, event or
//! scoreboard crosses from one to another), quick play fills the fullest room and then opens
//! new ones up to `--max-rooms`, an empty room closes after `--room-idle-timeout`, and `/rooms`
//! says what is open. (A panicking room's isolation is in `watchdog.rs`.)

use arena_protocol::rules::Arena;
use arena_protocol::{ByeReason, ClientWorld, EntityKind, GameEvent, Physics, ServerMsg};
use arena_tests::{RawClient, eventually, http_get, start_server};
use std::collections::BTreeSet;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(5);

/// What one player saw of its room over a while.
#[derive(Debug, Default)]
struct Seen {
    room: String,
    /// Names in the Welcome and in every Joined event.
    names: BTreeSet<String>,
    /// `players_online` of every scoreboard.
    online: BTreeSet<u32>,
    /// Ships in the world after the last snapshot.
    ships: usize,
    snapshots: u32,
}

/// Reads `client`'s messages for `how_long`, applying its snapshots to a world.
async fn watch(client: &mut RawClient, how_long: Duration, arena: f32) -> Seen {
    let mut seen = Seen::default();
    let mut world = ClientWorld::new(Physics::new(30, Arena { width: arena, height: arena }));
    let until = tokio::time::Instant::now() + how_long;
    while let Some(msg) = client.next_message(until.saturating_duration_since(tokio::time::Instant::now())).await {
        match msg {
            ServerMsg::Welcome(w) => {
                seen.room = w.room;
                seen.names.extend(w.players.into_iter().map(|p| p.name));
            }
            ServerMsg::Event(GameEvent::Joined(p)) => {
                seen.names.insert(p.name);
            }
            ServerMsg::Scoreboard(b) => {
                seen.online.insert(b.players_online);
            }
            ServerMsg::Snapshot(s) => {
                world.apply(&s).expect("every snapshot applies");
                seen.snapshots += 1;
                seen.ships = world.entities().iter().filter(|e| e.kind == EntityKind::Ship).count();
            }
            _ => {}
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_share_no_entity_event_or_scoreboard() {
    let arena = 1500.0;
    let server = start_server(|c| {
        c.arena_size = arena as u32;
        c.orbs = 0;
        c.view_width = 4000;
        c.view_height = 4000;
    })
    .await;
    let url = server.ws_url();
    let mut players = Vec::new();
    for (room, n) in [("red", 3), ("blue", 2)] {
        for i in 0..n {
            players.push((room, RawClient::in_room(&url, &format!("{room}-{i}"), Some(room)).await));
        }
    }
    let watched = players.iter_mut().map(|(_, c)| watch(c, Duration::from_millis(2500), arena));
    let seen = futures_util::future::join_all(watched).await;
    for ((room, _), seen) in players.iter().zip(&seen) {
        let (room, size) = (room.to_string(), if *room == "red" { 3u32 } else { 2 });
        assert_eq!(seen.room, room, "each player is in the room it named");
        assert!(seen.snapshots > 30, "{room}: the room ticks ({} snapshots)", seen.snapshots);
        assert_eq!(seen.ships, size as usize, "{room}: only its own room's ships are in a player's world");
        assert!(seen.names.iter().all(|n| n.starts_with(&room)), "{room}: names from another room: {:?}", seen.names);
        assert!(!seen.online.is_empty(), "{room}: a scoreboard came");
        assert!(
            seen.online.iter().all(|&n| n <= size),
            "{room}: scoreboards count only its players: {:?}",
            seen.online
        );
    }
    let (_, rooms) = http_get(server.local_addr(), "/rooms").await;
    let rooms: Vec<serde_json::Value> = serde_json::from_str(&rooms).expect("/rooms is JSON");
    let mut by_name: Vec<(String, u64)> = rooms
        .iter()
        .map(|r| (r["name"].as_str().unwrap_or_default().to_owned(), r["players"].as_u64().unwrap_or(0)))
        .collect();
    by_name.sort();
    assert_eq!(by_name, [("blue".to_owned(), 2), ("red".to_owned(), 3)], "/rooms: {rooms:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_play_fills_the_fullest_room_then_opens_new_ones_up_to_the_limit() {
    let server = start_server(|c| {
        c.room_capacity = 2;
        c.max_rooms = 2;
    })
    .await;
    let url = server.ws_url();
    let mut rooms = Vec::new();
    let mut clients = Vec::new();
    for i in 0..4 {
        let mut c = RawClient::in_room(&url, &format!("p{i}"), None).await;
        rooms.push(c.welcome(WITHIN).await.expect("a place while rooms have room").room);
        clients.push(c);
    }
    assert_eq!(rooms[0], rooms[1], "the second player goes to the first room (the fullest with a place)");
    assert_ne!(rooms[1], rooms[2], "a full room makes quick play open another");
    assert_eq!(rooms[2], rooms[3]);

    let mut fifth = RawClient::in_room(&url, "p4", None).await;
    let ending = fifth.ending(WITHIN).await;
    let bye = ending.bye().expect("turned away, with a reason");
    assert_eq!(bye.reason, ByeReason::ServerFull, "{bye:?}");
    assert!(bye.message.contains("2 rooms"), "the message says why: {}", bye.message);
    let mut named = RawClient::in_room(&url, "p5", Some(rooms[0].as_str())).await;
    let bye = named.ending(WITHIN).await.bye().expect("a full named room refuses");
    assert_eq!(bye.reason, ByeReason::ServerFull);
    assert!(bye.message.contains(&rooms[0]) && bye.message.contains("full"), "{}", bye.message);
    let (status, body) = http_get(server.local_addr(), "/readyz").await;
    assert_eq!(status, 503, "no place for a quick-play player: not ready ({body})");

    // A player leaves the first room: the next quick-play player takes that place.
    clients.remove(0).vanish();
    let seats = |name: &str| server.rooms().get(name).map_or(0, |r| r.stats.seats());
    assert!(eventually(WITHIN, || seats(&rooms[0]) == 1).await, "the leaver's place is given back");
    let mut next = RawClient::in_room(&url, "p6", None).await;
    assert_eq!(next.welcome(WITHIN).await.map(|w| w.room), Some(rooms[0].clone()));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_room_closes_after_the_idle_timeout_and_an_occupied_one_stays() {
    let server = start_server(|c| c.room_idle_timeout = Duration::from_millis(400)).await;
    let url = server.ws_url();
    let addr = server.local_addr();
    let mut stays = RawClient::in_room(&url, "stayer", Some("kept")).await;
    assert!(stays.welcome(WITHIN).await.is_some());
    let mut leaves = RawClient::in_room(&url, "leaver", Some("brief")).await;
    assert!(leaves.welcome(WITHIN).await.is_some());
    let (_, metrics) = http_get(addr, "/metrics").await;
    assert!(metrics.contains("arena_room_players{room=\"brief\"}"), "a room has its own series");
    assert_eq!(server.stats().rooms_open.get(), 2);
    leaves.send(tokio_tungstenite::tungstenite::Message::Close(None)).await;
    let closed = || server.rooms().get("brief").is_none();
    assert!(eventually(Duration::from_secs(5), closed).await, "the empty room closes");
    assert_eq!(server.stats().rooms_closed_with("idle"), 1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(server.rooms().get("kept").is_some(), "a room with a player stays open past the timeout");
    let (_, metrics) = http_get(addr, "/metrics").await;
    assert!(!metrics.contains("room=\"brief\""), "a closed room's series are gone");
    assert!(metrics.contains("arena_room_players{room=\"kept\"} 1"), "{metrics}");
    let (_, rooms) = http_get(addr, "/rooms").await;
    assert!(rooms.contains("\"kept\"") && !rooms.contains("\"brief\""), "{rooms}");
    // The name can be used again: a new room opens.
    let mut back = RawClient::in_room(&url, "again", Some("brief")).await;
    assert_eq!(back.welcome(WITHIN).await.map(|w| w.room).as_deref(), Some("brief"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_report_players_capacity_and_recent_tick_times() {
    let server = start_server(|c| c.room_capacity = 5).await;
    let url = server.ws_url();
    let mut clients = Vec::new();
    for (i, room) in ["a", "a", "b"].iter().enumerate() {
        let mut c = RawClient::in_room(&url, &format!("p{i}"), Some(room)).await;
        assert!(c.welcome(WITHIN).await.is_some());
        clients.push(c);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, body) = http_get(server.local_addr(), "/rooms").await;
    assert_eq!(status, 200);
    let rooms: Vec<serde_json::Value> = serde_json::from_str(&body).expect("/rooms is a JSON array");
    assert_eq!(rooms.len(), 2, "{body}");
    for r in &rooms {
        let players = if r["name"] == "a" { 2 } else { 1 };
        assert_eq!(r["players"].as_u64(), Some(players), "{r}");
        assert_eq!(r["capacity"].as_u64(), Some(5), "{r}");
        assert_eq!(r["tick_hz"].as_u64(), Some(30), "{r}");
        assert!(r["recent_ticks"].as_u64().unwrap_or(0) >= 15, "ticks of the last seconds: {r}");
        let (p50, p99) = (r["tick_p50_ms"].as_f64().unwrap_or(-1.0), r["tick_p99_ms"].as_f64().unwrap_or(-1.0));
        assert!(p50 > 0.0 && p99 >= p50, "tick percentiles: {r}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_room_name_is_refused_as_malformed() {
    let server = start_server(|_| {}).await;
    for bad in ["", "has space", "ümlaut", &"x".repeat(33)] {
        let mut c = RawClient::in_room(&server.ws_url(), "p", Some(bad)).await;
        let ending = c.ending(WITHIN).await;
        let bye = ending.bye().expect("told why");
        assert_eq!(bye.reason, ByeReason::Malformed, "{bad:?}: {bye:?}");
        assert!(bye.message.contains("room name"), "{}", bye.message);
    }
    assert_eq!(server.stats().rooms_open.get(), 0, "no room was opened for them");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_room_pauses_and_a_player_wakes_it() {
    let server = start_server(|_| {}).await;
    let url = server.ws_url();
    let mut first = RawClient::in_room(&url, "first", Some("lull")).await;
    assert!(first.welcome(WITHIN).await.is_some());
    first.send(tokio_tungstenite::tungstenite::Message::Close(None)).await;
    let room = server.rooms().get("lull").expect("the room stays open (idle timeout 60 s)");
    let ticks = || room.stats.summary(std::time::Instant::now()).ticks;
    assert!(eventually(WITHIN, || room.stats.players() == 0).await, "the player left");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused_at = ticks();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ticks(), paused_at, "an empty room does not tick");
    let (status, body) = http_get(server.local_addr(), "/healthz").await;
    assert_eq!(status, 200, "a paused room is not stuck: {body}");

    let mut second = RawClient::in_room(&url, "second", Some("lull")).await;
    assert!(second.welcome(WITHIN).await.is_some(), "a player wakes it");
    let seen = watch(&mut second, Duration::from_secs(1), 4000.0).await;
    assert!(seen.snapshots >= 20, "and it ticks at its rate again: {} snapshots in 1 s", seen.snapshots);
    assert_eq!(server.stats().skipped_ticks.get(), 0, "the pause is not counted as skipped ticks");
    server.shutdown().await;
}
