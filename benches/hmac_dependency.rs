//! The experiment behind BENCHMARKS.md, "Why generate stays above 1.15x": one HMAC-SHA-1
//! value on the SHA extensions next to variants that differ only in what the outer
//! block's message depends on, and the `limit/sha1_x2` chain, all in one run.
//!
//! - `hmac`: the real computation (the inner block from the counter, the outer block from
//!   the inner digest), as `src/hwsha.rs` does it for one lane.
//! - `outer_schedule_constant`: the outer rounds still take the inner digest as words 0..5,
//!   but words 16..80 are expanded from a constant block, as if the schedule did not depend
//!   on the digest. Wrong MACs, on purpose.
//! - `outer_block_constant`: the outer message is constant and the dependency on the inner
//!   hash goes through the chaining value only, the shape of `limit/sha1_x2`. Wrong MACs.
//!
//! `cargo bench --bench hmac_dependency`; `python3 benches/report.py` prints the ratios.
//! Without SHA-NI (or off x86-64) the group is skipped.

// SHA-NI intrinsics, called only after a run-time CPU check.
#![allow(unsafe_code)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

#[cfg(target_arch = "x86_64")]
mod shani {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_set_epi32,
        _mm_setzero_si128, _mm_sha1msg1_epu32, _mm_sha1msg2_epu32, _mm_sha1nexte_epu32,
        _mm_sha1rnds4_epu32, _mm_shuffle_epi32, _mm_xor_si128,
    };

    /// What the outer compression's message is made of.
    #[derive(Clone, Copy)]
    pub enum Outer {
        Digest,
        ScheduleConstant,
        BlockConstant,
    }

    /// Four rounds: `dst = rnds4(src, nexte(dst, w))`.
    macro_rules! rounds4 {
        ($src:ident, $dst:ident, $w:expr, $f:literal) => {
            $dst = _mm_sha1rnds4_epu32($src, _mm_sha1nexte_epu32($dst, $w), $f);
        };
    }

    /// The next four schedule words into `$w4`.
    macro_rules! schedule {
        ($w0:ident, $w1:ident, $w2:ident, $w3:ident, $w4:ident) => {
            $w4 = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32($w0, $w1), $w2), $w3);
        };
    }

    /// One SHA-1 compression from (`abcd`, `e`): rounds 0..16 take `msg`, and the schedule
    /// of rounds 16..80 is expanded from `expand`. Written out in full, as in
    /// `src/hwsha.rs`, so that every word stays in a register.
    macro_rules! compress {
        ($abcd:expr, $e:expr, $msg:expr, $expand:expr) => {{
            let (abcd, e): (__m128i, __m128i) = ($abcd, $e);
            let [m0, m1, m2, m3]: [__m128i; 4] = $msg;
            let mut h0 = abcd;
            let mut h1 = _mm_sha1rnds4_epu32(h0, _mm_add_epi32(e, m0), 0);
            rounds4!(h1, h0, m1, 0);
            rounds4!(h0, h1, m2, 0);
            rounds4!(h1, h0, m3, 0);
            let [mut w0, mut w1, mut w2, mut w3]: [__m128i; 4] = $expand;
            let mut w4;
            schedule!(w0, w1, w2, w3, w4);
            rounds4!(h0, h1, w4, 0);
            schedule!(w1, w2, w3, w4, w0);
            rounds4!(h1, h0, w0, 1);
            schedule!(w2, w3, w4, w0, w1);
            rounds4!(h0, h1, w1, 1);
            schedule!(w3, w4, w0, w1, w2);
            rounds4!(h1, h0, w2, 1);
            schedule!(w4, w0, w1, w2, w3);
            rounds4!(h0, h1, w3, 1);
            schedule!(w0, w1, w2, w3, w4);
            rounds4!(h1, h0, w4, 1);
            schedule!(w1, w2, w3, w4, w0);
            rounds4!(h0, h1, w0, 2);
            schedule!(w2, w3, w4, w0, w1);
            rounds4!(h1, h0, w1, 2);
            schedule!(w3, w4, w0, w1, w2);
            rounds4!(h0, h1, w2, 2);
            schedule!(w4, w0, w1, w2, w3);
            rounds4!(h1, h0, w3, 2);
            schedule!(w0, w1, w2, w3, w4);
            rounds4!(h0, h1, w4, 2);
            schedule!(w1, w2, w3, w4, w0);
            rounds4!(h1, h0, w0, 3);
            schedule!(w2, w3, w4, w0, w1);
            rounds4!(h0, h1, w1, 3);
            schedule!(w3, w4, w0, w1, w2);
            rounds4!(h1, h0, w2, 3);
            schedule!(w4, w0, w1, w2, w3);
            rounds4!(h0, h1, w3, 3);
            schedule!(w0, w1, w2, w3, w4);
            rounds4!(h1, h0, w4, 3);
            (_mm_add_epi32(abcd, h0), _mm_sha1nexte_epu32(h1, e))
        }};
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(state: &[u32; 5]) -> (__m128i, __m128i) {
        // SAFETY: `state` is 20 readable bytes; this reads the first 16, unaligned.
        let dcba = unsafe { _mm_loadu_si128(state.as_ptr().cast()) };
        let e = i32::from_ne_bytes(state[4].to_ne_bytes());
        (_mm_shuffle_epi32(dcba, 0x1B), _mm_set_epi32(e, 0, 0, 0))
    }

    /// One HMAC-SHA-1 value of `counter` from absorbed pads; returns its fourth word.
    ///
    /// # Safety
    /// The CPU supports SHA, SSE2, SSSE3 and SSE4.1.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub unsafe fn hmac(inner: &[u32; 5], outer: &[u32; 5], counter: u64, kind: Outer) -> u32 {
        let zero = _mm_setzero_si128();
        let [h0, h1, h2, h3, l0, l1, l2, l3] = counter.to_be_bytes();
        let hi = i32::from_be_bytes([h0, h1, h2, h3]);
        let lo = i32::from_be_bytes([l0, l1, l2, l3]);
        let inner_msg = [
            _mm_set_epi32(hi, lo, i32::MIN, 0),
            zero,
            zero,
            _mm_set_epi32(0, 0, 0, (64 + 8) * 8),
        ];
        let (abcd, e) = load(inner);
        let (dabcd, de) = compress!(abcd, e, inner_msg, inner_msg);

        let pad = _mm_set_epi32(0, i32::MIN, 0, 0);
        let len = _mm_set_epi32(0, 0, 0, (64 + 20) * 8);
        let digest_msg = [dabcd, _mm_xor_si128(de, pad), zero, len];
        let constant_msg = [_mm_set_epi32(1, 2, 3, 4), pad, zero, len];
        let (abcd, e) = load(outer);
        let (mac, _) = match kind {
            Outer::Digest => compress!(abcd, e, digest_msg, digest_msg),
            Outer::ScheduleConstant => compress!(abcd, e, digest_msg, constant_msg),
            Outer::BlockConstant => {
                compress!(_mm_xor_si128(abcd, dabcd), e, constant_msg, constant_msg)
            }
        };
        u32::from_ne_bytes(_mm_cvtsi128_si32(mac).to_ne_bytes())
    }
}

#[cfg(target_arch = "x86_64")]
fn dependency(c: &mut Criterion) {
    use shani::Outer;
    use std::hint::black_box;

    let shani = std::arch::is_x86_feature_detected!("sha")
        && std::arch::is_x86_feature_detected!("ssse3")
        && std::arch::is_x86_feature_detected!("sse4.1");
    if !shani {
        eprintln!("hmac_dependency: no SHA extensions on this CPU, nothing to measure");
        return;
    }
    const IV: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let inner = [
        0x1234_5678,
        0x9abc_def0,
        0x0fed_cba9,
        0x8765_4321,
        0x5555_aaaa,
    ];
    let outer = [
        0x2234_5678,
        0xaabc_def0,
        0x1fed_cba9,
        0x9765_4321,
        0x6555_aaaa,
    ];
    let counter = 56_666_666u64;
    // The real variant must be HMAC: check it against the crate's compression function.
    let reference = {
        let mut block = [0u8; 64];
        block[..8].copy_from_slice(&counter.to_be_bytes());
        block[8] = 0x80;
        block[62..].copy_from_slice(&((64u16 + 8) * 8).to_be_bytes());
        let mut digest = inner;
        sha1::block_api::compress(&mut digest, core::slice::from_ref(&block));
        let mut block = [0u8; 64];
        for (chunk, word) in block.chunks_exact_mut(4).zip(digest) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        block[20] = 0x80;
        block[62..].copy_from_slice(&((64u16 + 20) * 8).to_be_bytes());
        let mut mac = outer;
        sha1::block_api::compress(&mut mac, core::slice::from_ref(&block));
        mac[3]
    };
    // SAFETY: the SHA extensions were detected above.
    assert_eq!(
        unsafe { shani::hmac(&inner, &outer, counter, Outer::Digest) },
        reference
    );

    let mut g = c.benchmark_group("dependency");
    g.bench_function("limit_sha1_x2", |b| {
        let block = [0x36u8; 64];
        b.iter(|| {
            let mut state = black_box(IV);
            for _ in 0..2 {
                sha1::block_api::compress(&mut state, core::slice::from_ref(black_box(&block)));
            }
            state
        })
    });
    for (name, kind) in [
        ("hmac", Outer::Digest),
        ("outer_schedule_constant", Outer::ScheduleConstant),
        ("outer_block_constant", Outer::BlockConstant),
    ] {
        g.bench_function(name, |b| {
            // SAFETY: the SHA extensions were detected above.
            b.iter(|| unsafe {
                shani::hmac(
                    black_box(&inner),
                    black_box(&outer),
                    black_box(counter),
                    kind,
                )
            })
        });
    }
    g.finish();
}

#[cfg(not(target_arch = "x86_64"))]
fn dependency(_: &mut Criterion) {
    eprintln!("hmac_dependency: measures the x86-64 SHA extensions only");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = dependency
}
criterion_main!(benches);
