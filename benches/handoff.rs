//! `handoff/…`: what handing one snapshot from the room thread to a client's writer task costs,
//! per client: the mailbox lock and `Notify` on the room's side, then the task's wake-up, poll,
//! lock and take on the tokio side (no socket: the writer stops at the frame, so this is the
//! hand-off alone). `room_side` times the room thread's loop only; `round_trip/N` times from
//! the first offer until all N writers have taken their frame, on a 2-thread runtime.
//!
//! Expected: `room_side` tens of ns per client (a lock and a notify); `round_trip` a few hundred
//! ns to a few µs per client (a task wake and poll each), which is what one wake per client per
//! tick saves when events no longer wake writers on their own.

use arena_server::mailbox::{Batch, Mailbox};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Bytes;

fn handoff(c: &mut Criterion) {
    let mut group = c.benchmark_group("handoff");
    let frame = Bytes::from(vec![7u8; 120]);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    for clients in [100u64, 1000] {
        let mailboxes: Vec<Arc<Mailbox>> = (0..clients).map(|_| Arc::new(Mailbox::default())).collect();
        let taken = Arc::new(AtomicU64::new(0));
        for m in &mailboxes {
            let (m, taken) = (m.clone(), taken.clone());
            runtime.spawn(async move {
                let mut batch = Batch::default();
                loop {
                    m.wait().await;
                    m.take(&mut batch);
                    taken.fetch_add(batch.frames.len() as u64, Ordering::Relaxed);
                    batch.frames.clear();
                }
            });
        }
        group.throughput(Throughput::Elements(clients));
        group.bench_function(BenchmarkId::new("round_trip", clients), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let before = taken.load(Ordering::Relaxed);
                    let start = Instant::now();
                    for m in &mailboxes {
                        m.offer_snapshot(frame.clone());
                    }
                    while taken.load(Ordering::Relaxed) < before + clients {
                        std::hint::spin_loop();
                    }
                    spent += start.elapsed();
                }
                spent
            });
        });
        group.bench_function(BenchmarkId::new("room_side", clients), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let before = taken.load(Ordering::Relaxed);
                    let start = Instant::now();
                    for m in &mailboxes {
                        m.offer_snapshot(frame.clone());
                    }
                    spent += start.elapsed();
                    while taken.load(Ordering::Relaxed) < before + clients {
                        std::hint::spin_loop();
                    }
                }
                spent
            });
        });
    }
    group.finish();
}

criterion_group!(benches, handoff);
criterion_main!(benches);
