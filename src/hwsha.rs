//! HMAC-for-HOTP on the SHA-NI instructions, with every message word in registers.
//!
//! An HOTP code is HMAC over an 8-byte counter, which with the pads absorbed in advance is
//! two compressions whose message blocks are almost entirely constant: the inner block is
//! the counter, `0x80` padding and a fixed length; the outer block is the inner digest,
//! padding and a fixed length. Building those blocks in memory and handing them to a
//! byte-block compression function costs more than the compressions themselves on recent
//! CPUs: the blocks are written with narrow stores and read back at once with 16-byte
//! loads, which cannot be forwarded from the store buffer and stall. Here the inner message
//! words are built directly in vector registers, and the outer message words are the inner
//! hash's result registers, so nothing goes through memory.
//!
//! The RFC 4226 dynamic truncation happens in registers too, with a byte shuffle whose
//! indexes are the secret offset: no load address and no branch depends on it.
//!
//! `N` codes (a verify window's steps) are computed side by side: every round group is
//! issued for lane 0, 1, ... in turn, so the CPU overlaps the independent dependency chains
//! of the round instructions. The round sequences follow the single-lane `x86_sha.rs` back
//! ends of the `sha1` 0.11 and `sha2` 0.11 crates.
//!
//! Without SHA-NI, or on another architecture, the functions return `None` and the caller
//! uses the `sha1`/`sha2` crates' block compressions instead. Building with
//! `--cfg otpcore_portable` makes them return `None` everywhere, so that CI can test that
//! path on a machine that has SHA-NI.
// `core::arch` intrinsics behind a run-time CPU check.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
cpufeatures::new!(shani, "sha", "sse2", "ssse3", "sse4.1");

/// The truncated HMAC-SHA-1 (RFC 4226 §5.3, 31 bits) of each 8-byte big-endian counter,
/// given the chaining values after the inner and outer key blocks. `None` when the CPU
/// lacks the SHA extensions.
pub(crate) fn hotp_sha1_lanes<const N: usize>(
    inner: &[u32; 5],
    outer: &[u32; 5],
    counters: &[u64; N],
) -> Option<[u32; N]> {
    #[cfg(target_arch = "x86_64")]
    if !cfg!(otpcore_portable) && shani::get() {
        // SAFETY: `shani::get()` has just confirmed at run time that this CPU supports
        // every feature `hotp_sha1` is compiled with.
        return Some(unsafe { x86::hotp_sha1(inner, outer, counters) });
    }
    let _ = (inner, outer, counters);
    None
}

/// The truncated HMAC-SHA-256 (RFC 4226 §5.3, 31 bits) of each 8-byte big-endian counter,
/// given the chaining values after the inner and outer key blocks. `None` when the CPU
/// lacks the SHA extensions.
pub(crate) fn hotp_sha256_lanes<const N: usize>(
    inner: &[u32; 8],
    outer: &[u32; 8],
    counters: &[u64; N],
) -> Option<[u32; N]> {
    #[cfg(target_arch = "x86_64")]
    if !cfg!(otpcore_portable) && shani::get() {
        // SAFETY: `shani::get()` has just confirmed at run time that this CPU supports
        // every feature `hotp_sha256` is compiled with.
        return Some(unsafe { x86::hotp_sha256(inner, outer, counters) });
    }
    let _ = (inner, outer, counters);
    None
}

/// Message length in bits of the inner hash: one key block plus the 8-byte counter.
const INNER_BITS: u32 = (64 + 8) * 8;
/// Message length in bits of SHA-1's outer hash: one key block plus the 20-byte digest.
const OUTER_BITS_SHA1: u32 = (64 + 20) * 8;
/// Message length in bits of SHA-256's outer hash: one key block plus the 32-byte digest.
const OUTER_BITS_SHA256: u32 = (64 + 32) * 8;
/// The `0x80` byte that ends a message, as the big-endian word that starts with it.
const PAD_WORD: u32 = 0x8000_0000;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_add_epi32, _mm_adds_epu8, _mm_alignr_epi8, _mm_and_si128,
        _mm_blend_epi16, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_or_si128, _mm_set_epi32,
        _mm_set_epi64x, _mm_set1_epi8, _mm_setzero_si128, _mm_sha1msg1_epu32, _mm_sha1msg2_epu32,
        _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32,
        _mm_sha256rnds2_epu32, _mm_shuffle_epi8, _mm_shuffle_epi32, _mm_sub_epi8, _mm_xor_si128,
    };

    use super::{INNER_BITS, OUTER_BITS_SHA1, OUTER_BITS_SHA256, PAD_WORD};

    /// SHA-256 round constants, grouped by the four rounds that share one `rounds4` step
    /// (FIPS 180-4, section 4.2.2).
    const K32: [[u32; 4]; 16] = [
        [0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5],
        [0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5],
        [0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3],
        [0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174],
        [0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc],
        [0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da],
        [0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7],
        [0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967],
        [0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13],
        [0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85],
        [0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3],
        [0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070],
        [0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5],
        [0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3],
        [0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208],
        [0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2],
    ];

    /// Bit-casts a word into the `i32` the intrinsics take.
    #[inline]
    const fn word(x: u32) -> i32 {
        i32::from_ne_bytes(x.to_ne_bytes())
    }

    /// Bit-casts an extracted `i32` element back into a word.
    #[inline]
    const fn unword(x: i32) -> u32 {
        u32::from_ne_bytes(x.to_ne_bytes())
    }

    /// RFC 4226 §5.3 dynamic truncation of a digest given as its bytes in order: `head`
    /// bytes 0..16 and `tail` bytes 16..32 (offsets reach byte 18 at most), with the
    /// digest's last byte at index `last` of `tail`.
    #[inline]
    #[target_feature(enable = "sse2,ssse3")]
    fn truncate(head: __m128i, tail: __m128i, last: i8) -> u32 {
        let offset = _mm_and_si128(
            _mm_shuffle_epi8(tail, _mm_set1_epi8(last)),
            _mm_set1_epi8(0x0f),
        );
        // Bytes 0..4 of the result are digest bytes offset + 3, + 2, + 1, + 0, so that
        // element 0 read as a little-endian word is the big-endian word at the offset.
        let index = _mm_add_epi8(offset, _mm_set_epi32(0, 0, 0, 0x0001_0203));
        // A shuffle index with its top bit set selects zero: indexes 16.. are cut from the
        // head's shuffle by saturating them past 0x7f, and indexes ..16 from the tail's by
        // wrapping them below zero.
        let from_head = _mm_shuffle_epi8(head, _mm_adds_epu8(index, _mm_set1_epi8(0x70)));
        let from_tail = _mm_shuffle_epi8(tail, _mm_sub_epi8(index, _mm_set1_epi8(16)));
        unword(_mm_cvtsi128_si32(_mm_or_si128(from_head, from_tail))) & 0x7fff_ffff
    }

    /// The counter's high and low big-endian words, the first two message words.
    #[inline]
    fn counter_words(counter: u64) -> (i32, i32) {
        let [h0, h1, h2, h3, l0, l1, l2, l3] = counter.to_be_bytes();
        (
            word(u32::from_be_bytes([h0, h1, h2, h3])),
            word(u32::from_be_bytes([l0, l1, l2, l3])),
        )
    }

    /// A SHA-1 state in the layout `sha1rnds4` works on: A..D with A in the top element,
    /// and E in the top element of its own register with the other elements zero.
    #[derive(Clone, Copy)]
    struct Sha1State {
        abcd: __m128i,
        e: __m128i,
    }

    /// Working registers of one SHA-1 lane.
    #[derive(Clone, Copy)]
    struct Sha1Lane {
        /// The input state, kept for the final add.
        start: Sha1State,
        /// The two round accumulators, alternating roles like the reference.
        h0: __m128i,
        h1: __m128i,
        /// Message schedule window, W0 of each group of four in the top element.
        w0: __m128i,
        w1: __m128i,
        w2: __m128i,
        w3: __m128i,
        w4: __m128i,
    }

    /// Four SHA-1 rounds per lane: `dst = rnds4(src, nexte(dst, w), f)`.
    macro_rules! sha1_rounds4 {
        ($lanes:ident, $src:ident, $dst:ident, $w:ident, $f:literal) => {
            for l in $lanes.iter_mut() {
                l.$dst = _mm_sha1rnds4_epu32(l.$src, _mm_sha1nexte_epu32(l.$dst, l.$w), $f);
            }
        };
    }

    /// Next four schedule words into `$w4`, then four rounds, per lane.
    macro_rules! sha1_schedule_rounds4 {
        (
            $lanes:ident, $src:ident, $dst:ident,
            $w0:ident, $w1:ident, $w2:ident, $w3:ident, $w4:ident, $f:literal
        ) => {
            for l in $lanes.iter_mut() {
                l.$w4 = _mm_sha1msg2_epu32(
                    _mm_xor_si128(_mm_sha1msg1_epu32(l.$w0, l.$w1), l.$w2),
                    l.$w3,
                );
            }
            sha1_rounds4!($lanes, $src, $dst, $w4, $f);
        };
    }

    /// One SHA-1 compression per lane of the message words `msgs` (four registers of four
    /// words, the first word of each in the top element) into `states`, lanes interleaved.
    /// A macro rather than a function: `#[inline]` alone left the three-lane version out of
    /// line, passing every register through memory, and `#[inline(always)]` cannot be
    /// combined with `#[target_feature]` on stable Rust.
    macro_rules! sha1_compress {
        ($states:expr, $msgs:expr) => {{
            let (states, msgs): ([Sha1State; N], [[__m128i; 4]; N]) = ($states, $msgs);
            let mut lanes = [(); N].map(|()| Sha1Lane {
                start: Sha1State {
                    abcd: _mm_setzero_si128(),
                    e: _mm_setzero_si128(),
                },
                h0: _mm_setzero_si128(),
                h1: _mm_setzero_si128(),
                w0: _mm_setzero_si128(),
                w1: _mm_setzero_si128(),
                w2: _mm_setzero_si128(),
                w3: _mm_setzero_si128(),
                w4: _mm_setzero_si128(),
            });
            for ((l, state), msg) in lanes.iter_mut().zip(states).zip(msgs) {
                l.start = state;
                [l.w0, l.w1, l.w2, l.w3] = msg;
                l.h0 = state.abcd;
                l.h1 = _mm_sha1rnds4_epu32(l.h0, _mm_add_epi32(state.e, l.w0), 0);
            }

            // Rounds 0..20 (the first group is issued in the set-up loop above).
            sha1_rounds4!(lanes, h1, h0, w1, 0);
            sha1_rounds4!(lanes, h0, h1, w2, 0);
            sha1_rounds4!(lanes, h1, h0, w3, 0);
            sha1_schedule_rounds4!(lanes, h0, h1, w0, w1, w2, w3, w4, 0);

            // Rounds 20..40
            sha1_schedule_rounds4!(lanes, h1, h0, w1, w2, w3, w4, w0, 1);
            sha1_schedule_rounds4!(lanes, h0, h1, w2, w3, w4, w0, w1, 1);
            sha1_schedule_rounds4!(lanes, h1, h0, w3, w4, w0, w1, w2, 1);
            sha1_schedule_rounds4!(lanes, h0, h1, w4, w0, w1, w2, w3, 1);
            sha1_schedule_rounds4!(lanes, h1, h0, w0, w1, w2, w3, w4, 1);

            // Rounds 40..60
            sha1_schedule_rounds4!(lanes, h0, h1, w1, w2, w3, w4, w0, 2);
            sha1_schedule_rounds4!(lanes, h1, h0, w2, w3, w4, w0, w1, 2);
            sha1_schedule_rounds4!(lanes, h0, h1, w3, w4, w0, w1, w2, 2);
            sha1_schedule_rounds4!(lanes, h1, h0, w4, w0, w1, w2, w3, 2);
            sha1_schedule_rounds4!(lanes, h0, h1, w0, w1, w2, w3, w4, 2);

            // Rounds 60..80
            sha1_schedule_rounds4!(lanes, h1, h0, w1, w2, w3, w4, w0, 3);
            sha1_schedule_rounds4!(lanes, h0, h1, w2, w3, w4, w0, w1, 3);
            sha1_schedule_rounds4!(lanes, h1, h0, w3, w4, w0, w1, w2, 3);
            sha1_schedule_rounds4!(lanes, h0, h1, w4, w0, w1, w2, w3, 3);
            sha1_schedule_rounds4!(lanes, h1, h0, w0, w1, w2, w3, w4, 3);

            lanes.map(|l| Sha1State {
                abcd: _mm_add_epi32(l.start.abcd, l.h0),
                // `nexte` adds into the top element and keeps the other (zero) elements of
                // its second operand, so E's register keeps its layout.
                e: _mm_sha1nexte_epu32(l.h1, l.start.e),
            })
        }};
    }

    /// A SHA-1 state in registers.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn sha1_load(state: &[u32; 5]) -> Sha1State {
        // SAFETY: `state` is 20 readable bytes and this reads the first 16; `loadu` has no
        // alignment requirement.
        let dcba = unsafe { _mm_loadu_si128(state.as_ptr().cast()) };
        let [.., e] = *state;
        Sha1State {
            abcd: _mm_shuffle_epi32(dcba, 0x1B),
            e: _mm_set_epi32(word(e), 0, 0, 0),
        }
    }

    /// Truncated HMAC-SHA-1 of each counter from the absorbed pads; see
    /// `super::hotp_sha1_lanes`.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn hotp_sha1<const N: usize>(
        inner: &[u32; 5],
        outer: &[u32; 5],
        counters: &[u64; N],
    ) -> [u32; N] {
        let zero = _mm_setzero_si128();
        // Inner block: counter, padding, zeros, and the length as word 15 (the bottom
        // element of the last register).
        let inner_len = _mm_set_epi32(0, 0, 0, word(INNER_BITS));
        let msgs = counters.map(|counter| {
            let (hi, lo) = counter_words(counter);
            [
                _mm_set_epi32(hi, lo, word(PAD_WORD), 0),
                zero,
                zero,
                inner_len,
            ]
        });
        let digests = sha1_compress!([sha1_load(inner); N], msgs);

        // Outer block: the inner digest is message words 0..4 in exactly the layout of
        // the result registers; padding as word 5 and the length as word 15.
        let pad = _mm_set_epi32(0, word(PAD_WORD), 0, 0);
        let outer_len = _mm_set_epi32(0, 0, 0, word(OUTER_BITS_SHA1));
        let msgs = digests.map(|d| [d.abcd, _mm_or_si128(d.e, pad), zero, outer_len]);
        let macs = sha1_compress!([sha1_load(outer); N], msgs);

        // Reversing all 16 bytes turns A..D (A in the top element) and E (in the top
        // element) into the digest's bytes in order.
        let reverse = _mm_set_epi64x(0x0001_0203_0405_0607, 0x0809_0A0B_0C0D_0E0F);
        macs.map(|m| {
            truncate(
                _mm_shuffle_epi8(m.abcd, reverse),
                _mm_shuffle_epi8(m.e, reverse),
                3,
            )
        })
    }

    /// A SHA-256 state in the layout `sha256rnds2` works on: (A, B, E, F) and
    /// (C, D, G, H), A and C in the top elements.
    #[derive(Clone, Copy)]
    struct Sha256State {
        abef: __m128i,
        cdgh: __m128i,
    }

    /// Working registers of one SHA-256 lane.
    #[derive(Clone, Copy)]
    struct Sha256Lane {
        /// The input state, kept for the final add.
        start: Sha256State,
        /// The running state.
        abef: __m128i,
        cdgh: __m128i,
        /// Second pair of `W + K` words, between the two `rnds2` of a group.
        wk_hi: __m128i,
        /// Message schedule window, word 0 of each group of four in the bottom element.
        w0: __m128i,
        w1: __m128i,
        w2: __m128i,
        w3: __m128i,
    }

    /// Four SHA-256 rounds per lane with schedule words `$w` and constant group `$g`. The
    /// two dependent `rnds2` are split into separate lane loops so each lane's second half
    /// issues after the others' first.
    macro_rules! sha256_rounds4 {
        ($lanes:ident, $g:literal, $w:ident) => {
            let [k0, k1, k2, k3] = K32[$g];
            let rk = _mm_set_epi32(word(k3), word(k2), word(k1), word(k0));
            for l in $lanes.iter_mut() {
                let wk = _mm_add_epi32(l.$w, rk);
                l.cdgh = _mm_sha256rnds2_epu32(l.cdgh, l.abef, wk);
                l.wk_hi = _mm_shuffle_epi32(wk, 0x0E);
            }
            for l in $lanes.iter_mut() {
                l.abef = _mm_sha256rnds2_epu32(l.abef, l.cdgh, l.wk_hi);
            }
        };
    }

    /// Next four schedule words into `$w0`, per lane.
    macro_rules! sha256_schedule {
        ($lanes:ident, $w0:ident, $w1:ident, $w2:ident, $w3:ident) => {
            for l in $lanes.iter_mut() {
                let t = _mm_add_epi32(
                    _mm_sha256msg1_epu32(l.$w0, l.$w1),
                    _mm_alignr_epi8(l.$w3, l.$w2, 4),
                );
                l.$w0 = _mm_sha256msg2_epu32(t, l.$w3);
            }
        };
    }

    /// One SHA-256 compression per lane of the message words `msgs` (four registers of
    /// four words, the first word of each in the bottom element) into `states`, lanes
    /// interleaved.
    /// A macro for the same reason as `sha1_compress!`.
    macro_rules! sha256_compress {
        ($states:expr, $msgs:expr) => {{
            let (states, msgs): ([Sha256State; N], [[__m128i; 4]; N]) = ($states, $msgs);
            let mut lanes = [(); N].map(|()| Sha256Lane {
                start: Sha256State {
                    abef: _mm_setzero_si128(),
                    cdgh: _mm_setzero_si128(),
                },
                abef: _mm_setzero_si128(),
                cdgh: _mm_setzero_si128(),
                wk_hi: _mm_setzero_si128(),
                w0: _mm_setzero_si128(),
                w1: _mm_setzero_si128(),
                w2: _mm_setzero_si128(),
                w3: _mm_setzero_si128(),
            });
            for ((l, state), msg) in lanes.iter_mut().zip(states).zip(msgs) {
                l.start = state;
                l.abef = state.abef;
                l.cdgh = state.cdgh;
                [l.w0, l.w1, l.w2, l.w3] = msg;
            }

            sha256_rounds4!(lanes, 0, w0);
            sha256_rounds4!(lanes, 1, w1);
            sha256_rounds4!(lanes, 2, w2);
            sha256_rounds4!(lanes, 3, w3);

            sha256_schedule!(lanes, w0, w1, w2, w3);
            sha256_rounds4!(lanes, 4, w0);
            sha256_schedule!(lanes, w1, w2, w3, w0);
            sha256_rounds4!(lanes, 5, w1);
            sha256_schedule!(lanes, w2, w3, w0, w1);
            sha256_rounds4!(lanes, 6, w2);
            sha256_schedule!(lanes, w3, w0, w1, w2);
            sha256_rounds4!(lanes, 7, w3);

            sha256_schedule!(lanes, w0, w1, w2, w3);
            sha256_rounds4!(lanes, 8, w0);
            sha256_schedule!(lanes, w1, w2, w3, w0);
            sha256_rounds4!(lanes, 9, w1);
            sha256_schedule!(lanes, w2, w3, w0, w1);
            sha256_rounds4!(lanes, 10, w2);
            sha256_schedule!(lanes, w3, w0, w1, w2);
            sha256_rounds4!(lanes, 11, w3);

            sha256_schedule!(lanes, w0, w1, w2, w3);
            sha256_rounds4!(lanes, 12, w0);
            sha256_schedule!(lanes, w1, w2, w3, w0);
            sha256_rounds4!(lanes, 13, w1);
            sha256_schedule!(lanes, w2, w3, w0, w1);
            sha256_rounds4!(lanes, 14, w2);
            sha256_schedule!(lanes, w3, w0, w1, w2);
            sha256_rounds4!(lanes, 15, w3);

            lanes.map(|l| Sha256State {
                abef: _mm_add_epi32(l.abef, l.start.abef),
                cdgh: _mm_add_epi32(l.cdgh, l.start.cdgh),
            })
        }};
    }

    /// A SHA-256 state in registers.
    #[inline]
    #[target_feature(enable = "sse2,ssse3,sse4.1")]
    fn sha256_load(state: &[u32; 8]) -> Sha256State {
        let ptr: *const __m128i = state.as_ptr().cast();
        // SAFETY: `state` is 32 readable bytes, exactly the two 16-byte reads at byte
        // offsets 0 and 16; `loadu` has no alignment requirement.
        let (dcba, hgfe) = unsafe { (_mm_loadu_si128(ptr), _mm_loadu_si128(ptr.add(1))) };
        // The reference's shuffles into (A, B, E, F) and (C, D, G, H).
        let cdab = _mm_shuffle_epi32(dcba, 0xB1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
        Sha256State {
            abef: _mm_alignr_epi8(cdab, efgh, 8),
            cdgh: _mm_blend_epi16(efgh, cdab, 0xF0),
        }
    }

    /// A SHA-256 state's words as message words 0..4 and 4..8, each in memory order
    /// (word 0 in the bottom element): the reference's final shuffles, kept in registers.
    #[inline]
    #[target_feature(enable = "sse2,ssse3,sse4.1")]
    fn sha256_words(state: Sha256State) -> [__m128i; 2] {
        let feba = _mm_shuffle_epi32(state.abef, 0x1B);
        let dchg = _mm_shuffle_epi32(state.cdgh, 0xB1);
        [
            _mm_blend_epi16(feba, dchg, 0xF0),
            _mm_alignr_epi8(dchg, feba, 8),
        ]
    }

    /// Truncated HMAC-SHA-256 of each counter from the absorbed pads; see
    /// `super::hotp_sha256_lanes`.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn hotp_sha256<const N: usize>(
        inner: &[u32; 8],
        outer: &[u32; 8],
        counters: &[u64; N],
    ) -> [u32; N] {
        let zero = _mm_setzero_si128();
        // Inner block: counter, padding, zeros, and the length as word 15 (the top element
        // of the last register).
        let inner_len = _mm_set_epi32(word(INNER_BITS), 0, 0, 0);
        let msgs = counters.map(|counter| {
            let (hi, lo) = counter_words(counter);
            [
                _mm_set_epi32(0, word(PAD_WORD), lo, hi),
                zero,
                zero,
                inner_len,
            ]
        });
        let digests = sha256_compress!([sha256_load(inner); N], msgs);

        // Outer block: the inner digest as words 0..8, padding as word 8 and the length as
        // word 15.
        let pad = _mm_set_epi32(0, 0, 0, word(PAD_WORD));
        let outer_len = _mm_set_epi32(word(OUTER_BITS_SHA256), 0, 0, 0);
        let msgs = digests.map(|d| {
            let [w0, w1] = sha256_words(d);
            [w0, w1, pad, outer_len]
        });
        let macs = sha256_compress!([sha256_load(outer); N], msgs);

        // Byte-swapping each word of A..D and E..H gives the digest's bytes in order.
        let swap = _mm_set_epi64x(0x0C0D_0E0F_0809_0A0B, 0x0405_0607_0001_0203);
        macs.map(|m| {
            let [abcd, efgh] = sha256_words(m);
            truncate(
                _mm_shuffle_epi8(abcd, swap),
                _mm_shuffle_epi8(efgh, swap),
                15,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]

    // The test harness links std even when the crate is built without it.
    extern crate std;

    use super::*;
    use proptest::prelude::*;

    /// The final block of a message: `head` bytes, `0x80`, zeros, and the bit length.
    fn block(head: &[u8], bits: u32) -> [u8; 64] {
        let mut block = [0u8; 64];
        block[..head.len()].copy_from_slice(head);
        block[head.len()] = 0x80;
        block[60..].copy_from_slice(&bits.to_be_bytes());
        block
    }

    /// The digest bytes that big-endian state words stand for.
    fn words_be<const B: usize>(words: &[u32]) -> [u8; B] {
        let mut out = [0u8; B];
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// HMAC-SHA-1 the portable way: both final blocks in memory, the `sha1` crate's
    /// compression.
    fn portable_sha1(inner: &[u32; 5], outer: &[u32; 5], counter: u64) -> [u32; 5] {
        let mut digest = *inner;
        sha1::block_api::compress(&mut digest, &[block(&counter.to_be_bytes(), INNER_BITS)]);
        let head: [u8; 20] = words_be(&digest);
        let mut mac = *outer;
        sha1::block_api::compress(&mut mac, &[block(&head, OUTER_BITS_SHA1)]);
        mac
    }

    /// HMAC-SHA-256 the portable way: both final blocks in memory, the `sha2` crate's
    /// compression.
    fn portable_sha256(inner: &[u32; 8], outer: &[u32; 8], counter: u64) -> [u32; 8] {
        let mut digest = *inner;
        sha2::block_api::compress256(&mut digest, &[block(&counter.to_be_bytes(), INNER_BITS)]);
        let head: [u8; 32] = words_be(&digest);
        let mut mac = *outer;
        sha2::block_api::compress256(&mut mac, &[block(&head, OUTER_BITS_SHA256)]);
        mac
    }

    /// RFC 4226 §5.3 as written: the offset indexes the digest bytes directly.
    fn truncate_reference(mac: &[u8]) -> u32 {
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff
    }

    /// Whether the fused path must run, judged by std's CPU detection rather than the
    /// module's own, so that a broken check cannot quietly skip the comparisons below.
    fn fused_expected() -> bool {
        #[cfg(target_arch = "x86_64")]
        return !cfg!(otpcore_portable)
            && std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1");
        #[cfg(not(target_arch = "x86_64"))]
        return false;
    }

    fn check<const N: usize>(
        inner1: [u32; 5],
        outer1: [u32; 5],
        inner256: [u32; 8],
        outer256: [u32; 8],
        counters: [u64; N],
    ) {
        let got = hotp_sha1_lanes(&inner1, &outer1, &counters);
        assert_eq!(
            got.is_some(),
            fused_expected(),
            "SHA-1: fused exactly when SHA-NI is there"
        );
        if let Some(got) = got {
            let want = counters
                .map(|c| truncate_reference(&words_be::<20>(&portable_sha1(&inner1, &outer1, c))));
            assert_eq!(got, want);
        }
        let got = hotp_sha256_lanes(&inner256, &outer256, &counters);
        assert_eq!(
            got.is_some(),
            fused_expected(),
            "SHA-256: fused exactly when SHA-NI is there"
        );
        if let Some(got) = got {
            let want = counters.map(|c| {
                truncate_reference(&words_be::<32>(&portable_sha256(&inner256, &outer256, c)))
            });
            assert_eq!(got, want);
        }
    }

    #[test]
    fn rfc_4226_appendix_d_values() {
        // RFC 4226 Appendix D: key "12345678901234567890", counter 0, HMAC-SHA-1
        // cc93cf18508d94934c64b65d8ba7667fb7cde4b0.
        let key = *b"12345678901234567890";
        let pad = |p: u8| {
            let mut block = [p; 64];
            for (b, k) in block.iter_mut().zip(key) {
                *b ^= k;
            }
            block
        };
        let mut inner = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
        let mut outer = inner;
        sha1::block_api::compress(&mut inner, &[pad(0x36)]);
        sha1::block_api::compress(&mut outer, &[pad(0x5c)]);
        let want = [0xcc93cf18, 0x508d9493, 0x4c64b65d, 0x8ba7667f, 0xb7cde4b0];
        assert_eq!(portable_sha1(&inner, &outer, 0), want);
        // Appendix D's truncated values for counters 0, 1 and 2.
        let truncated = [0x4c93cf18, 0x41397eea, 0x082fef30];
        assert_eq!(
            truncate_reference(&words_be::<20>(&portable_sha1(&inner, &outer, 0))),
            truncated[0]
        );
        if let Some(got) = hotp_sha1_lanes(&inner, &outer, &[0, 1, 2]) {
            assert_eq!(got, truncated);
        }
    }

    #[test]
    fn every_truncation_offset_in_every_lane_matches_the_reference() {
        let (inner1, outer1) = ([0x0123_4567; 5], [0x89ab_cdef; 5]);
        let (inner256, outer256) = ([0xfedc_ba98; 8], [0x7654_3210; 8]);
        // A counter whose MAC ends in each offset 0..15, for each hash: found by search,
        // so that no offset is left to the chance of random inputs.
        let mut counters = [[None; 16]; 2];
        for counter in 0u64.. {
            let last1 = words_be::<20>(&portable_sha1(&inner1, &outer1, counter))[19] & 0x0f;
            let last256 =
                words_be::<32>(&portable_sha256(&inner256, &outer256, counter))[31] & 0x0f;
            counters[0][usize::from(last1)].get_or_insert(counter);
            counters[1][usize::from(last256)].get_or_insert(counter);
            if counters.iter().flatten().all(Option::is_some) {
                break;
            }
        }
        for c in counters.iter().flatten().map(|c| c.unwrap()) {
            let other = c ^ 0x5555;
            check(inner1, outer1, inner256, outer256, [c]);
            check(inner1, outer1, inner256, outer256, [other, c]);
            check(inner1, outer1, inner256, outer256, [c, other, !c]);
            check(inner1, outer1, inner256, outer256, [other, !c, c]);
        }
    }

    #[test]
    fn fused_matches_portable_at_extreme_states_and_counters() {
        let counters = [0, u64::MAX, 0x0123_4567_89ab_cdef];
        check([0; 5], [0; 5], [0; 8], [0; 8], counters);
        check(
            [u32::MAX; 5],
            [u32::MAX; 5],
            [u32::MAX; 8],
            [u32::MAX; 8],
            counters,
        );
        check([1; 5], [2; 5], [3; 8], [4; 8], [u64::MAX]);
        check([5; 5], [6; 5], [7; 8], [8; 8], [1u64 << 32, 1]);
    }

    proptest! {
        #[test]
        fn fused_matches_portable_one_lane(
            i1 in any::<[u32; 5]>(), o1 in any::<[u32; 5]>(),
            i256 in any::<[u32; 8]>(), o256 in any::<[u32; 8]>(),
            counters in any::<[u64; 1]>(),
        ) {
            check(i1, o1, i256, o256, counters);
        }

        #[test]
        fn fused_matches_portable_two_lanes(
            i1 in any::<[u32; 5]>(), o1 in any::<[u32; 5]>(),
            i256 in any::<[u32; 8]>(), o256 in any::<[u32; 8]>(),
            counters in any::<[u64; 2]>(),
        ) {
            check(i1, o1, i256, o256, counters);
        }

        #[test]
        fn fused_matches_portable_three_lanes(
            i1 in any::<[u32; 5]>(), o1 in any::<[u32; 5]>(),
            i256 in any::<[u32; 8]>(), o256 in any::<[u32; 8]>(),
            counters in any::<[u64; 3]>(),
        ) {
            check(i1, o1, i256, o256, counters);
        }
    }
}
