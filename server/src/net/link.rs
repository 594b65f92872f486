//! The link conditioner on a server connection (`--sim-latency`, `--sim-jitter`): a development
//! and test tool that makes loopback behave like a distant, jittery network. Incoming frames are
//! stamped when they come off the socket and handed to the reader when due; the writer holds
//! outgoing frames until due. Order is kept both ways, as TCP keeps it. With the conditioner off,
//! frames pass straight through.

use arena_netsim::{DelayLine, Latency, LinkProfile};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use rand::RngExt;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The server's conditioner setting: a one-way latency (or a range to pick from per connection)
/// and a jitter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkSettings {
    /// One-way latency, or a range.
    pub latency: Latency,
    /// Jitter either way.
    pub jitter: Duration,
}

impl LinkSettings {
    /// The profile of one new connection (a latency picked at random from a range).
    #[must_use]
    pub fn profile(&self) -> LinkProfile {
        let latency = if self.latency.is_range() {
            let (lo, hi) = (self.latency.min.as_secs_f64(), self.latency.max.as_secs_f64());
            Duration::from_secs_f64(rand::rng().random_range(lo..=hi))
        } else {
            self.latency.min
        };
        LinkProfile { latency, jitter: self.jitter }
    }
}

/// An item read off the socket: a message, an error, or the end of the stream.
pub type Incoming = Option<Result<Message, WsError>>;

/// The reading half of a connection behind the conditioner.
pub struct Inbound<S> {
    stream: SplitStream<WebSocketStream<S>>,
    line: DelayLine<Incoming>,
    ended: bool,
}

impl<S> Inbound<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps `stream`; `seed` makes the jitter repeatable.
    pub fn new(stream: SplitStream<WebSocketStream<S>>, profile: LinkProfile, seed: u64) -> Inbound<S> {
        Inbound { stream, line: DelayLine::new(profile, seed), ended: false }
    }

    /// The next item, once due. Cancel-safe: an item read off the socket is kept until taken.
    pub async fn next(&mut self) -> Incoming {
        if self.line.profile().is_off() && self.line.is_empty() {
            return self.stream.next().await;
        }
        loop {
            if let Some(item) = self.line.pop_due(Instant::now().into_std()) {
                return item;
            }
            if self.ended && self.line.is_empty() {
                return None;
            }
            let due = self.line.next_due().map(Instant::from_std);
            tokio::select! {
                item = self.stream.next(), if !self.ended => {
                    self.ended = !matches!(item, Some(Ok(_)));
                    self.line.push(Instant::now().into_std(), item);
                }
                () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {}
            }
        }
    }
}
