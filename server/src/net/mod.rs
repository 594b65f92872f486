//! The network side: one HTTP port for the web client, `/ws` and `/healthz`, and one tokio task
//! per WebSocket connection. Nothing here knows about the ECS world: connections talk to the room
//! through a [`RoomInbox`](crate::room::runner::RoomInbox) and read their [`Mailbox`](crate::mailbox::Mailbox).

pub mod admission;
pub mod connection;
pub mod frame_meter;
pub mod http;
pub mod join_token;
pub mod link;
pub mod metered_io;
pub mod rate;
pub mod serve;
pub mod tls;
