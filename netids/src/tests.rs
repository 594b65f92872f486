//! The pool against its rule: by example, against a model under random operations, and for more
//! than 2³² allocations.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::collections::VecDeque;

fn ids(pool: &mut NetIdPool, n: usize) -> Vec<NetId> {
    (0..n).map(|_| pool.allocate().expect("a fresh pool has ids to spare")).collect()
}

fn advance(pool: &mut NetIdPool, ticks: u32) {
    for _ in 0..ticks {
        pool.advance();
    }
}

#[test]
fn fresh_ids_count_up_from_one() {
    let mut pool = NetIdPool::default();
    assert_eq!(ids(&mut pool, 3), vec![NetId(1), NetId(2), NetId(3)], "id 0 means no entity and is never handed out");
}

#[test]
fn a_freed_id_waits_out_its_quarantine_then_the_oldest_goes_first() {
    let mut pool = NetIdPool::new(4);
    let [a, b, c] = ids(&mut pool, 3)[..] else { unreachable!() };
    pool.free(b);
    pool.advance();
    pool.free(a);
    pool.free(c);
    advance(&mut pool, 2);
    assert_eq!(pool.allocate(), Some(NetId(4)), "3 ticks after its free, b is still in quarantine: a fresh id");
    pool.advance();
    assert_eq!(pool.allocate(), Some(b), "4 ticks after its free, b is the oldest and comes back first");
    assert_eq!(pool.allocate(), Some(NetId(5)), "a and c were freed a tick later: still in quarantine");
    pool.advance();
    assert_eq!(pool.allocate(), Some(a), "then a, freed before c in the same tick");
    assert_eq!(pool.allocate(), Some(c));
    assert_eq!(pool.allocate(), Some(NetId(6)));
}

#[test]
fn a_held_id_is_not_reused_until_every_holder_let_go_plus_the_quarantine() {
    let mut pool = NetIdPool::new(2);
    let x = pool.allocate().expect("an id");
    pool.hold(x);
    pool.hold(x);
    pool.free(x);
    advance(&mut pool, 10);
    assert_eq!(pool.stats().held_after_free, 1, "x's entity is gone but two clients hold it");
    assert_ne!(pool.allocate(), Some(x), "two clients still hold x");
    pool.release(x);
    advance(&mut pool, 10);
    assert_ne!(pool.allocate(), Some(x), "one client still holds x");
    pool.release(x);
    pool.advance();
    assert_ne!(pool.allocate(), Some(x), "the quarantine counts from the last release, not from the free");
    pool.advance();
    assert_eq!(pool.allocate(), Some(x), "unheld and out of quarantine, x is reused");
}

#[test]
fn releases_while_the_entity_lives_free_nothing() {
    let mut pool = NetIdPool::new(0);
    let x = pool.allocate().expect("an id");
    pool.hold(x);
    pool.release(x);
    pool.release(x);
    assert_eq!(pool.holders(x), 0, "an unmatched release is ignored");
    assert!(pool.is_live(x), "x's entity is still in the world");
    assert_eq!(pool.allocate(), Some(NetId(2)), "a live id is never handed out");
    pool.free(x);
    pool.free(x);
    assert_eq!(pool.stats().queued, 1, "a second free is ignored");
    assert_eq!(pool.allocate(), Some(x));
    assert_eq!(pool.allocate(), Some(NetId(3)), "x was queued once, so it came back once");
}

#[test]
fn holding_a_queued_id_voids_its_place_and_restarts_the_quarantine() {
    let mut pool = NetIdPool::new(3);
    let x = pool.allocate().expect("an id");
    pool.free(x);
    advance(&mut pool, 2);
    // Should not happen (replicas only spawn live entities), but must stay safe if it does.
    pool.hold(x);
    pool.release(x);
    pool.advance();
    assert_ne!(pool.allocate(), Some(x), "x's first quarantine is over, but it was held since");
    advance(&mut pool, 2);
    assert_eq!(pool.allocate(), Some(x), "3 ticks after the last release x is free");
    assert_eq!(pool.stats().queued, 0);
}

#[test]
fn id_zero_and_unknown_ids_are_never_tracked() {
    let mut pool = NetIdPool::new(0);
    pool.hold(NetId(0));
    pool.release(NetId(0));
    pool.free(NetId(0));
    pool.free(NetId(77));
    pool.release(NetId(77));
    assert_eq!(pool.allocate(), Some(NetId(1)), "nothing was queued");
    assert_eq!(pool.stats(), PoolStats { live: 1, highest: 1, ..PoolStats::default() });
}

#[test]
fn when_every_id_is_taken_allocation_fails_instead_of_reusing_a_live_one() {
    let mut pool = NetIdPool::with_max_id(2, 4);
    let all = ids(&mut pool, 4);
    assert_eq!(pool.allocate(), None, "ids 1..=4 are all live");
    pool.free(all[1]);
    assert_eq!(pool.allocate(), None, "the freed id is in quarantine");
    pool.hold(all[2]);
    pool.free(all[2]);
    advance(&mut pool, 2);
    assert_eq!(pool.allocate(), Some(all[1]));
    assert_eq!(pool.allocate(), None, "the other freed id is still held");
    assert_eq!(pool.stats().refused, 3);
    assert_eq!(NetIdPool::default().max_id, u32::MAX - 1, "a room has ids 1 to 2³² − 2");
}

#[test]
fn under_churn_ids_stay_as_small_as_what_is_in_flight() {
    let mut pool = NetIdPool::new(4);
    let mut live: VecDeque<NetId> = VecDeque::new();
    for tick in 0..10_000u32 {
        // 300 new projectiles a tick, each living 33 ticks: ~10,000 live.
        for _ in 0..300 {
            live.push_back(pool.allocate().expect("ids to spare"));
        }
        if tick >= 33 {
            for id in live.drain(..300) {
                pool.free(id);
            }
        }
        pool.advance();
    }
    let highest = pool.stats().highest;
    assert!(highest <= 300 * (33 + 1 + 4), "ids should stay near live + quarantined, got up to {highest}");
}

/// One operation on the pool, for the model test.
#[derive(Clone, Debug)]
enum Op {
    Allocate,
    /// Free the n-th live id (mod their count).
    Free(usize),
    /// A client starts holding the n-th live id.
    Hold(usize),
    /// A client stops holding the n-th held id.
    Release(usize),
    Advance,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Allocate),
        3 => any::<usize>().prop_map(Op::Free),
        2 => any::<usize>().prop_map(Op::Hold),
        2 => any::<usize>().prop_map(Op::Release),
        2 => Just(Op::Advance),
    ]
}

/// What the model knows of an id.
#[derive(Clone, Copy, Debug, Default)]
struct Known {
    live: bool,
    holders: u32,
    /// The tick since which the id has been neither live nor held.
    free_since: Option<u64>,
}

proptest! {
    /// Against a model: an id handed out is never live or held, has been free for the whole
    /// quarantine, is the oldest such id if any, and is fresh only when none is ready.
    #[test]
    fn the_pool_follows_the_rule(ops in proptest::collection::vec(arb_op(), 1..400), quarantine in 0u32..5) {
        let mut pool = NetIdPool::with_max_id(quarantine, 24);
        let mut model: BTreeMap<NetId, Known> = BTreeMap::new();
        let mut now = 0u64;
        let q = u64::from(quarantine);
        for op in ops {
            match op {
                Op::Allocate => {
                    let ready: Vec<(u64, NetId)> = model
                        .iter()
                        .filter_map(|(id, k)| k.free_since.filter(|&t| now - t >= q).map(|t| (t, *id)))
                        .collect();
                    let oldest = ready.iter().map(|(t, _)| *t).min();
                    match pool.allocate() {
                        Some(id) => {
                            let k = model.entry(id).or_default();
                            prop_assert!(!k.live && k.holders == 0, "{:?} is live or held", id);
                            match k.free_since {
                                Some(t) => {
                                    prop_assert!(now - t >= q, "{:?} left quarantine early", id);
                                    prop_assert_eq!(Some(t), oldest, "{:?} is not among the oldest free", id);
                                }
                                None => prop_assert!(ready.is_empty(), "fresh {:?} while {:?} was ready", id, ready),
                            }
                            *k = Known { live: true, holders: 0, free_since: None };
                        }
                        None => {
                            prop_assert!(ready.is_empty(), "refused while {:?} was ready", ready);
                            prop_assert!(model.len() >= 24, "refused with fresh ids left");
                        }
                    }
                }
                Op::Free(n) => {
                    let live: Vec<NetId> = model.iter().filter(|(_, k)| k.live).map(|(id, _)| *id).collect();
                    if let Some(&id) = live.get(n % live.len().max(1)) {
                        pool.free(id);
                        let k = model.entry(id).or_default();
                        k.live = false;
                        if k.holders == 0 {
                            k.free_since = Some(now);
                        }
                    }
                }
                Op::Hold(n) => {
                    let live: Vec<NetId> = model.iter().filter(|(_, k)| k.live).map(|(id, _)| *id).collect();
                    if let Some(&id) = live.get(n % live.len().max(1)) {
                        pool.hold(id);
                        model.entry(id).or_default().holders += 1;
                    }
                }
                Op::Release(n) => {
                    let held: Vec<NetId> = model.iter().filter(|(_, k)| k.holders > 0).map(|(id, _)| *id).collect();
                    if let Some(&id) = held.get(n % held.len().max(1)) {
                        pool.release(id);
                        let k = model.entry(id).or_default();
                        k.holders -= 1;
                        if k.holders == 0 && !k.live {
                            k.free_since = Some(now);
                        }
                    }
                }
                Op::Advance => {
                    pool.advance();
                    now += 1;
                }
            }
            for (id, k) in &model {
                prop_assert_eq!(pool.holders(*id), k.holders);
                prop_assert_eq!(pool.is_live(*id), k.live);
            }
        }
    }
}

/// More than 2³² allocations through one pool, with a small live set (64 entities, 16 new and 16
/// gone per tick), a client holding one entity every 256 ticks until 100 ticks past its despawn,
/// and every id handed out checked: never live, never held, never back before its quarantine
/// ended. Nothing in the pool counts allocations, so nothing wraps at 2³²; this shows it.
#[test]
fn more_than_2_pow_32_allocations_never_hand_out_an_id_in_use() {
    const LIVE: usize = 64;
    const PER_TICK: u64 = 16;
    const QUARANTINE: u64 = DEFAULT_QUARANTINE_TICKS as u64;
    const HOLD_TICKS: u64 = 100;
    /// Ids must stay below this: live + quarantined + held, with room to spare.
    const SPACE: usize = 1024;
    /// What the test knows of an id: `IN_USE` (live or held), or the tick since which it has
    /// been neither (0: never handed out). One word, so that each check is one load and one
    /// comparison: an id may be handed out in tick `now` only if this is at most `now − 4`.
    const IN_USE: u64 = u64::MAX;
    let ticks: u64 = (1 << 32) / PER_TICK + 256;
    let mut pool = NetIdPool::default();
    let mut known = [0u64; SPACE];
    let mut ring = [NetId(0); LIVE];
    for slot in &mut ring {
        *slot = pool.allocate().expect("a fresh pool has ids");
        known[slot.0 as usize] = IN_USE;
    }
    let mut k = 0;
    let mut held: Option<(NetId, u64)> = None;
    for now in 1..=ticks {
        pool.advance();
        if let Some((id, until)) = held
            && now >= until
        {
            pool.release(id);
            known[id.0 as usize] = now;
            held = None;
        }
        // A client holds the entity that goes first this tick, past its despawn.
        let hold = (held.is_none() && now % 256 == 0).then(|| ring[k]);
        if let Some(id) = hold {
            pool.hold(id);
            held = Some((id, now + HOLD_TICKS));
        }
        let latest = now.saturating_sub(QUARANTINE);
        for j in 0..PER_TICK {
            let Some(id) = pool.allocate() else { panic!("tick {now}: refused with {LIVE} live ids") };
            let at = id.0 as usize;
            assert!(at < SPACE, "tick {now}, allocation {j}: id {at} should stay small");
            if known[at] > latest {
                let why = if known[at] == IN_USE { "is live or held" } else { "is back before its quarantine ended" };
                panic!("tick {now}, allocation {j}: id {at} {why}");
            }
            known[at] = IN_USE;
            let old = std::mem::replace(&mut ring[k], id);
            k = (k + 1) % LIVE;
            known[old.0 as usize % SPACE] = now;
            pool.free(old);
        }
        if let Some(id) = hold {
            known[id.0 as usize] = IN_USE;
        }
    }
    let allocated = ticks * PER_TICK + LIVE as u64;
    assert!(allocated > 1 << 32, "the test should run past 2³² allocations, ran {allocated}");
    let stats = pool.stats();
    assert_eq!(stats.live as usize, LIVE);
    assert!((stats.highest as usize) < SPACE, "ids were reused, staying below {}", stats.highest + 1);
}
