//! Join tokens: with `--join-secret`, a `Hello` must carry a token made by the operator's
//! matchmaker, so that only players the matchmaker sent can take a place.
//!
//! A token is unpadded base64url of 53 bytes: a version byte (1), the expiry as Unix seconds
//! (`u64`, big-endian), a 12-byte random nonce, and HMAC-SHA256 over
//! `"arena-join-v1" 0x00 name 0x00 version expiry nonce` with the shared secret. It is bound to the
//! player's name, expires, and is accepted once (the server remembers nonces until they expire).
//! docs/PROTOCOL.md ("Join tokens") gives the recipe for matchmakers in other languages.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"arena-join-v1";
const NONCE: usize = 12;
const SIGNED: usize = 1 + 8 + NONCE;
const TOKEN_BYTES: usize = SIGNED + 32;
/// The longest time a token may be valid for; longer-lived ones are refused as malformed.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Most unexpired tokens the server remembers (to refuse reuse); past it new tokens are refused.
pub const MAX_REMEMBERED: usize = 1_000_000;

/// Why a `Hello`'s join token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The server requires a token and the `Hello` had none.
    #[error("this server needs a join token from its matchmaker")]
    Missing,
    /// Not a token of this format.
    #[error("the join token is not valid")]
    Malformed,
    /// Not made with this server's secret, or for another name.
    #[error("the join token is not valid for this server and name")]
    BadSignature,
    /// Past its expiry.
    #[error("the join token has expired")]
    Expired,
    /// Already used.
    #[error("the join token was already used")]
    Reused,
    /// The server remembers too many unexpired tokens to check for reuse.
    #[error("too many join tokens in flight; try again shortly")]
    Overloaded,
}

impl TokenError {
    /// A label for metrics.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            TokenError::Missing => "missing",
            TokenError::Malformed => "malformed",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired => "expired",
            TokenError::Reused => "reused",
            TokenError::Overloaded => "overloaded",
        }
    }
}

fn mac(secret: &[u8], name: &str, signed: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(DOMAIN);
    mac.update(&[0]);
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(signed);
    mac
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Makes a token for `name`, valid for `ttl` (at most [`MAX_TTL`]) from `now`.
#[must_use]
pub fn mint(secret: &[u8], name: &str, ttl: Duration, now: SystemTime) -> String {
    let expiry = unix_seconds(now).saturating_add(ttl.min(MAX_TTL).as_secs());
    let mut bytes = Vec::with_capacity(TOKEN_BYTES);
    bytes.push(VERSION);
    bytes.extend_from_slice(&expiry.to_be_bytes());
    bytes.extend_from_slice(&rand::random::<[u8; NONCE]>());
    let tag = mac(secret, name, &bytes).finalize().into_bytes();
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token's contents, once its MAC has been checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Expiry, Unix seconds.
    pub expiry: u64,
    /// The token's unique nonce.
    pub nonce: [u8; NONCE],
}

/// Checks a token's format, MAC (in constant time) and expiry, without remembering it.
pub fn check(secret: &[u8], token: &str, name: &str, now: SystemTime) -> Result<Verified, TokenError> {
    if token.len() > arena_protocol::MAX_JOIN_TOKEN_CHARS {
        return Err(TokenError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| TokenError::Malformed)?;
    if bytes.len() != TOKEN_BYTES || bytes[0] != VERSION {
        return Err(TokenError::Malformed);
    }
    let (signed, tag) = bytes.split_at(SIGNED);
    mac(secret, name, signed).verify_slice(tag).map_err(|_| TokenError::BadSignature)?;
    let mut expiry = [0u8; 8];
    expiry.copy_from_slice(&signed[1..9]);
    let expiry = u64::from_be_bytes(expiry);
    let now = unix_seconds(now);
    if expiry <= now {
        return Err(TokenError::Expired);
    }
    if expiry - now > MAX_TTL.as_secs() {
        return Err(TokenError::Malformed);
    }
    let mut nonce = [0u8; NONCE];
    nonce.copy_from_slice(&signed[9..]);
    Ok(Verified { expiry, nonce })
}

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

    const SECRET: &[u8] = b"correct horse battery staple";

    #[test]
    fn a_token_is_accepted_once_for_its_name_until_it_expires() {
        let now = SystemTime::now();
        let tokens = JoinTokens::new(SECRET);
        let token = mint(SECRET, "ace", Duration::from_secs(60), now);
        assert!(token.len() <= arena_protocol::MAX_JOIN_TOKEN_CHARS, "{}", token.len());
        assert_eq!(tokens.accept(Some(&token), "bob", now), Err(TokenError::BadSignature), "another name");
        assert_eq!(tokens.accept(Some(&token), "ace", now + Duration::from_secs(61)), Err(TokenError::Expired));
        assert_eq!(tokens.accept(Some(&token), "ace", now), Ok(()));
        assert_eq!(tokens.accept(Some(&token), "ace", now), Err(TokenError::Reused));
        assert_eq!(tokens.accept(None, "ace", now), Err(TokenError::Missing));
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        let now = SystemTime::now();
        let tokens = JoinTokens::new(SECRET);
        let other = mint(b"another server's secret", "ace", Duration::from_secs(60), now);
        assert_eq!(tokens.accept(Some(&other), "ace", now), Err(TokenError::BadSignature));
        let good = mint(SECRET, "ace", Duration::from_secs(60), now);
        let mut bytes = URL_SAFE_NO_PAD.decode(&good).expect("base64");
        bytes[3] ^= 1; // a later expiry, say
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(tokens.accept(Some(&tampered), "ace", now), Err(TokenError::BadSignature));
        for garbage in ["", "!!!", "AAAA", &"A".repeat(500), &good[..good.len() - 4]] {
            assert_eq!(tokens.accept(Some(garbage), "ace", now), Err(TokenError::Malformed), "{garbage:?}");
        }
        assert_eq!(tokens.remembered(), 0, "refused tokens are not remembered");
    }

    #[test]
    fn the_recipe_in_protocol_md_makes_valid_tokens() {
        // Made by the Python function of docs/PROTOCOL.md §12 with expiry 2_000_000_000 and the
        // nonce 00 01 .. 0b.
        let token = "AQAAAAB3NZQAAAECAwQFBgcICQoLFXQ6lUY3RRWtMtCHrzXgWfUmYrifpys2S9vaa9CigxQ";
        let at = UNIX_EPOCH + Duration::from_secs(2_000_000_000 - 60);
        let nonce: [u8; NONCE] = std::array::from_fn(|i| i as u8);
        assert_eq!(check(SECRET, token, "ace", at), Ok(Verified { expiry: 2_000_000_000, nonce }));
        assert_eq!(token.len(), 71);
    }

    #[test]
    fn expired_nonces_are_forgotten() {
        let now = SystemTime::now();
        let tokens = JoinTokens::new(SECRET);
        for i in 0..1100 {
            let token = mint(SECRET, "p", Duration::from_secs(10), now);
            let at = if i < 1000 { now } else { now + Duration::from_secs(20) };
            if i < 1000 {
                assert_eq!(tokens.accept(Some(&token), "p", at), Ok(()));
            } else {
                let fresh = mint(SECRET, "p", Duration::from_secs(10), at);
                assert_eq!(tokens.accept(Some(&fresh), "p", at), Ok(()));
            }
        }
        assert!(tokens.remembered() < 200, "the first 1000 expired and were forgotten: {}", tokens.remembered());
    }
}
