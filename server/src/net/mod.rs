//! The network side: one HTTP port for the web client, `/ws` and `/healthz` (and the operator
//! endpoints, unless `--admin-bind` gives them a port of their own), and one tokio task per
//! WebSocket connection. Nothing here knows about the ECS world: connections talk to their room
//! through a [`RoomInbox`](crate::room::runner::RoomInbox) and read their [`Mailbox`](crate::mailbox::Mailbox).

pub mod admin;
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
