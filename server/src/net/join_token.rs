//! The server's side of join tokens (`--join-secret`; the format and checks are in
//! [`arena_protocol::join_token`]): each token is accepted once, so the server remembers the
//! nonces of tokens it accepted until they expire.

use arena_protocol::join_token::{NONCE, unix_seconds};
pub use arena_protocol::join_token::{TokenError, check, mint};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// Most unexpired tokens the server remembers (to refuse reuse); past it new tokens are refused.
pub const MAX_REMEMBERED: usize = 1_000_000;

/// The server's side: the secret, and the nonces of tokens already used (until they expire).
pub struct JoinTokens {
    secret: Vec<u8>,
    used: Mutex<HashMap<[u8; NONCE], u64>>,
}

impl std::fmt::Debug for JoinTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinTokens").field("secret", &"<redacted>").finish_non_exhaustive()
    }
}

impl JoinTokens {
    /// A verifier for tokens made with `secret`.
    #[must_use]
    pub fn new(secret: &[u8]) -> JoinTokens {
        JoinTokens { secret: secret.to_vec(), used: Mutex::default() }
    }

    /// Accepts `token` for `name` once: checks it and remembers its nonce.
    pub fn accept(&self, token: Option<&str>, name: &str, now: SystemTime) -> Result<(), TokenError> {
        let token = token.ok_or(TokenError::Missing)?;
        let verified = check(&self.secret, token, name, now)?;
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        if used.contains_key(&verified.nonce) {
            return Err(TokenError::Reused);
        }
        if used.len() >= MAX_REMEMBERED {
            let now = unix_seconds(now);
            used.retain(|_, expiry| *expiry > now);
            if used.len() >= MAX_REMEMBERED {
                return Err(TokenError::Overloaded);
            }
        } else if used.len() >= 1024 && used.len().is_power_of_two() {
            // Forget expired nonces now and then, so the map follows the tokens in flight.
            let now = unix_seconds(now);
            used.retain(|_, expiry| *expiry > now);
        }
        used.insert(verified.nonce, verified.expiry);
        Ok(())
    }

    /// Tokens remembered now (unexpired, or not yet forgotten).
    #[must_use]
    pub fn remembered(&self) -> usize {
        self.used.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SECRET: &[u8] = b"correct horse battery staple";

    #[test]
    fn a_token_is_accepted_once_for_its_name_until_it_expires() {
        let now = SystemTime::now();
        let tokens = JoinTokens::new(SECRET);
        let token = mint(SECRET, "ace", Duration::from_secs(60), now);
        assert_eq!(tokens.accept(Some(&token), "bob", now), Err(TokenError::BadSignature), "another name");
        assert_eq!(tokens.accept(Some(&token), "ace", now + Duration::from_secs(61)), Err(TokenError::Expired));
        assert_eq!(tokens.accept(Some(&token), "ace", now), Ok(()));
        assert_eq!(tokens.accept(Some(&token), "ace", now), Err(TokenError::Reused));
        assert_eq!(tokens.accept(None, "ace", now), Err(TokenError::Missing));
        assert_eq!(tokens.accept(Some("garbage"), "ace", now), Err(TokenError::Malformed));
        assert_eq!(tokens.remembered(), 1, "refused tokens are not remembered");
    }

    #[test]
    fn expired_nonces_are_forgotten() {
        let now = SystemTime::now();
        let tokens = JoinTokens::new(SECRET);
        for _ in 0..1000 {
            assert_eq!(tokens.accept(Some(&mint(SECRET, "p", Duration::from_secs(10), now)), "p", now), Ok(()));
        }
        let later = now + Duration::from_secs(20);
        for _ in 0..100 {
            assert_eq!(tokens.accept(Some(&mint(SECRET, "p", Duration::from_secs(10), later)), "p", later), Ok(()));
        }
        assert!(tokens.remembered() < 200, "the first 1000 expired and were forgotten: {}", tokens.remembered());
    }
}
