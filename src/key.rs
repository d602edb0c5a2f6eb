//! HMAC keyed once: the inner and outer pads are absorbed when the key is built, so every
//! code costs exactly two compression-function calls (RFC 2104, with the precomputation
//! its section 4 describes).
//!
//! On a CPU with the SHA extensions, SHA-1 and SHA-256 codes come from `hwsha`, which keeps
//! both message blocks in registers. Otherwise (and always for SHA-512) the hash functions
//! are the `sha1`/`sha2` crates' block-level compressions on blocks built from fixed
//! templates. Either way the codes of a window are computed side by side, so no compression
//! waits for the one before it and the CPU overlaps them.

use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Algorithm;
use crate::hwsha;

/// One SHA variant as HMAC-for-HOTP needs it: the final blocks of both hashes have a fixed
/// layout, so they are templates in which only the counter or the inner digest changes.
trait Sha {
    /// The chaining value.
    type State: Copy + Zeroize;
    /// One message block.
    type Block: Copy + AsMut<[u8]> + Zeroize;
    /// The chaining value before any block.
    const IV: Self::State;
    /// The digest length in bytes.
    const DIGEST_LEN: usize;
    /// The bytes at the end of a final block that hold the message length.
    const LENGTH_FIELD: usize;
    /// The inner hash's final block for counter 0: padding and length of a message of one
    /// key block plus 8 bytes already in place.
    const COUNTER_BLOCK: Self::Block;
    /// The outer hash's final block with a zero digest: padding and length of one key
    /// block plus the digest already in place.
    const DIGEST_BLOCK: Self::Block;

    fn compress(state: &mut Self::State, block: &Self::Block);
    /// Writes the digest that `state` stands for into the head of `block`.
    fn put_digest(state: &Self::State, block: &mut Self::Block);
    /// RFC 4226 §5.3 dynamic truncation of the digest that `state` stands for.
    fn truncate(state: &Self::State) -> u32;
    /// The truncated HMAC of each counter computed in registers, without building blocks
    /// in memory; `None` where the CPU has no such path.
    fn fused<const N: usize>(
        inner: &Self::State,
        outer: &Self::State,
        counters: &[u64; N],
    ) -> Option<[u32; N]> {
        let _ = (inner, outer, counters);
        None
    }
}

/// The final block of a message `len` bytes long, of which `head` bytes sit in this block:
/// `0x80` after them and the bit length at the end. Only ever evaluated for the constants
/// below, at compile time, where an out-of-range index is a build error rather than a panic.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn final_block<const B: usize>(head: usize, len: usize) -> [u8; B] {
    let mut block = [0u8; B];
    if head < B {
        block[head] = 0x80;
    }
    let bits = ((len as u64).wrapping_mul(8)).to_be_bytes();
    let mut i = 0;
    while i < 8 {
        block[B - 8 + i] = bits[i];
        i += 1;
    }
    block
}

/// RFC 4226 §5.3: 31 bits from the offset named by the digest's last nibble, given the
/// digest's first five big-endian words (offsets reach byte 18 at most) and the word that
/// ends it. The offset is secret, so it selects neither a branch nor a load address: every
/// candidate pair of words is read, and the right one kept by masking.
fn truncate_words(head: &[u32; 5], last: u32) -> u32 {
    let offset = last & 0x0f;
    let index = offset >> 2;
    let mut pair = 0u64;
    for ((&hi, &lo), i) in head.iter().zip(head.iter().skip(1)).zip(0u32..) {
        let candidate = u64::from(hi) << 32 | u64::from(lo);
        pair.conditional_assign(&candidate, i.ct_eq(&index));
    }
    // The four bytes at `offset` are the top of `pair` shifted left by `offset % 4` bytes.
    let shift = 32u32.wrapping_sub((offset & 3).wrapping_mul(8));
    (pair.wrapping_shr(shift) as u32) & 0x7fff_ffff
}

fn put_words32(words: &[u32], block: &mut [u8]) {
    for (chunk, w) in block.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
}

fn put_words64(words: &[u64], block: &mut [u8]) {
    for (chunk, w) in block.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
}

struct Sha1;
struct Sha256;
struct Sha512;

impl Sha for Sha1 {
    type State = [u32; 5];
    type Block = [u8; 64];
    const IV: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    const DIGEST_LEN: usize = 20;
    const LENGTH_FIELD: usize = 8;
    const COUNTER_BLOCK: [u8; 64] = final_block(8, 64 + 8);
    const DIGEST_BLOCK: [u8; 64] = final_block(20, 64 + 20);

    fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }
    fn put_digest(state: &[u32; 5], block: &mut [u8; 64]) {
        put_words32(state, block);
    }
    fn truncate(state: &[u32; 5]) -> u32 {
        let [.., e] = *state;
        truncate_words(state, e)
    }
    fn fused<const N: usize>(
        inner: &[u32; 5],
        outer: &[u32; 5],
        counters: &[u64; N],
    ) -> Option<[u32; N]> {
        hwsha::hotp_sha1_lanes(inner, outer, counters)
    }
}

impl Sha for Sha256 {
    type State = [u32; 8];
    type Block = [u8; 64];
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    const DIGEST_LEN: usize = 32;
    const LENGTH_FIELD: usize = 8;
    const COUNTER_BLOCK: [u8; 64] = final_block(8, 64 + 8);
    const DIGEST_BLOCK: [u8; 64] = final_block(32, 64 + 32);

    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }
    fn put_digest(state: &[u32; 8], block: &mut [u8; 64]) {
        put_words32(state, block);
    }
    fn truncate(state: &[u32; 8]) -> u32 {
        let [a, b, c, d, e, .., h] = *state;
        truncate_words(&[a, b, c, d, e], h)
    }
    fn fused<const N: usize>(
        inner: &[u32; 8],
        outer: &[u32; 8],
        counters: &[u64; N],
    ) -> Option<[u32; N]> {
        hwsha::hotp_sha256_lanes(inner, outer, counters)
    }
}

impl Sha for Sha512 {
    type State = [u64; 8];
    type Block = [u8; 128];
    const IV: [u64; 8] = [
        0x6a09e667f3bcc908,
        0xbb67ae8584caa73b,
        0x3c6ef372fe94f82b,
        0xa54ff53a5f1d36f1,
        0x510e527fade682d1,
        0x9b05688c2b3e6c1f,
        0x1f83d9abfb41bd6b,
        0x5be0cd19137e2179,
    ];
    const DIGEST_LEN: usize = 64;
    const LENGTH_FIELD: usize = 16;
    // SHA-512 has a 128-bit length field; lengths here fit its low 64 bits.
    const COUNTER_BLOCK: [u8; 128] = final_block(8, 128 + 8);
    const DIGEST_BLOCK: [u8; 128] = final_block(64, 128 + 64);

    fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
        sha2::block_api::compress512(state, core::slice::from_ref(block));
    }
    fn put_digest(state: &[u64; 8], block: &mut [u8; 128]) {
        put_words64(state, block);
    }
    fn truncate(state: &[u64; 8]) -> u32 {
        let [a, b, c, .., h] = *state;
        let hi = |w: u64| (w >> 32) as u32;
        let lo = |w: u64| w as u32;
        truncate_words(&[hi(a), lo(a), hi(b), lo(b), hi(c)], lo(h))
    }
}

/// The hash of `message` (a key longer than a block, which RFC 2104 hashes once, or a
/// recovery code), computed with the block function on `block`, which the caller wipes,
/// rather than through a hasher object whose buffered bytes would be left behind wherever
/// it was moved. Messages here are short, so their bit length fits the low 64 bits of
/// every length field.
fn hash_message<H: Sha>(message: &[u8], block: &mut H::Block) -> H::State {
    let mut state = H::IV;
    let size = block.as_mut().len();
    let mut chunks = message.chunks_exact(size);
    for chunk in &mut chunks {
        block.as_mut().copy_from_slice(chunk);
        H::compress(&mut state, block);
    }
    let rest = chunks.remainder();
    let bytes = block.as_mut();
    bytes.fill(0);
    let (head, tail) = bytes.split_at_mut(rest.len());
    head.copy_from_slice(rest);
    if let Some(end) = tail.first_mut() {
        *end = 0x80;
    }
    // No room left for the length after the 0x80: it goes into a block of its own.
    if rest.len() >= size.saturating_sub(H::LENGTH_FIELD) {
        H::compress(&mut state, block);
        block.as_mut().fill(0);
    }
    let bits = (message.len() as u64).wrapping_mul(8).to_be_bytes();
    if let Some(field) = block.as_mut().last_chunk_mut::<8>() {
        *field = bits;
    }
    H::compress(&mut state, block);
    state
}

/// SHA-256 of `message`, on buffers that are wiped afterwards.
pub(crate) fn sha256(message: &[u8]) -> [u8; 32] {
    let mut block = Sha256::COUNTER_BLOCK;
    let mut state = hash_message::<Sha256>(message, &mut block);
    Sha256::put_digest(&state, &mut block);
    let digest = block.first_chunk::<32>().copied().unwrap_or_default();
    state.zeroize();
    block.zeroize();
    digest
}

/// Wipes the stack below the caller: `SCRUB_BYTES` of zeros written where the frames of
/// the functions it called just were. Those frames hold copies otpcore cannot name: the
/// `sha1`/`sha2` compression functions' message schedules and working variables (from
/// blocks of `key ^ pad`, a long key, or a recovery code) and the copies the compiler
/// makes when a value moves. Only with the `std` feature: a `no_std` target's whole stack
/// may be smaller than the wiped range.
#[inline(never)]
pub(crate) fn scrub_stack() {
    #[cfg(feature = "std")]
    {
        let mut area = [0u64; SCRUB_BYTES / 8];
        area.zeroize();
        core::hint::black_box(&mut area);
    }
}

/// How much of the stack [`scrub_stack`] wipes: three times the deepest call otpcore makes
/// while keying or checking a recovery code (2.5 KiB, for SHA-512 with a long key), or
/// twice that of an unoptimised build (45 KiB, with the hash crates' portable back ends).
/// `tests/zeroize.rs` checks that it covers.
#[cfg(feature = "std")]
const SCRUB_BYTES: usize = if cfg!(debug_assertions) {
    96 * 1024
} else {
    8 * 1024
};

/// The chaining values after the inner (`key ^ ipad`) and outer (`key ^ opad`) blocks.
struct Pads<H: Sha> {
    inner: H::State,
    outer: H::State,
}

impl<H: Sha> Pads<H> {
    /// Absorbs `key ^ ipad` and `key ^ opad`, hashing keys longer than a block first as
    /// RFC 2104 requires. Every temporary holding key bytes is wiped.
    fn new(secret: &[u8]) -> Self {
        // Any block will do as scratch: every byte is overwritten below.
        let mut block = H::COUNTER_BLOCK;
        let mut hashed = H::COUNTER_BLOCK;
        let key: &[u8] = if secret.len() > block.as_mut().len() {
            let mut state = hash_message::<H>(secret, &mut block);
            H::put_digest(&state, &mut hashed);
            state.zeroize();
            hashed.as_mut().get(..H::DIGEST_LEN).unwrap_or_default()
        } else {
            secret
        };
        let mut absorb = |pad: u8| {
            for (i, b) in block.as_mut().iter_mut().enumerate() {
                *b = key.get(i).copied().unwrap_or(0) ^ pad;
            }
            let mut state = H::IV;
            H::compress(&mut state, &block);
            state
        };
        let pads = Pads {
            inner: absorb(0x36),
            outer: absorb(0x5c),
        };
        block.zeroize();
        hashed.zeroize();
        pads
    }

    /// HMAC of each counter, truncated: in registers where the CPU allows, otherwise
    /// through the block templates.
    fn truncated<const N: usize>(&self, counters: &[u64; N]) -> [u32; N] {
        // Which path runs depends on the CPU only, never on the key or counters.
        H::fused(&self.inner, &self.outer, counters)
            .unwrap_or_else(|| self.macs_portable(counters).map(|mac| H::truncate(&mac)))
    }

    /// The final outer state of each counter through the block templates. All inner
    /// compressions run before the outer ones so that the CPU can overlap the independent
    /// lanes. Kept out of line so that the fused path's caller stays small.
    #[inline(never)]
    fn macs_portable<const N: usize>(&self, counters: &[u64; N]) -> [H::State; N] {
        let mut inner = [self.inner; N];
        for (state, &counter) in inner.iter_mut().zip(counters) {
            let mut block = H::COUNTER_BLOCK;
            if let Some(head) = block.as_mut().first_chunk_mut::<8>() {
                *head = counter.to_be_bytes();
            }
            H::compress(state, &block);
        }
        let mut outer = [self.outer; N];
        for (state, digest) in outer.iter_mut().zip(&inner) {
            let mut block = H::DIGEST_BLOCK;
            H::put_digest(digest, &mut block);
            H::compress(state, &block);
        }
        outer
    }
}

impl<H: Sha> Zeroize for Pads<H> {
    fn zeroize(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

enum State {
    Sha1(Pads<Sha1>),
    Sha256(Pads<Sha256>),
    Sha512(Pads<Sha512>),
}

/// An HMAC key with its pads already absorbed. Wiped on drop; not `Clone`.
pub(crate) struct Key {
    state: State,
}

impl Key {
    /// Keys HMAC with `secret` for `algorithm`.
    pub(crate) fn new(secret: &[u8], algorithm: Algorithm) -> Self {
        let state = match algorithm {
            Algorithm::Sha1 => State::Sha1(Pads::new(secret)),
            Algorithm::Sha256 => State::Sha256(Pads::new(secret)),
            Algorithm::Sha512 => State::Sha512(Pads::new(secret)),
        };
        Key { state }
    }

    /// The algorithm this key was built for.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self.state {
            State::Sha1(_) => Algorithm::Sha1,
            State::Sha256(_) => Algorithm::Sha256,
            State::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The truncated 31-bit HOTP value (RFC 4226 §5.3) of each counter.
    pub(crate) fn truncated<const N: usize>(&self, counters: &[u64; N]) -> [u32; N] {
        match &self.state {
            State::Sha1(pads) => pads.truncated(counters),
            State::Sha256(pads) => pads.truncated(counters),
            State::Sha512(pads) => pads.truncated(counters),
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        match &mut self.state {
            State::Sha1(pads) => pads.zeroize(),
            State::Sha256(pads) => pads.zeroize(),
            State::Sha512(pads) => pads.zeroize(),
        }
    }
}

impl ZeroizeOnDrop for Key {}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]

    use super::*;
    use proptest::prelude::*;

    /// RFC 4226 §5.3 as written: the offset indexes the digest bytes directly.
    fn truncate_reference(mac: &[u8]) -> u32 {
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff
    }

    /// Both paths of `Pads::truncated` agree: the fused one (when this CPU has it) and the
    /// block templates, which are what a CPU without SHA extensions runs.
    fn paths_agree<H: Sha, const N: usize>(secret: &[u8], counters: [u64; N]) {
        let pads = Pads::<H>::new(secret);
        let portable = pads.macs_portable(&counters).map(|m| H::truncate(&m));
        if let Some(fused) = H::fused(&pads.inner, &pads.outer, &counters) {
            assert_eq!(fused, portable);
        }
        assert_eq!(pads.truncated(&counters), portable);
    }

    /// Checks the digest `hash_message` computes for `message`.
    fn assert_digest<H: Sha>(message: &[u8], expected: &[u8]) {
        let mut block = H::COUNTER_BLOCK;
        let state = hash_message::<H>(message, &mut block);
        H::put_digest(&state, &mut block);
        assert_eq!(
            &block.as_mut()[..H::DIGEST_LEN],
            expected,
            "{} bytes",
            message.len()
        );
    }

    /// The padding of `hash_message` against the `sha1`/`sha2` hashers, at every length
    /// around one and two blocks (where the length field moves to a block of its own).
    #[test]
    fn hashing_with_the_block_function_matches_the_hash_crates() {
        use sha1::Digest;
        let mut buf = [0u8; 300];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        for len in 0..=buf.len() {
            let message = &buf[..len];
            assert_digest::<Sha1>(message, &sha1::Sha1::digest(message));
            assert_digest::<Sha256>(message, &sha2::Sha256::digest(message));
            assert_digest::<Sha512>(message, &sha2::Sha512::digest(message));
            assert_eq!(sha256(message)[..], sha2::Sha256::digest(message)[..]);
        }
    }

    /// The RFC 4226 Appendix D truncation example: offset 0xa, value 0x50ef7f19.
    #[test]
    fn truncation_matches_rfc_4226_example() {
        let mac: [u8; 20] = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        let mut words = [0u32; 5];
        for (w, chunk) in words.iter_mut().zip(mac.chunks_exact(4)) {
            *w = u32::from_be_bytes(chunk.try_into().unwrap());
        }
        assert_eq!(Sha1::truncate(&words), 0x50ef7f19);
        assert_eq!(truncate_reference(&mac), 0x50ef7f19);
    }

    proptest! {
        #[test]
        fn truncation_from_words_matches_byte_offsets(
            s1 in any::<[u32; 5]>(),
            s256 in any::<[u32; 8]>(),
            s512 in any::<[u64; 8]>(),
        ) {
            let mut mac = [0u8; 20];
            put_words32(&s1, &mut mac);
            prop_assert_eq!(Sha1::truncate(&s1), truncate_reference(&mac));
            let mut mac = [0u8; 32];
            put_words32(&s256, &mut mac);
            prop_assert_eq!(Sha256::truncate(&s256), truncate_reference(&mac));
            let mut mac = [0u8; 64];
            put_words64(&s512, &mut mac);
            prop_assert_eq!(Sha512::truncate(&s512), truncate_reference(&mac));
        }

        #[test]
        fn fused_and_portable_paths_agree(
            secret in proptest::collection::vec(any::<u8>(), 0..=80),
            counters in any::<[u64; 3]>(),
        ) {
            let [a, b, _] = counters;
            paths_agree::<Sha1, 1>(&secret, [a]);
            paths_agree::<Sha1, 2>(&secret, [a, b]);
            paths_agree::<Sha1, 3>(&secret, counters);
            paths_agree::<Sha256, 1>(&secret, [a]);
            paths_agree::<Sha256, 2>(&secret, [a, b]);
            paths_agree::<Sha256, 3>(&secret, counters);
            paths_agree::<Sha512, 3>(&secret, counters);
        }
    }
}
