//! Join tokens (feature `join-token`): what a matchmaker gives a player so that a server started
//! with a join secret lets it in, and how a server checks one. Shared by the server (which checks
//! and remembers them) and the bots (which make their own for load tests against such a server).
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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"arena-join-v1";
/// Bytes of a token's nonce.
pub const NONCE: usize = 12;
const SIGNED: usize = 1 + 8 + NONCE;
const TOKEN_BYTES: usize = SIGNED + 32;
/// The longest time a token may be valid for; longer-lived ones are refused as malformed.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

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

/// Seconds since the Unix epoch (0 before it).
#[must_use]
pub fn unix_seconds(t: SystemTime) -> u64 {
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
    if token.len() > crate::MAX_JOIN_TOKEN_CHARS {
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"correct horse battery staple";

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
    fn forged_garbled_and_expired_tokens_are_refused() {
        let now = SystemTime::now();
        let good = mint(SECRET, "ace", Duration::from_secs(60), now);
        assert!(good.len() <= crate::MAX_JOIN_TOKEN_CHARS);
        assert!(check(SECRET, &good, "ace", now).is_ok());
        assert_eq!(check(SECRET, &good, "bob", now), Err(TokenError::BadSignature), "another name");
        assert_eq!(check(SECRET, &good, "ace", now + Duration::from_secs(61)), Err(TokenError::Expired));
        let other = mint(b"another server's secret", "ace", Duration::from_secs(60), now);
        assert_eq!(check(SECRET, &other, "ace", now), Err(TokenError::BadSignature));
        let mut bytes = URL_SAFE_NO_PAD.decode(&good).expect("base64");
        bytes[3] ^= 1; // a later expiry, say
        assert_eq!(check(SECRET, &URL_SAFE_NO_PAD.encode(&bytes), "ace", now), Err(TokenError::BadSignature));
        for garbage in ["", "!!!", "AAAA", &"A".repeat(500), &good[..good.len() - 4]] {
            assert_eq!(check(SECRET, garbage, "ace", now), Err(TokenError::Malformed), "{garbage:?}");
        }
    }
}
