//! Firing, projectile flight, hit tests that cannot tunnel, damage, death and kill score.

use crate::sim::components::{Motion, Net, Pilot, Projectile, Ship, Trail};
use crate::sim::net_ids::NetIds;
use crate::sim::resources::{Clock, Field, Happenings, ShipIndex, ShotStats};
use arena_protocol::GameEvent;
use arena_protocol::rules::{
    Buttons, FIRE_COOLDOWN_S, KILL_SCORE, PROJECTILE_DAMAGE, PROJECTILE_LIFETIME_S, PROJECTILE_RADIUS, RESPAWN_DELAY_S,
    SHIP_MAX_SPEED, SHIP_RADIUS, muzzle, step_projectile,
};
use bevy_ecs::prelude::*;
use glam::Vec2;

/// Files every living ship in the [`ShipIndex`] at its position after movement.
pub fn index_ships(mut index: ResMut<ShipIndex>, ships: Query<(Entity, &Ship, &Motion)>) {
    let index = &mut *index;
    index.grid.clear();
    index.entities.clear();
    index.positions.clear();
    for (entity, ship, motion) in &ships {
        if ship.alive() {
            index.grid.insert(motion.now.x, motion.now.y, index.entities.len() as u32);
            index.entities.push(entity);
            index.positions.push(motion.pos());
        }
    }
    index.grid.build();
}

/// The fraction `t ∈ [0, 1]` of a move at which a point travelling from `a` to `b` first comes
/// within `radius` of the origin, or `None` if it never does. Solving the quadratic exactly
/// (rather than sampling) is what keeps fast projectiles from tunnelling through ships.
#[must_use]
pub fn first_contact(a: Vec2, b: Vec2, radius: f32) -> Option<f32> {
    let r2 = radius * radius;
    if a.length_squared() <= r2 {
        return Some(0.0);
    }
    let d = b - a;
    let qa = d.length_squared();
    if qa == 0.0 {
        return None;
    }
    let qb = 2.0 * a.dot(d);
    let qc = a.length_squared() - r2;
    let disc = qb * qb - 4.0 * qa * qc;
    if disc < 0.0 {
        return None;
    }
    let t = (-qb - disc.sqrt()) / (2.0 * qa);
    (0.0..=1.0).contains(&t).then_some(t)
}

/// Moves every projectile along its path for one tick; the first ship its swept path touches
/// (in ship-relative motion, so moving ships are hit too) takes damage and may die.
///
/// Lag compensation: a projectile fired by a player who saw the other ships `rewind` ticks in the
/// past is tested against where they were then ([`Trail`]), for its whole flight, so a shot
/// aimed at what the shooter's screen showed hits what it showed. A ship that was not in play
/// at that time (respawned since) cannot be hit by it; a ship that is dead now cannot be hit.
#[allow(clippy::too_many_arguments)] // a system's parameters are its declared data access
pub fn fly_projectiles(
    mut commands: Commands,
    clock: Res<Clock>,
    field: Res<Field>,
    index: Res<ShipIndex>,
    mut happenings: ResMut<Happenings>,
    mut projectiles: Query<(Entity, &mut Projectile)>,
    mut ships: Query<(&Net, &mut Ship, &Motion, &Trail)>,
) {
    let now = f64::from(clock.tick.0);
    for (entity, mut projectile) in &mut projectiles {
        let from = projectile.pos;
        let to = Vec2::from(step_projectile(from.x, from.y, projectile.vel.x, projectile.vel.y, clock.dt));
        let rewind = f64::from(projectile.rewind);
        // A ship moves at most two steps a tick (a pilot draining a backlog), and was up to
        // `rewind` ticks of flight away from where the grid has it now.
        let reach = SHIP_RADIUS + PROJECTILE_RADIUS + SHIP_MAX_SPEED * clock.dt * (2.0 + projectile.rewind);
        let mut best: Option<(f32, Entity)> = None;
        index.grid.for_each_in((from.min(to) - reach).into(), (from.max(to) + reach).into(), |i| {
            let target = index.entities[i as usize];
            if target == projectile.owner {
                return;
            }
            let Ok((_, ship, motion, trail)) = ships.get(target) else {
                return;
            };
            if !ship.alive() {
                return;
            }
            let (was, is) = if rewind == 0.0 {
                (motion.prev, motion.pos())
            } else {
                match (trail.at(now - rewind), trail.at(now + 1.0 - rewind)) {
                    (Some(a), Some(b)) => (a, b),
                    _ => return,
                }
            };
            let hit = first_contact(from - was, to - is, SHIP_RADIUS + PROJECTILE_RADIUS);
            if let Some(t) = hit
                && best.is_none_or(|(bt, _)| t < bt)
            {
                best = Some((t, target));
            }
        });
        let gone = if let Some((_, victim)) = best {
            hit_ship(victim, &projectile, &clock, &mut ships, &mut happenings);
            true
        } else {
            projectile.pos = to;
            clock.tick >= projectile.expires
                || !(0.0..=field.arena.width).contains(&to.x)
                || !(0.0..=field.arena.height).contains(&to.y)
        };
        if gone {
            commands.entity(entity).despawn();
        }
    }
}

fn hit_ship(
    victim: Entity,
    projectile: &Projectile,
    clock: &Clock,
    ships: &mut Query<(&Net, &mut Ship, &Motion, &Trail)>,
    happenings: &mut Happenings,
) {
    let Ok((victim_net, mut ship, _, _)) = ships.get_mut(victim) else {
        return;
    };
    ship.hp = ship.hp.saturating_sub(PROJECTILE_DAMAGE);
    if ship.hp > 0 {
        return;
    }
    ship.respawn_at = Some(clock.tick.after(clock.ticks(RESPAWN_DELAY_S)));
    let victim_id = victim_net.0;
    if let Ok((_, mut killer, _, _)) = ships.get_mut(projectile.owner) {
        killer.score += KILL_SCORE;
    }
    happenings.events.push(GameEvent::Kill { killer: projectile.owner_id, victim: victim_id });
}

/// Fires a projectile from the nose of every living ship whose fire button is down and whose
/// cooldown has run out. The projectile remembers how far in the past its shooter saw the other
/// ships (the input's view time, capped at the room's `max_rewind_ticks`) for lag compensation.
/// If the room has no net id left (every id live, held or in quarantine), the shot is not fired
/// (the pool counts the refusal) and the ship tries again next tick.
pub fn fire(
    mut commands: Commands,
    clock: Res<Clock>,
    field: Res<Field>,
    mut ids: ResMut<NetIds>,
    mut shot_stats: ResMut<ShotStats>,
    mut ships: Query<(Entity, &Net, &Pilot, &mut Ship, &Motion)>,
) {
    // The state this tick produces is the one of snapshot tick `tick + 1`: what the shooter's
    // own (predicted) screen showed when it pressed fire.
    let shown = f64::from(clock.tick.0) + 1.0;
    for (entity, net, pilot, mut ship, motion) in &mut ships {
        ship.cooldown = ship.cooldown.saturating_sub(1);
        let pressed =
            pilot.current.buttons.has(Buttons::FIRE) || pilot.before.is_some_and(|b| b.buttons.has(Buttons::FIRE));
        if !ship.alive() || ship.cooldown > 0 || !pressed {
            continue;
        }
        let Some(id) = ids.allocate() else { continue };
        let wanted = (shown - pilot.current.view.ticks()).max(0.0);
        let rewind = wanted.min(f64::from(field.max_rewind_ticks)) as f32;
        shot_stats.fired += 1;
        shot_stats.wanted_ticks += wanted;
        if wanted > f64::from(field.max_rewind_ticks) {
            shot_stats.capped += 1;
        }
        ship.cooldown = clock.ticks(FIRE_COOLDOWN_S);
        let (x, y, vx, vy) = muzzle(motion.now.x, motion.now.y, ship.aim);
        let projectile = Projectile {
            pos: Vec2::new(x, y),
            vel: Vec2::new(vx, vy),
            owner: entity,
            owner_id: net.0,
            expires: clock.tick.after(clock.ticks(PROJECTILE_LIFETIME_S)),
            rewind,
        };
        commands.spawn((Net(id), projectile));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_point_crossing_a_circle_is_caught_even_if_both_ends_are_outside() {
        let t = first_contact(Vec2::new(-100.0, 0.0), Vec2::new(100.0, 0.0), 10.0);
        assert_eq!(t, Some(0.45), "the segment should touch the circle 45% of the way along");
    }

    #[test]
    fn a_miss_is_a_miss() {
        assert_eq!(first_contact(Vec2::new(-100.0, 11.0), Vec2::new(100.0, 11.0), 10.0), None);
        assert_eq!(first_contact(Vec2::new(20.0, 0.0), Vec2::new(40.0, 0.0), 10.0), None);
    }

    #[test]
    fn starting_inside_is_an_immediate_hit() {
        assert_eq!(first_contact(Vec2::new(1.0, 1.0), Vec2::new(50.0, 50.0), 10.0), Some(0.0));
    }
}
