//! HMAC keyed once: the inner and outer pads are absorbed when the key is built, so every
//! code costs exactly two compression-function calls (RFC 2104, with the precomputation
//! its section 4 describes).

use sha1::Digest;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Algorithm;

const SHA1_IV: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const SHA512_IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// The chaining values after the inner (`key ^ ipad`) and outer (`key ^ opad`) blocks.
enum State {
    Sha1 { inner: [u32; 5], outer: [u32; 5] },
    Sha256 { inner: [u32; 8], outer: [u32; 8] },
    Sha512 { inner: [u64; 8], outer: [u64; 8] },
}

/// An HMAC key with its pads already absorbed. Wiped on drop; not `Clone`.
pub(crate) struct Key {
    state: State,
}

/// Builds the `key ^ pad` block for a block size of `N` bytes, hashing keys longer than a
/// block first as RFC 2104 requires.
fn padded<const N: usize, D: Digest>(secret: &[u8], pad: u8) -> [u8; N] {
    let mut block = [pad; N];
    if secret.len() > N {
        let mut digest = D::digest(secret);
        for (b, k) in block.iter_mut().zip(digest.iter()) {
            *b ^= k;
        }
        digest.as_mut_slice().zeroize();
    } else {
        for (b, k) in block.iter_mut().zip(secret) {
            *b ^= k;
        }
    }
    block
}

/// Runs one compression from the IV over `block` and wipes the block.
fn absorb<S: Copy, const N: usize>(
    iv: S,
    mut block: [u8; N],
    compress: fn(&mut S, &[[u8; N]]),
) -> S {
    let mut state = iv;
    compress(&mut state, core::slice::from_ref(&block));
    block.zeroize();
    state
}

/// The final block of the inner hash: the 8-byte counter, then SHA padding for a message of
/// one key block plus 8 bytes.
fn counter_block<const N: usize>(counter: u64) -> [u8; N] {
    let mut block = [0u8; N];
    let bits = (N as u64).wrapping_add(8).wrapping_mul(8);
    let (head, tail) = block.split_at_mut(8);
    head.copy_from_slice(&counter.to_be_bytes());
    if let Some(b) = tail.first_mut() {
        *b = 0x80;
    }
    if let Some(len) = block.last_chunk_mut::<8>() {
        *len = bits.to_be_bytes();
    }
    block
}

/// The final block of the outer hash: the inner digest, then SHA padding for a message of
/// one key block plus the digest.
fn digest_block<const N: usize>(digest: &[u8]) -> [u8; N] {
    let mut block = [0u8; N];
    let bits = (N as u64).wrapping_add(digest.len() as u64).wrapping_mul(8);
    for (b, d) in block.iter_mut().zip(digest) {
        *b = *d;
    }
    if let Some(b) = block.get_mut(digest.len()) {
        *b = 0x80;
    }
    if let Some(len) = block.last_chunk_mut::<8>() {
        *len = bits.to_be_bytes();
    }
    block
}

fn words32_to_bytes<const W: usize, const B: usize>(words: &[u32; W]) -> [u8; B] {
    let mut out = [0u8; B];
    for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    out
}

fn words64_to_bytes(words: &[u64; 8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (chunk, w) in out.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// RFC 4226 §5.3 dynamic truncation: 31 bits from the offset named by the last nibble.
fn truncate(mac: &[u8]) -> u32 {
    let offset = mac.last().map_or(0, |b| usize::from(b & 0x0f));
    mac.iter()
        .skip(offset)
        .take(4)
        .fold(0u32, |acc, &b| acc << 8 | u32::from(b))
        & 0x7fff_ffff
}

fn sha1_compress(state: &mut [u32; 5], blocks: &[[u8; 64]]) {
    sha1::block_api::compress(state, blocks);
}

impl Key {
    /// Keys HMAC with `secret` for `algorithm`.
    pub(crate) fn new(secret: &[u8], algorithm: Algorithm) -> Self {
        let state = match algorithm {
            Algorithm::Sha1 => State::Sha1 {
                inner: absorb(
                    SHA1_IV,
                    padded::<64, sha1::Sha1>(secret, 0x36),
                    sha1_compress,
                ),
                outer: absorb(
                    SHA1_IV,
                    padded::<64, sha1::Sha1>(secret, 0x5c),
                    sha1_compress,
                ),
            },
            Algorithm::Sha256 => State::Sha256 {
                inner: absorb(
                    SHA256_IV,
                    padded::<64, sha2::Sha256>(secret, 0x36),
                    sha2::block_api::compress256,
                ),
                outer: absorb(
                    SHA256_IV,
                    padded::<64, sha2::Sha256>(secret, 0x5c),
                    sha2::block_api::compress256,
                ),
            },
            Algorithm::Sha512 => State::Sha512 {
                inner: absorb(
                    SHA512_IV,
                    padded::<128, sha2::Sha512>(secret, 0x36),
                    sha2::block_api::compress512,
                ),
                outer: absorb(
                    SHA512_IV,
                    padded::<128, sha2::Sha512>(secret, 0x5c),
                    sha2::block_api::compress512,
                ),
            },
        };
        Key { state }
    }

    /// The algorithm this key was built for.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self.state {
            State::Sha1 { .. } => Algorithm::Sha1,
            State::Sha256 { .. } => Algorithm::Sha256,
            State::Sha512 { .. } => Algorithm::Sha512,
        }
    }

    /// The truncated 31-bit HOTP value (RFC 4226 §5.3) for each counter.
    pub(crate) fn truncated<const N: usize>(&self, counters: &[u64; N]) -> [u32; N] {
        let mut out = [0u32; N];
        for (value, &counter) in out.iter_mut().zip(counters) {
            *value = self.truncated_one(counter);
        }
        out
    }

    fn truncated_one(&self, counter: u64) -> u32 {
        match &self.state {
            State::Sha1 { inner, outer } => {
                let mut h = *inner;
                sha1_compress(&mut h, &[counter_block::<64>(counter)]);
                let digest: [u8; 20] = words32_to_bytes(&h);
                let mut h = *outer;
                sha1_compress(&mut h, &[digest_block::<64>(&digest)]);
                truncate(&words32_to_bytes::<5, 20>(&h))
            }
            State::Sha256 { inner, outer } => {
                let mut h = *inner;
                sha2::block_api::compress256(&mut h, &[counter_block::<64>(counter)]);
                let digest: [u8; 32] = words32_to_bytes(&h);
                let mut h = *outer;
                sha2::block_api::compress256(&mut h, &[digest_block::<64>(&digest)]);
                truncate(&words32_to_bytes::<8, 32>(&h))
            }
            State::Sha512 { inner, outer } => {
                let mut h = *inner;
                sha2::block_api::compress512(&mut h, &[counter_block::<128>(counter)]);
                let digest = words64_to_bytes(&h);
                let mut h = *outer;
                sha2::block_api::compress512(&mut h, &[digest_block::<128>(&digest)]);
                truncate(&words64_to_bytes(&h))
            }
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        match &mut self.state {
            State::Sha1 { inner, outer } => {
                inner.zeroize();
                outer.zeroize();
            }
            State::Sha256 { inner, outer } => {
                inner.zeroize();
                outer.zeroize();
            }
            State::Sha512 { inner, outer } => {
                inner.zeroize();
                outer.zeroize();
            }
        }
    }
}

impl ZeroizeOnDrop for Key {}
