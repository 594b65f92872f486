//! The integer encodings of snapshot bodies: unsigned LEB128 varints (postcard's own) and
//! zig-zag for signed values, so small deltas of either sign take one byte.

/// Why a snapshot body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The body ended in the middle of a value.
    #[error("snapshot body ends early")]
    Truncated,
    /// A varint is longer than its type allows.
    #[error("varint overflows its type")]
    Overflow,
}

/// Appends `v` as an unsigned LEB128 varint (1–5 bytes).
pub fn put_u32(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zig-zag encoded (0, −1, 1, −2, … → 0, 1, 2, 3, …) as a varint.
pub fn put_i32(out: &mut Vec<u8>, v: i32) {
    put_u32(out, ((v << 1) ^ (v >> 31)) as u32);
}

/// Reads values back from a body, front to back.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// Whether everything was read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes not read yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// One raw byte.
    pub fn u8(&mut self) -> Result<u8, ReadError> {
        let (&b, rest) = self.bytes.split_first().ok_or(ReadError::Truncated)?;
        self.bytes = rest;
        Ok(b)
    }

    /// One unsigned varint.
    pub fn u32(&mut self) -> Result<u32, ReadError> {
        let mut v: u32 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.u8()?;
            let part = u32::from(b & 0x7f);
            if shift == 28 && part > 0x0f {
                return Err(ReadError::Overflow);
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ReadError::Overflow)
    }

    /// One zig-zag varint.
    pub fn i32(&mut self) -> Result<i32, ReadError> {
        let u = self.u32()?;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn unsigned_round_trip(v in any::<u32>()) {
            let mut out = Vec::new();
            put_u32(&mut out, v);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.u32(), Ok(v));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn signed_round_trip(v in any::<i32>()) {
            let mut out = Vec::new();
            put_i32(&mut out, v);
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.i32(), Ok(v));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let mut r = Reader::new(&bytes);
            while r.i32().is_ok() {}
        }
    }

    #[test]
    fn small_values_of_either_sign_take_one_byte() {
        for v in -64..64 {
            let mut out = Vec::new();
            put_i32(&mut out, v);
            assert_eq!(out.len(), 1, "{v} should fit one byte");
        }
        let mut out = Vec::new();
        put_u32(&mut out, 300);
        assert_eq!(out, [0xac, 0x02], "the same bytes postcard writes for 300");
    }

    #[test]
    fn overlong_varints_are_rejected() {
        assert_eq!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]).u32(), Err(ReadError::Overflow));
        assert_eq!(Reader::new(&[0x80]).u32(), Err(ReadError::Truncated));
    }
}
