//! HMAC keyed once: the inner and outer pads are absorbed when the key is built, so every
//! code costs exactly two compression-function calls (RFC 2104, with the precomputation
//! its section 4 describes).
//!
//! The hash functions are the `sha1`/`sha2` crates' block-level compressions, which pick
//! the CPU's SHA extensions at run time where it has them. Codes of a window are computed
//! side by side: all inner compressions first, then all outer ones, so no compression waits
//! for the one before it and the CPU overlaps them.

use sha1::Digest;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Algorithm;

/// One SHA variant as HMAC-for-HOTP needs it: the final blocks of both hashes have a fixed
/// layout, so they are templates in which only the counter or the inner digest changes.
trait Sha {
    /// The chaining value.
    type State: Copy + Zeroize;
    /// One message block.
    type Block: Copy + AsMut<[u8]> + Zeroize;
    /// The chaining value before any block.
    const IV: Self::State;
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

/// RFC 4226 §5.3: 31 bits from the offset named by the digest's last nibble.
fn truncate_bytes(mac: &[u8]) -> u32 {
    let offset = mac.last().map_or(0, |b| usize::from(b & 0x0f));
    mac.iter()
        .skip(offset)
        .take(4)
        .fold(0u32, |acc, &b| acc << 8 | u32::from(b))
        & 0x7fff_ffff
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
    const COUNTER_BLOCK: [u8; 64] = final_block(8, 64 + 8);
    const DIGEST_BLOCK: [u8; 64] = final_block(20, 64 + 20);

    fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }
    fn put_digest(state: &[u32; 5], block: &mut [u8; 64]) {
        put_words32(state, block);
    }
    fn truncate(state: &[u32; 5]) -> u32 {
        let mut mac = [0u8; 20];
        put_words32(state, &mut mac);
        truncate_bytes(&mac)
    }
}

impl Sha for Sha256 {
    type State = [u32; 8];
    type Block = [u8; 64];
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    const COUNTER_BLOCK: [u8; 64] = final_block(8, 64 + 8);
    const DIGEST_BLOCK: [u8; 64] = final_block(32, 64 + 32);

    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }
    fn put_digest(state: &[u32; 8], block: &mut [u8; 64]) {
        put_words32(state, block);
    }
    fn truncate(state: &[u32; 8]) -> u32 {
        let mut mac = [0u8; 32];
        put_words32(state, &mut mac);
        truncate_bytes(&mac)
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
        let mut mac = [0u8; 64];
        put_words64(state, &mut mac);
        truncate_bytes(&mac)
    }
}

/// The chaining values after the inner (`key ^ ipad`) and outer (`key ^ opad`) blocks.
struct Pads<H: Sha> {
    inner: H::State,
    outer: H::State,
}

impl<H: Sha> Pads<H> {
    /// Absorbs `key ^ ipad` and `key ^ opad`, hashing keys longer than a block first as
    /// RFC 2104 requires. Every temporary holding key bytes is wiped.
    fn new<D: Digest>(secret: &[u8]) -> Self {
        // Any block will do as scratch: every byte is overwritten below.
        let mut block = H::COUNTER_BLOCK;
        let mut hashed = sha1::digest::Output::<D>::default();
        let key: &[u8] = if secret.len() > block.as_mut().len() {
            hashed = D::digest(secret);
            hashed.as_slice()
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
        hashed.as_mut_slice().zeroize();
        pads
    }

    /// HMAC of each counter, truncated. All inner compressions run before the outer ones so
    /// that the CPU can overlap the independent lanes.
    fn truncated<const N: usize>(&self, counters: &[u64; N]) -> [u32; N] {
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
        outer.map(|state| H::truncate(&state))
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
            Algorithm::Sha1 => State::Sha1(Pads::new::<sha1::Sha1>(secret)),
            Algorithm::Sha256 => State::Sha256(Pads::new::<sha2::Sha256>(secret)),
            Algorithm::Sha512 => State::Sha512(Pads::new::<sha2::Sha512>(secret)),
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
