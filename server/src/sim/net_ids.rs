//! The room's net ids as a world resource: [`NetIds`] wraps the pool of `arena-netids`, which
//! hands ids out and recycles them only when no client can still hold the old entity.
//!
//! Three parties feed the pool, each through one door: the simulation allocates (spawns) and
//! frees — every despawn of an entity with a [`Net`] id frees it through the component's
//! `on_discard` hook ([`free_net_id`]), whatever despawned it — and holds the id of a
//! projectile's owner while the projectile exists ([`hold_owner_id`], [`release_owner_id`]);
//! replication tells it which ids each client holds (see [`crate::replication::ClientReplica`]);
//! and [`crate::sim::Sim::step`] advances its quarantine clock once per tick. This module must
//! not reach replication or rooms.

use crate::sim::components::{Net, Projectile};
pub use arena_netids::NetIdPool;
use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::prelude::*;
use bevy_ecs::world::DeferredWorld;
use std::ops::{Deref, DerefMut};

/// The room's pool of net ids (see [`arena_netids`] for the rule of reuse).
#[derive(Resource, Debug, Default)]
pub struct NetIds(pub NetIdPool);

impl Deref for NetIds {
    type Target = NetIdPool;
    fn deref(&self) -> &NetIdPool {
        &self.0
    }
}

impl DerefMut for NetIds {
    fn deref_mut(&mut self) -> &mut NetIdPool {
        &mut self.0
    }
}

/// `on_discard` hook of [`Net`]: the entity is despawned (or loses its id), so its id is free of
/// entity. It is not reused before the clients holding it let go and its quarantine has passed.
pub fn free_net_id(mut world: DeferredWorld, ctx: HookContext) {
    let Some(id) = world.get::<Net>(ctx.entity).map(|n| n.0) else { return };
    if let Some(mut ids) = world.get_resource_mut::<NetIds>() {
        ids.free(id);
    }
}

/// `on_insert` hook of [`Projectile`]: the projectile names its owner, so the owner's id is held
/// (not reused) until the projectile is gone, even if the ship leaves first.
pub fn hold_owner_id(mut world: DeferredWorld, ctx: HookContext) {
    let Some(owner) = world.get::<Projectile>(ctx.entity).map(|p| p.owner_id) else { return };
    if let Some(mut ids) = world.get_resource_mut::<NetIds>() {
        ids.hold(owner);
    }
}

/// `on_discard` hook of [`Projectile`]: the projectile no longer names its owner.
pub fn release_owner_id(mut world: DeferredWorld, ctx: HookContext) {
    let Some(owner) = world.get::<Projectile>(ctx.entity).map(|p| p.owner_id) else { return };
    if let Some(mut ids) = world.get_resource_mut::<NetIds>() {
        ids.release(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arena_protocol::NetId;

    #[test]
    fn despawning_an_entity_frees_its_id_however_it_goes() {
        let mut world = World::new();
        world.insert_resource(NetIds::default());
        let take = |world: &mut World| world.resource_mut::<NetIds>().allocate().expect("ids to spare");
        let (a, b) = (take(&mut world), take(&mut world));
        let ea = world.spawn(Net(a)).id();
        let eb = world.spawn(Net(b)).id();
        assert!(world.despawn(ea));
        world.commands().entity(eb).despawn();
        world.flush();
        let ids = world.resource::<NetIds>();
        assert!(!ids.is_live(a) && !ids.is_live(b), "both ids should be free of their entities");
        assert_eq!(ids.stats().queued, 2, "both wait out their quarantine");
        assert!(!ids.is_live(NetId(3)));
    }
}
