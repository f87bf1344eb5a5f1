#![allow(clippy::needless_range_loop)] // lane loops index several arrays at once
//! The per-row part of the BG/NBD and MBG/NBD log-likelihood and its derivatives, summed over
//! a run of rows with one frequency x (compressed patterns are sorted by x, so runs are long).
//! Why a kernel of its own: on poorly compressible data (continuous times, a pattern per
//! customer) these sums are the whole cost of a fit. Everything that depends on x only
//! (lgamma, digamma and trigamma terms, ln a − ln(b+x'−1)) is constant over a run, so a row
//! needs only ln(α+T), ln(α+t_x), one exponential and one ln(1+e), computed in blocks by loops
//! the compiler vectorises (`vmath`), with AVX2 where the CPU has it.
//!
//! With L_v = ln(α+v), I_v = 1/(α+v), dl = L_T − L_tx, di = I_T − I_tx, u = lr + (r+x)·dl,
//! σ = softplus'(u) and s1 = σ(1−σ), a run returns the weighted sums of
//!   [1, L_T, I_T, I_T², softplus(u), σ, σ·dl, σ·di, σ·di·(I_T+I_tx), s1, s1·dl, s1·di,
//!    s1·dl², s1·dl·di, s1·di²]
//! (the last eight only for the Hessian; the softplus terms only for rows that have them:
//! x > 0, or every row of MBG/NBD). `likelihood::ll_grad` and `hessian::ll_hess` combine them
//! with the per-x constants.

use rayon::prelude::*;

use crate::models::compress::{Data, Levels};
use crate::models::dual::Real;
use crate::models::vmath::{exp_nonpos, ln_pos};

/// Number of sums a run returns.
pub(super) const SUMS: usize = 15;
/// Rows per block (stack buffers of this many values per column).
const BLOCK: usize = 64;

/// What is constant over a run: r + x, lr = ln a − ln(b+x'−1), and whether the rows have the
/// softplus term.
#[derive(Clone, Copy)]
pub(super) struct Run {
    pub rx: f64,
    pub lr: f64,
    pub soft: bool,
}

/// A column's values per row, or through its levels: (ln(α+v), 1/(α+v)) per level and each
/// row's level.
#[derive(Clone, Copy)]
pub(super) enum Col<'a> {
    Rows(&'a [f64]),
    Levels(&'a [u32], &'a [(f64, f64)]),
}

/// Σ over the runs of equal x in `d` of `combine(constants, sums)`, where `consts(x)` gives a
/// run's `Run` and whatever `combine` needs of x. Fixed chunks of rows summed in order, so
/// the result does not depend on the threads.
pub(super) fn sum_runs<const HESS: bool, K, R>(
    d: &Data,
    alpha: f64,
    consts: impl Fn(f64) -> (Run, K) + Sync,
    combine: impl Fn(&K, &[f64; SUMS]) -> R + Sync,
) -> R
where
    R: Real + Send,
{
    const CHUNK: usize = 8192;
    let shifts = |lv: &Option<Levels>| -> Option<Vec<(f64, f64)>> {
        lv.as_ref().map(|l| {
            l.values
                .iter()
                .map(|&v| ((alpha + v).ln(), 1.0 / (alpha + v)))
                .collect()
        })
    };
    let (st, stx) = (shifts(&d.t_levels), shifts(&d.tx_levels));
    let (t, tx) = (col(&d.t, &d.t_levels, &st), col(&d.tx, &d.tx_levels, &stx));
    let chunk = |c: usize| -> R {
        let end = ((c + 1) * CHUNK).min(d.len());
        let mut acc = R::cst(0.0);
        let mut lo = c * CHUNK;
        while lo < end {
            let x = d.x[lo];
            let hi = lo + d.x[lo..end].iter().take_while(|&&v| v == x).count();
            let (run, k) = consts(x);
            acc += combine(&k, &run_sums::<HESS>(alpha, t, tx, &d.w, lo, hi, run));
            lo = hi;
        }
        acc
    };
    let n = d.len().div_ceil(CHUNK);
    if n <= 1 {
        return chunk(0);
    }
    let parts: Vec<R> = (0..n).into_par_iter().map(chunk).collect();
    let mut acc = R::cst(0.0);
    for p in parts {
        acc += p;
    }
    acc
}

fn col<'a>(v: &'a [f64], lv: &'a Option<Levels>, s: &'a Option<Vec<(f64, f64)>>) -> Col<'a> {
    match (lv, s) {
        (Some(l), Some(s)) => Col::Levels(&l.index, s),
        _ => Col::Rows(v),
    }
}

/// Weighted sums over rows `lo..hi` (see the module doc); `HESS` = false skips the eight
/// terms only the Hessian needs. `alpha` must be positive and α + v finite for every row.
pub(super) fn run_sums<const HESS: bool>(
    alpha: f64,
    t: Col<'_>,
    tx: Col<'_>,
    w: &[f64],
    lo: usize,
    hi: usize,
    run: Run,
) -> [f64; SUMS] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above); the body is safe Rust.
            return unsafe { sums_avx2::<HESS>(alpha, t, tx, w, lo, hi, run) };
        }
    }
    sums::<HESS>(alpha, t, tx, w, lo, hi, run)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sums_avx2<const HESS: bool>(
    alpha: f64,
    t: Col<'_>,
    tx: Col<'_>,
    w: &[f64],
    lo: usize,
    hi: usize,
    run: Run,
) -> [f64; SUMS] {
    sums::<HESS>(alpha, t, tx, w, lo, hi, run)
}

/// ln(α+v) and 1/(α+v) of rows `lo..lo+n` into the first n slots (n ≤ BLOCK).
#[inline(always)]
fn shift(alpha: f64, c: Col<'_>, lo: usize, n: usize, l: &mut [f64; BLOCK], i: &mut [f64; BLOCK]) {
    match c {
        Col::Rows(v) => {
            let v = &v[lo..lo + n];
            for j in 0..n {
                let a = alpha + v[j];
                // α + v overflowed: NaN, so that the fit sees a likelihood it cannot use
                // rather than ln_pos's finite answer for infinity.
                l[j] = if a < f64::INFINITY {
                    ln_pos(a)
                } else {
                    f64::NAN
                };
                i[j] = 1.0 / a;
            }
        }
        Col::Levels(index, vals) => {
            for j in 0..n {
                (l[j], i[j]) = vals[index[lo + j] as usize];
            }
        }
    }
}

#[inline(always)]
fn sums<const HESS: bool>(
    alpha: f64,
    t: Col<'_>,
    tx: Col<'_>,
    w: &[f64],
    lo: usize,
    hi: usize,
    run: Run,
) -> [f64; SUMS] {
    // Four lanes per sum: the rows' terms are added lane by lane (vector adds), the lanes
    // once at the end.
    let mut acc = [[0.0_f64; 4]; SUMS];
    let (mut lt, mut it) = ([0.0; BLOCK], [0.0; BLOCK]);
    let (mut ltx, mut itx) = ([0.0; BLOCK], [0.0; BLOCK]);
    let mut wb = [0.0; BLOCK];
    let mut start = lo;
    while start < hi {
        let n = (hi - start).min(BLOCK);
        // Pad to a multiple of the lanes with weight 0 and finite values.
        let n4 = n.div_ceil(4) * 4;
        wb[..n].copy_from_slice(&w[start..start + n]);
        shift(alpha, t, start, n, &mut lt, &mut it);
        for j in n..n4 {
            (wb[j], lt[j], it[j]) = (0.0, 0.0, 0.0);
        }
        for q in (0..n4).step_by(4) {
            for l in 0..4 {
                let (wj, a, b) = (wb[q + l], lt[q + l], it[q + l]);
                acc[0][l] += wj;
                acc[1][l] += wj * a;
                acc[2][l] += wj * b;
                if HESS {
                    acc[3][l] += wj * b * b;
                }
            }
        }
        if run.soft {
            shift(alpha, tx, start, n, &mut ltx, &mut itx);
            for j in n..n4 {
                (ltx[j], itx[j]) = (0.0, 0.0);
            }
            let (rx, lr) = (run.rx, run.lr);
            for q in (0..n4).step_by(4) {
                for l in 0..4 {
                    let j = q + l;
                    let wj = wb[j];
                    let dl = lt[j] - ltx[j];
                    let di = it[j] - itx[j];
                    let u = lr + rx * dl;
                    let e = exp_nonpos(-u.abs());
                    let q1 = 1.0 / (1.0 + e);
                    let sp = u.max(0.0) + ln_pos(1.0 + e);
                    let sig = if u > 0.0 { q1 } else { e * q1 };
                    acc[4][l] += wj * sp;
                    acc[5][l] += wj * sig;
                    acc[6][l] += wj * sig * dl;
                    acc[7][l] += wj * sig * di;
                    if HESS {
                        let s1 = e * q1 * q1;
                        acc[8][l] += wj * sig * di * (it[j] + itx[j]);
                        acc[9][l] += wj * s1;
                        acc[10][l] += wj * s1 * dl;
                        acc[11][l] += wj * s1 * di;
                        acc[12][l] += wj * s1 * dl * dl;
                        acc[13][l] += wj * s1 * dl * di;
                        acc[14][l] += wj * s1 * di * di;
                    }
                }
            }
        }
        start += n;
    }
    acc.map(|a| (a[0] + a[1]) + (a[2] + a[3]))
}
