//! ln and exp written without branches or library calls, so that a loop over a column of
//! them compiles to vector instructions. Why: on poorly compressible data (a pattern per
//! customer) a BG/NBD fit spends its time in three logarithms and one exponential per row,
//! and glibc's `log`/`exp` are scalar calls the compiler cannot vectorise. These are the
//! FreeBSD/musl algorithms (error below 1 ulp), minus their special cases: the callers
//! guarantee arguments in the documented range.
//!
//! The polynomials use separate multiplies and adds, never fused ones (Rust does not
//! contract them), so results are the same bit for bit with or without AVX2.

/// ln(v) for a positive normal finite `v` (anything else gives a wrong finite number).
///
/// v = 2^k · m with m in [√2/2, √2); ln m = f − f²/2 + s(f²/2 + R(s²)), f = m − 1,
/// s = f/(2+f) (musl `log.c`).
#[inline(always)]
pub fn ln_pos(v: f64) -> f64 {
    const LG1: f64 = 6.666_666_666_666_735e-1;
    const LG2: f64 = 3.999_999_999_940_942e-1;
    const LG3: f64 = 2.857_142_874_366_239e-1;
    const LG4: f64 = 2.222_219_843_214_978_4e-1;
    const LG5: f64 = 1.818_357_216_161_805e-1;
    const LG6: f64 = 1.531_383_769_920_937_3e-1;
    const LG7: f64 = 1.479_819_860_511_658_6e-1;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // 2^52 + 2^31: the bits of a float whose low word is an integer (k + 2^31).
    const MAGIC: f64 = 4_503_601_774_854_144.0;
    let bits = v.to_bits();
    // Move the exponent boundary from 1 to √2, then read k and rebuild m from the top word.
    let hx = (bits >> 32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
    let k = (hx >> 20).wrapping_sub(0x3ff);
    let m = f64::from_bits((((hx & 0x000f_ffff) + 0x3fe6_a09e) << 32) | (bits & 0xffff_ffff));
    // k as a float without a 64-bit integer conversion (which AVX2 lacks).
    let dk = f64::from_bits(MAGIC.to_bits().wrapping_add(k)) - MAGIC;
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    s * (hfsq + (t1 + t2)) + dk * LN2_LO - hfsq + f + dk * LN2_HI
}

/// e^u for u ≤ 0; below −708 it returns e^−708 ≈ 3.3e-308 instead of a smaller number or 0
/// (callers add it to 1 or multiply it by bounded terms, where the difference is nil).
///
/// u = k ln 2 + r, |r| ≤ ln2/2; e^r = 1 − ((lo − r·c/(2 − c)) − hi) with c the remez
/// polynomial of fdlibm's `exp`; 2^k joins through the exponent bits.
#[inline(always)]
pub fn exp_nonpos(u: f64) -> f64 {
    const P1: f64 = 1.666_666_666_666_660_2e-1;
    const P2: f64 = -2.777_777_777_701_559_3e-3;
    const P3: f64 = 6.613_756_321_437_934e-5;
    const P4: f64 = -1.653_390_220_546_525_2e-6;
    const P5: f64 = 4.138_136_797_057_238_5e-8;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const INV_LN2: f64 = std::f64::consts::LOG2_E;
    // 1.5 · 2^52: adding it rounds to an integer, held in the low bits.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let u = u.max(-708.0);
    let t = u * INV_LN2 + SHIFT;
    let k = t.to_bits().wrapping_sub(SHIFT.to_bits());
    let kf = t - SHIFT;
    let hi = u - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * (P2 + rr * (P3 + rr * (P4 + rr * P5))));
    let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    f64::from_bits(y.to_bits().wrapping_add(k << 52))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        let ulp = f64::from_bits(b.abs().to_bits() + 1) - b.abs();
        (a - b).abs() / ulp
    }

    fn uniforms(n: usize) -> impl Iterator<Item = f64> {
        let mut s: u64 = 0x2545_F491_4F6C_DD1D;
        (0..n).map(move |_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
    }

    #[test]
    fn ln_within_one_ulp_of_std() {
        let mut worst: f64 = 0.0;
        for u in uniforms(400_000) {
            // every binade of the normal range, and [1, 2) densely (ln(1 + e^−|u|))
            let v = (u * 1400.0 - 700.0).exp();
            worst = worst.max(ulps(ln_pos(v), v.ln()));
            worst = worst.max(ulps(ln_pos(1.0 + u), (1.0 + u).ln()));
        }
        for v in [
            1.0,
            2.0,
            0.5,
            f64::MIN_POSITIVE,
            1e300,
            f64::MAX,
            30.0,
            1095.0,
        ] {
            worst = worst.max(ulps(ln_pos(v), v.ln()));
        }
        assert!(worst <= 1.0, "{worst}");
        assert_eq!(ln_pos(1.0), 0.0);
    }

    #[test]
    fn exp_within_one_ulp_of_std() {
        let mut worst: f64 = 0.0;
        for u in uniforms(400_000) {
            for v in [-u * 708.0, -u * 2.0] {
                worst = worst.max(ulps(exp_nonpos(v), v.exp()));
            }
        }
        assert!(worst <= 1.0, "{worst}");
        assert_eq!(exp_nonpos(0.0), 1.0);
        assert_eq!(exp_nonpos(-1e6), (-708.0f64).exp());
        assert_eq!(exp_nonpos(f64::NEG_INFINITY), (-708.0f64).exp());
    }
}
