//! The network side: one HTTP port for the web client, `/ws` and `/healthz`, and one tokio task
//! per WebSocket connection. Nothing here knows about the ECS world: connections talk to the room
//! through a [`RoomInbox`](crate::room::runner::RoomInbox) and read their [`Mailbox`](crate::mailbox::Mailbox).

pub mod connection;
pub mod http;
pub mod link;
pub mod rate;
