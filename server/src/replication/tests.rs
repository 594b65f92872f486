//! Replication against the one decoder, over scripted worlds: whatever the world does and
//! whichever snapshots backpressure drops, the client's world after every snapshot it receives is
//! exactly the server's quantized world around it. The scripted worlds take their ids from a
//! [`NetIdPool`] that the replica tells what its client holds, so ids are recycled under the
//! same rule as in a room, and an id reused too early shows up as a wrong entity on the client.

use super::*;
use crate::mailbox::{Batch, Mailbox};
use crate::sim::net_ids::NetIdPool;
use arena_protocol::rules::Buttons;
use arena_protocol::{ClientWorld, ServerMsg, decode_server};
use proptest::prelude::*;
use std::collections::BTreeMap;
use tokio_tungstenite::tungstenite::Bytes;

const ARENA: Arena = Arena { width: 4000.0, height: 4000.0 };
const VIEW: View = View { half_width: 500.0, half_height: 400.0 };
const VIEWER: NetId = NetId(1);

/// What happens to one entity in one tick.
#[derive(Clone, Debug)]
enum Fate {
    /// Moves exactly as clients predict.
    Predicted,
    /// Changes some fields a little (a new button, a hit, an aim change).
    Nudge(i32, u8, u16),
    /// Jumps somewhere else (respawn, orb pickup).
    Teleport(i32, i32),
    /// Leaves the world.
    Despawn,
}

fn arb_fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        6 => Just(Fate::Predicted),
        3 => (-40i32..40, 0u8..16, 0u16..256).prop_map(|(d, b, a)| Fate::Nudge(d, b, a)),
        1 => (0i32..64_000, 0i32..64_000).prop_map(|(x, y)| Fate::Teleport(x, y)),
        1 => Just(Fate::Despawn),
    ]
}

fn arb_spawn() -> impl Strategy<Value = EntityState> {
    (0u8..4, 0i32..64_000, 0i32..64_000, -6000i32..6000, -6000i32..6000).prop_map(|(k, x, y, vx, vy)| {
        let kind = EntityKind::from_u8(k).unwrap_or_default();
        let moving = matches!(kind, EntityKind::Ship | EntityKind::Projectile);
        EntityState {
            kind,
            x,
            y,
            vx: if moving { vx } else { 0 },
            vy: if moving { vy } else { 0 },
            hp: if kind == EntityKind::Ship { 100 } else { 0 },
            flags: if kind == EntityKind::Ship { EntityState::ship_flags(true, Buttons(Buttons::RIGHT)) } else { 0 },
            owner: if kind == EntityKind::Projectile { VIEWER } else { NetId(0) },
            ..Default::default()
        }
    })
}

/// One tick of script: fates for (up to) every live entity, new entities, and whether the writer
/// takes the pending snapshot before the next tick.
#[derive(Clone, Debug)]
struct Step {
    fates: Vec<Fate>,
    spawns: Vec<EntityState>,
    viewer_jump: Option<(i32, i32)>,
    taken: bool,
}

/// A spawn near the middle of the arena, where the viewer starts: a crowd around it, so that
/// views have full cells, entities cross cell borders and the view's edge all the time.
fn arb_crowd_spawn() -> impl Strategy<Value = EntityState> {
    (arb_spawn(), 16_000i32..48_000, 16_000i32..48_000).prop_map(|(e, x, y)| EntityState { x, y, ..e })
}

/// A step of a crowded script: more spawns, all near the viewer, and the viewer drifting.
fn arb_crowd_step() -> impl Strategy<Value = Step> {
    (
        proptest::collection::vec(arb_fate(), 80),
        proptest::collection::vec(arb_crowd_spawn(), 0..12),
        proptest::option::weighted(0.3, (24_000i32..40_000, 24_000i32..40_000)),
        proptest::bool::weighted(0.85),
    )
        .prop_map(|(fates, spawns, viewer_jump, taken)| Step { fates, spawns, viewer_jump, taken })
}

fn arb_step() -> impl Strategy<Value = Step> {
    (
        proptest::collection::vec(arb_fate(), 80),
        proptest::collection::vec(arb_spawn(), 0..6),
        proptest::option::weighted(0.1, (0i32..64_000, 0i32..64_000)),
        proptest::bool::weighted(0.7),
    )
        .prop_map(|(fates, spawns, viewer_jump, taken)| Step { fates, spawns, viewer_jump, taken })
}

/// Moves the scripted world one tick; despawned entities free their ids, new ones take theirs
/// from `pool`. Returns the ids handed out.
fn advance(
    world: &mut BTreeMap<NetId, EntityState>,
    step: &Step,
    pool: &mut NetIdPool,
    physics: &Physics,
) -> Vec<NetId> {
    let ids: Vec<NetId> = world.keys().copied().collect();
    for (id, fate) in ids.into_iter().zip(step.fates.iter().cycle()) {
        let Some(e) = world.get_mut(&id) else { continue };
        let predicted = e.predict(1, physics);
        *e = match fate {
            Fate::Predicted => predicted,
            // Fields that do not apply to a kind stay zero (the protocol relies on it).
            Fate::Nudge(d, b, a) => match e.kind {
                EntityKind::Ship => EntityState {
                    x: predicted.x + d,
                    vy: predicted.vy - d,
                    aim: *a,
                    hp: predicted.hp.saturating_sub(*b),
                    flags: EntityState::ship_flags(*b % 5 != 0, Buttons(*b)),
                    score: predicted.score + u32::from(*b),
                    ..predicted
                },
                EntityKind::Projectile => EntityState { x: predicted.x + d, vy: predicted.vy - d, ..predicted },
                _ => EntityState { x: predicted.x + d, ..predicted },
            },
            Fate::Teleport(x, y) => EntityState { x: *x, y: *y, vx: 0, vy: 0, ..predicted },
            Fate::Despawn if id != VIEWER => {
                world.remove(&id);
                pool.free(id);
                continue;
            }
            Fate::Despawn => predicted,
        };
    }
    if let (Some((x, y)), Some(me)) = (step.viewer_jump, world.get_mut(&VIEWER)) {
        (me.x, me.y) = (x, y);
    }
    let mut fresh = Vec::new();
    for s in &step.spawns {
        let Some(id) = pool.allocate() else { continue };
        world.insert(id, EntityState { id, ..*s });
        fresh.push(id);
    }
    pool.advance();
    fresh
}

fn within(e: &EntityState, center: (f32, f32), half: (f32, f32)) -> bool {
    let (x, y) = e.position();
    (x - center.0).abs() <= half.0 && (y - center.1).abs() <= half.1
}

/// Checks the client's world against the server's world of that tick: every entity held is the
/// server's exact state and lies within the keep area; every entity within the spawn area is held.
fn check_view(client: &ClientWorld, server: &BTreeMap<NetId, EntityState>) -> Result<(), TestCaseError> {
    let me = server.get(&VIEWER).expect("the viewer never leaves");
    let center = me.position();
    let inner = (VIEW.half_width + VIEW_MARGIN, VIEW.half_height + VIEW_MARGIN);
    let outer = (inner.0 + VIEW_HYSTERESIS, inner.1 + VIEW_HYSTERESIS);
    for e in client.entities() {
        let truth = server.get(&e.id);
        prop_assert_eq!(Some(e), truth, "the client's copy of {:?} should be the server's state", e.id);
        prop_assert!(e.id == VIEWER || within(e, center, outer), "{:?} is held but out of view", e.id);
    }
    for e in server.values() {
        if within(e, center, inner) {
            prop_assert!(client.get(e.id).is_some(), "{:?} is in view but the client lacks it", e.id);
        }
    }
    prop_assert!(client.get(VIEWER).is_some(), "the client always holds its own ship");
    Ok(())
}

/// Under a budget, changes may wait: the client must still hold its own ship exactly, every
/// entity in the spawn area, and nothing the server does not have.
fn check_budgeted(client: &ClientWorld, server: &BTreeMap<NetId, EntityState>) -> Result<(), TestCaseError> {
    let me = server.get(&VIEWER).expect("the viewer never leaves");
    prop_assert_eq!(client.get(VIEWER), Some(me), "the own ship always goes first");
    let inner = (VIEW.half_width + VIEW_MARGIN, VIEW.half_height + VIEW_MARGIN);
    for e in server.values() {
        if within(e, me.position(), inner) {
            prop_assert!(client.get(e.id).is_some(), "{:?} is in view but the client lacks it", e.id);
        }
    }
    for e in client.entities() {
        prop_assert!(server.contains_key(&e.id), "{:?} is held but gone from the server", e.id);
    }
    Ok(())
}

fn run_script(steps: &[Step], budget: Option<usize>) -> Result<(), TestCaseError> {
    let physics = Physics::new(30, ARENA);
    let mut world = World::new();
    let mut rep = Replicator::new(&mut world, 30, ARENA, VIEW);
    let mut ids = NetIdPool::default();
    prop_assert_eq!(ids.allocate(), Some(VIEWER));
    let mut replica = ClientReplica::new(VIEWER, budget);
    let mailbox = Mailbox::default();
    let mut client = ClientWorld::new(physics);
    let mut batch = Batch::default();
    let mut truth: BTreeMap<NetId, EntityState> = BTreeMap::new();
    truth.insert(
        VIEWER,
        EntityState {
            id: VIEWER,
            kind: EntityKind::Ship,
            x: 32_000,
            y: 32_000,
            hp: 100,
            flags: 1,
            ..Default::default()
        },
    );
    let mut history: BTreeMap<Tick, BTreeMap<NetId, EntityState>> = BTreeMap::new();
    let mut applied = 0;
    for (t, step) in steps.iter().enumerate() {
        let tick = Tick(t as u32 + 1);
        for id in advance(&mut truth, step, &mut ids, &physics) {
            prop_assert!(client.get(id).is_none(), "{:?} was handed out again while the client holds it", id);
        }
        let states: Vec<EntityState> = truth.values().copied().collect();
        rep.capture_states(&states, tick);
        history.insert(tick, truth.clone());
        let dropped = mailbox.retract_snapshot();
        replica.settle(dropped, &mut ids);
        let frame = Bytes::copy_from_slice(replica.encode(&rep, InputAck::default(), &mut ids));
        mailbox.offer_snapshot(frame);
        if step.taken {
            mailbox.take(&mut batch);
            for frame in batch.frames.drain(..) {
                let Ok(ServerMsg::Snapshot(s)) = decode_server(&frame) else {
                    return Err(TestCaseError::fail("a snapshot frame should decode"));
                };
                prop_assert_eq!(client.apply(&s), Ok(()), "snapshot of tick {:?} should apply cleanly", s.tick);
                if budget.is_none() {
                    check_view(&client, &history[&s.tick])?;
                } else {
                    check_budgeted(&client, &history[&s.tick])?;
                }
                applied += 1;
            }
        }
    }
    prop_assert!(applied > 0 || steps.iter().all(|s| !s.taken));
    if budget.is_some() && steps.last().is_some_and(|s| s.taken) {
        let last = history.keys().next_back().copied().unwrap_or_default();
        check_view(&client, &history[&last])?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_client_world_is_the_server_world_after_every_snapshot(steps in proptest::collection::vec(arb_step(), 1..40)) {
        run_script(&steps, None)?;
    }

    #[test]
    fn in_a_crowd_the_client_world_is_the_server_world_after_every_snapshot(
        steps in proptest::collection::vec(arb_crowd_step(), 1..40),
    ) {
        run_script(&steps, None)?;
    }

    #[test]
    fn under_a_byte_budget_the_client_stays_consistent_and_catches_up(
        steps in proptest::collection::vec(arb_step(), 1..30),
        budget in 24usize..200,
    ) {
        let mut steps = steps;
        // End with quiet ticks, every snapshot delivered: deferred changes must all arrive.
        let quiet = Step { fates: vec![Fate::Predicted], spawns: vec![], viewer_jump: None, taken: true };
        steps.extend(std::iter::repeat_n(quiet, 60));
        run_script(&steps, Some(budget))?;
    }
}

#[test]
fn unchanged_and_predicted_entities_cost_nothing_once_known() {
    let physics = Physics::new(30, ARENA);
    let mut world = World::new();
    let mut rep = Replicator::new(&mut world, 30, ARENA, VIEW);
    let mut ids = NetIdPool::default();
    let mut replica = ClientReplica::new(VIEWER, None);
    let me = EntityState {
        id: VIEWER,
        kind: EntityKind::Ship,
        x: 32_000,
        y: 32_000,
        vx: 800,
        hp: 100,
        flags: EntityState::ship_flags(true, Buttons(Buttons::RIGHT)),
        ..Default::default()
    };
    let orbs: Vec<EntityState> = (0..50)
        .map(|i| EntityState {
            id: NetId(10 + i),
            kind: EntityKind::ScoreOrb,
            x: 31_000 + 40 * i as i32,
            y: 32_500,
            ..Default::default()
        })
        .collect();
    let mut states = vec![me];
    states.extend(orbs);
    rep.capture_states(&states, Tick(1));
    replica.settle(false, &mut ids);
    let full = replica.encode(&rep, InputAck::default(), &mut ids).len();
    for t in 2..10 {
        for s in &mut states {
            *s = s.predict(1, &physics);
        }
        rep.capture_states(&states, Tick(t));
        replica.settle(false, &mut ids);
        let len = replica.encode(&rep, InputAck::default(), &mut ids).len();
        assert!(
            len < 20,
            "a snapshot of nothing but predicted motion should be a bare header, got {len} bytes (full was {full})"
        );
    }
}

#[test]
fn a_budget_caps_busy_snapshots_and_the_most_important_changes_go_first() {
    let physics = Physics::new(30, ARENA);
    let mut world = World::new();
    let mut rep = Replicator::new(&mut world, 30, ARENA, VIEW);
    let mut ids = NetIdPool::default();
    let mut budgeted = ClientReplica::new(VIEWER, Some(60));
    let mut free = ClientReplica::new(VIEWER, None);
    let mut client = ClientWorld::new(physics);
    let ship = |id: u32, x: i32| EntityState {
        id: NetId(id),
        kind: EntityKind::Ship,
        x,
        y: 32_000,
        hp: 100,
        flags: EntityState::ship_flags(true, Buttons(0)),
        ..Default::default()
    };
    // The viewer at the centre, then ships ever further away to the right.
    let mut states: Vec<EntityState> = (1..=40).map(|i| ship(i, 32_000 + (i as i32 - 1) * 200)).collect();
    let mut sizes = (0, 0);
    let (mut near_exact, mut far_exact) = (0, 0);
    for t in 1..=40u32 {
        for s in &mut states {
            *s = s.predict(1, &physics);
            s.aim = (t * 97 + s.id.0 * 13) as u16 % 256;
        }
        rep.capture_states(&states, Tick(t));
        budgeted.settle(false, &mut ids);
        free.settle(false, &mut ids);
        let frame = budgeted.encode(&rep, InputAck::default(), &mut ids).to_vec();
        let unbudgeted = free.encode(&rep, InputAck::default(), &mut ids).len();
        let Ok(ServerMsg::Snapshot(s)) = decode_server(&frame) else { panic!("a snapshot") };
        client.apply(&s).expect("a budgeted snapshot still applies cleanly");
        if t > 1 {
            sizes = (sizes.0 + frame.len(), sizes.1 + unbudgeted);
            assert!(frame.len() <= 60 + 24, "tick {t}: {} bytes is over the budget", frame.len());
            assert_eq!(client.get(VIEWER), states.first(), "the own ship is always exact");
            near_exact += u32::from(client.get(NetId(2)) == states.get(1));
            far_exact += u32::from(client.get(NetId(40)) == states.get(39));
        }
    }
    assert!(
        near_exact > far_exact,
        "the nearest ship should be fresh more often ({near_exact}) than the farthest ({far_exact})"
    );
    assert!(far_exact > 0, "waiting raises priority: even the farthest ship gets through sometimes");
    assert!(sizes.0 * 3 < sizes.1, "the budget should cut bandwidth well down: {} vs {} bytes", sizes.0, sizes.1);
}

/// A client that asked for a full snapshot once must get one even if the first full snapshot
/// encoded for it was dropped under backpressure (retracted before its writer took it).
#[test]
fn a_dropped_full_snapshot_stays_owed_until_one_is_taken() {
    let mut world = World::new();
    let mut rep = Replicator::new(&mut world, 30, ARENA, VIEW);
    let mut ids = NetIdPool::default();
    let mut replica = ClientReplica::new(VIEWER, None);
    let me = EntityState { id: VIEWER, kind: EntityKind::Ship, x: 32_000, y: 32_000, hp: 100, ..Default::default() };
    let gap_of = |frame: &[u8]| match decode_server(frame) {
        Ok(ServerMsg::Snapshot(s)) => s.baseline_gap,
        other => panic!("expected a snapshot, got {other:?}"),
    };
    rep.capture_states(&[me], Tick(1));
    replica.settle(false, &mut ids);
    assert_eq!(gap_of(replica.encode(&rep, InputAck::default(), &mut ids)), 0, "the first snapshot is full");
    rep.capture_states(&[me], Tick(2));
    replica.settle(false, &mut ids);
    assert_eq!(gap_of(replica.encode(&rep, InputAck::default(), &mut ids)), 1, "then deltas");
    // The client lost its world and asks once; the full snapshot is encoded, then dropped.
    replica.request_full();
    rep.capture_states(&[me], Tick(3));
    replica.settle(false, &mut ids);
    assert_eq!(gap_of(replica.encode(&rep, InputAck::default(), &mut ids)), 0);
    rep.capture_states(&[me], Tick(4));
    replica.settle(true, &mut ids);
    assert_eq!(
        gap_of(replica.encode(&rep, InputAck::default(), &mut ids)),
        0,
        "the dropped full snapshot is still owed"
    );
    rep.capture_states(&[me], Tick(5));
    replica.settle(false, &mut ids);
    assert_eq!(gap_of(replica.encode(&rep, InputAck::default(), &mut ids)), 1, "once one is taken, deltas resume");
}

/// A client keeps only the ids it holds; the states come from the replicator's recent captures.
/// A reader so slow that its baseline's capture is gone gets a full snapshot, which applies; one
/// a few ticks behind gets a delta against its old baseline.
#[test]
fn a_baseline_older_than_the_kept_captures_gets_a_full_snapshot() {
    let mut world = World::new();
    let mut rep = Replicator::new(&mut world, 30, ARENA, VIEW);
    let mut ids = NetIdPool::default();
    let mut replica = ClientReplica::new(VIEWER, None);
    let mut client = ClientWorld::new(Physics::new(30, ARENA));
    let take = |frame: &[u8], client: &mut ClientWorld| match decode_server(frame) {
        Ok(ServerMsg::Snapshot(s)) => {
            client.apply(&s).expect("the snapshot applies");
            s.baseline_gap
        }
        other => panic!("expected a snapshot, got {other:?}"),
    };
    let states = |t: u32| {
        let mut me = viewer_ship();
        me.x += 16 * t as i32;
        vec![me, orb(NetId(9), 32_500 + 7 * t as i32, 32_000)]
    };
    rep.capture_states(&states(1), Tick(1));
    replica.settle(false, &mut ids);
    assert_eq!(take(replica.encode(&rep, InputAck::default(), &mut ids), &mut client), 0);
    // Five snapshots dropped: the sixth is a delta against tick 1.
    for t in 2..=7 {
        rep.capture_states(&states(t), Tick(t));
        replica.settle(t > 2, &mut ids);
        let frame = replica.encode(&rep, InputAck::default(), &mut ids).to_vec();
        if t == 7 {
            assert_eq!(take(&frame, &mut client), 6, "a delta against the last snapshot taken");
        }
    }
    // Then nothing taken for three seconds: tick 7's capture is long gone.
    for t in 8..=100 {
        rep.capture_states(&states(t), Tick(t));
        replica.settle(t > 8, &mut ids);
        replica.encode(&rep, InputAck::default(), &mut ids);
    }
    assert!(rep.states_at(Tick(7)).is_none() && rep.states_at(Tick(99)).is_some());
    rep.capture_states(&states(101), Tick(101));
    replica.settle(true, &mut ids);
    let frame = replica.encode(&rep, InputAck::default(), &mut ids).to_vec();
    assert_eq!(take(&frame, &mut client), 0, "full: the client's baseline can no longer be read");
    assert_eq!(client.entities().len(), 2);
}

/// Handing a frame to the writer allocates nothing per frame: frames are cut one after the other
/// from a 4 KiB region (each starts where the one before ended: no allocator places separate
/// allocations back to back like that); a new region is needed only when one is used up while a
/// frame cut from it is still unsent (here the writer holds each frame until the next comes).
#[test]
fn handed_off_frames_reuse_one_buffer_once_sent() {
    let mut world = World::new();
    let mut rep = Replicator::new(&mut world, 30, ARENA, VIEW);
    let mut ids = NetIdPool::default();
    let mut replica = ClientReplica::new(VIEWER, None);
    let mut held: Option<Bytes> = None;
    let (mut back_to_back, mut frames) = (0, 0);
    for t in 1..500u32 {
        let mut me = viewer_ship();
        me.x += 16 * t as i32;
        rep.capture_states(&[me, orb(NetId(9), 32_500, 32_000)], Tick(t));
        replica.settle(false, &mut ids);
        replica.encode_frame(&rep, InputAck::default());
        replica.account_ids(&mut ids);
        let frame = replica.frame_bytes();
        let at = frame.as_ptr() as usize;
        if let Some(prev) = held.replace(frame) {
            frames += 1;
            back_to_back += usize::from(prev.as_ptr() as usize + prev.len() == at);
        }
    }
    // About 20-byte frames: a new region every ~200 frames.
    assert!(back_to_back * 100 >= frames * 98, "{back_to_back} of {frames} frames cut back to back");
}

fn orb(id: NetId, x: i32, y: i32) -> EntityState {
    EntityState { id, kind: EntityKind::ScoreOrb, x, y, ..Default::default() }
}

fn viewer_ship() -> EntityState {
    EntityState { id: VIEWER, kind: EntityKind::Ship, x: 32_000, y: 32_000, hp: 100, ..Default::default() }
}

/// A client whose writer stops taking snapshots right after an entity it holds leaves the world
/// keeps that entity until a snapshot carrying the despawn is taken. However much the world
/// churns meanwhile, the id must not come back before then: the client would take the new
/// entity for the old one. Once the despawn is through (and the quarantine over) it is reused.
#[test]
fn a_client_behind_on_a_despawn_never_sees_the_id_reused() {
    for budget in [None, Some(40)] {
        let physics = Physics::new(30, ARENA);
        let mut world = World::new();
        let mut rep = Replicator::new(&mut world, 30, ARENA, VIEW);
        let mut ids = NetIdPool::default();
        assert_eq!(ids.allocate(), Some(VIEWER));
        let mut replica = ClientReplica::new(VIEWER, budget);
        let mailbox = Mailbox::default();
        let mut client = ClientWorld::new(physics);
        let mut batch = Batch::default();
        let mut truth: BTreeMap<NetId, EntityState> = BTreeMap::new();
        truth.insert(VIEWER, viewer_ship());
        let gone = ids.allocate().expect("an id");
        truth.insert(gone, orb(gone, 32_100, 32_000));
        // Entities come and go around the viewer, five a tick, each living ten ticks.
        let mut churn: std::collections::VecDeque<NetId> = std::collections::VecDeque::new();
        let mut reused_at = None;
        for t in 1..=120u32 {
            if t == 2 {
                truth.remove(&gone);
                ids.free(gone);
            }
            while churn.len() >= 50 {
                let id = churn.pop_front().expect("churn is not empty");
                truth.remove(&id);
                ids.free(id);
            }
            for k in 0..5 {
                let id = ids.allocate().expect("ids to spare");
                if id == gone {
                    reused_at = reused_at.or(Some(t));
                }
                assert!(client.get(id).is_none(), "tick {t}: {id:?} was handed out while the client holds it");
                truth.insert(id, orb(id, 31_600 + 60 * (t as i32 % 16), 31_800 + 80 * k));
                churn.push_back(id);
            }
            ids.advance();
            let states: Vec<EntityState> = truth.values().copied().collect();
            rep.capture_states(&states, Tick(t));
            let dropped = mailbox.retract_snapshot();
            replica.settle(dropped, &mut ids);
            if t > 1 && t <= 60 {
                assert_eq!(
                    ids.holders(gone),
                    1,
                    "tick {t}: the client still holds {gone:?} (its despawn is not taken)"
                );
            }
            let frame = Bytes::copy_from_slice(replica.encode(&rep, InputAck::default(), &mut ids));
            mailbox.offer_snapshot(frame);
            // The writer takes the first snapshot, then nothing until tick 60.
            if t == 1 || t >= 60 {
                mailbox.take(&mut batch);
                for frame in batch.frames.drain(..) {
                    let Ok(ServerMsg::Snapshot(s)) = decode_server(&frame) else { panic!("a snapshot frame") };
                    client.apply(&s).expect("every snapshot taken applies cleanly");
                    for e in client.entities() {
                        assert!(truth.contains_key(&e.id), "tick {t}: the client holds {:?}, which is gone", e.id);
                        if budget.is_none() {
                            assert_eq!(
                                Some(e),
                                truth.get(&e.id),
                                "tick {t}: the client's {:?} is another entity",
                                e.id
                            );
                        }
                    }
                }
            }
            if t == 1 {
                assert!(client.get(gone).is_some(), "the client holds the entity before it goes");
            }
        }
        let reused_at = reused_at.expect("the id comes back once its despawn is through");
        assert!(
            (62..=70).contains(&reused_at),
            "{gone:?} should come back soon after tick 61, came back at {reused_at}"
        );
    }
}

/// The holder count of an id follows what the client may hold: up when a spawn is encoded, down
/// when that snapshot is dropped, down when a snapshot carrying its despawn is taken, and down for
/// everything when the replica is forgotten.
#[test]
fn holder_counts_follow_what_the_client_may_hold() {
    let mut world = World::new();
    let mut rep = Replicator::new(&mut world, 30, ARENA, VIEW);
    let mut ids = NetIdPool::default();
    assert_eq!(ids.allocate(), Some(VIEWER));
    let a = ids.allocate().expect("an id");
    let mut one = ClientReplica::new(VIEWER, None);
    let mut two = ClientReplica::new(VIEWER, None);
    let both = [viewer_ship(), orb(a, 32_100, 32_000)];
    let mut tick = 0;
    let mut step = |states: &[EntityState], dropped: bool, replica: &mut ClientReplica, ids: &mut NetIdPool| {
        tick += 1;
        rep.capture_states(states, Tick(tick));
        replica.settle(dropped, ids);
        replica.encode(&rep, InputAck::default(), ids);
    };
    step(&both, false, &mut one, &mut ids);
    assert_eq!((ids.holders(VIEWER), ids.holders(a)), (1, 1), "a spawn was encoded: the client may hold it");
    step(&both, true, &mut one, &mut ids);
    assert_eq!(ids.holders(a), 1, "dropped, then encoded again: still one holder, not two");
    step(&both, false, &mut one, &mut ids);
    step(&both, false, &mut one, &mut ids);
    assert_eq!(ids.holders(a), 1, "deltas change nothing");
    step(&both, false, &mut two, &mut ids);
    assert_eq!(ids.holders(a), 2, "a second client");
    ids.free(a);
    step(&both[..1], false, &mut one, &mut ids);
    assert_eq!(ids.holders(a), 2, "the despawn is pending: the first client may still hold it");
    step(&both[..1], true, &mut one, &mut ids);
    assert_eq!(ids.holders(a), 2, "the despawn was dropped: the client still holds it");
    step(&both[..1], false, &mut one, &mut ids);
    assert_eq!(ids.holders(a), 1, "the despawn was taken: only the second client holds it");
    two.forget(&mut ids);
    assert_eq!((ids.holders(VIEWER), ids.holders(a)), (1, 0), "a forgotten replica holds nothing");
    one.request_full();
    step(&both[..1], false, &mut one, &mut ids);
    step(&both[..1], false, &mut one, &mut ids);
    assert_eq!(ids.holders(VIEWER), 1, "a full snapshot of what the client holds changes nothing");
    one.forget(&mut ids);
    assert_eq!(ids.holders(VIEWER), 0);
}
