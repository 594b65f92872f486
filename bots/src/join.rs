//! Join tokens for bots: against a server started with `--join-secret`, each bot makes its own
//! token for its name with the same secret (`arena-bots --join-secret`, or `ARENA_JOIN_SECRET`),
//! as the operator's matchmaker would. The secret is process-wide, like the trusted TLS roots.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

static SECRET: OnceLock<Vec<u8>> = OnceLock::new();

/// How long a bot's token is valid: it is used at once.
const TTL: Duration = Duration::from_secs(60);

/// Makes every bot of this process carry a token made with `secret`. Only the first call counts.
pub fn use_secret(secret: &[u8]) {
    let _ = SECRET.set(secret.to_vec());
}

/// A fresh token for `name`, if a secret was set.
#[must_use]
pub fn token_for(name: &str) -> Option<String> {
    SECRET.get().map(|secret| arena_protocol::join_token::mint(secret, name, TTL, SystemTime::now()))
}
