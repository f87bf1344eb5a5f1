#![allow(clippy::needless_range_loop)] // index loops read like the maths
//! Second derivatives of the BG/NBD and MBG/NBD log-likelihood, for the Newton fit
//! (`models::newton`). Why a file of its own: only the fit's Newton steps and its standard
//! errors need them, and with them a fit on a million distinct patterns takes 3–5 passes over
//! the rows instead of the ~35 of L-BFGS plus a finite-difference Hessian.
//!
//! With u = lr(x) + (r+x)(L_T − L_tx), L_v = ln(α+v), I_v = 1/(α+v), σ = softplus'(u),
//! σ' = σ(1−σ), lr = ln a − ln(b+x'−1) (x' = x for BG/NBD, x+1 for MBG/NBD) and the
//! gradient of `likelihood::ll_grad` (u_r = L_T − L_tx, u_α = (r+x)(I_T − I_tx),
//! u_a = 1/a, u_b = −1/(b+x'−1)), a row contributes
//!   H = C(x) + T(r, α) + σ' ∇u ∇uᵀ + σ ∇²u
//! where C(x) holds trigamma differences (rr: ψ'(r+x) − ψ'(r); aa = ab: ψ'(a+b) − ψ'(a+b+x');
//! bb: ψ'(b+x') − ψ'(a+b+x') − ψ'(b) + ψ'(a+b)), T the terms of r ln α − (r+x) L_T
//! (rα: 1/α − I_T; αα: −r/α² + (r+x) I_T²) and ∇²u has u_rα = I_T − I_tx,
//! u_αα = −(r+x)(I_T² − I_tx²), u_aa = −1/a², u_bb = 1/(b+x'−1)², zero elsewhere.

use super::rows::{sum_runs, Run, SUMS};
use super::Variant;
use crate::models::compress::Data;
use crate::models::dual::Dual;
use crate::models::special::{digamma, lbeta, lgamma, trigamma};

/// Weighted log-likelihood sum, its gradient and its Hessian with respect to
/// (ln r, ln α, ln a, ln b). Value and gradient equal `ll_grad`'s up to rounding.
pub fn ll_hess(p: [f64; 4], d: &Data, v: Variant) -> (f64, [f64; 4], [[f64; 4]; 4]) {
    let [r, alpha, a, b] = p;
    let mbg = v == Variant::Mbg;
    let base = r * alpha.ln() - lgamma(r) - lbeta(a, b);
    let (psi_r, psi_ab, psi_b) = (digamma(r), digamma(a + b), digamma(b));
    let (tri_r, tri_ab, tri_b) = (trigamma(r), trigamma(a + b), trigamma(b));
    let (ln_a, inv_a) = (a.ln(), 1.0 / a);
    // Per run of one x: [c, c_r, c_a, c_b, c_rr, c_aa (= c_ab), c_bb, lr_b, r+x].
    let consts = |xf: f64| -> (Run, [f64; 9]) {
        let xp = if mbg { xf + 1.0 } else { xf };
        let (psi_abx, tri_abx) = (digamma(a + b + xp), trigamma(a + b + xp));
        let soft = mbg || xf > 0.0;
        let bb = b + (xp - 1.0);
        let (lr, lrb) = if soft {
            (ln_a - bb.ln(), -1.0 / bb)
        } else {
            (0.0, 0.0)
        };
        let k = [
            lgamma(r + xf) + lbeta(a, b + xp) + base,
            digamma(r + xf) - psi_r + alpha.ln(),
            psi_ab - psi_abx,
            digamma(b + xp) - psi_abx - psi_b + psi_ab,
            trigamma(r + xf) - tri_r,
            tri_ab - tri_abx,
            trigamma(b + xp) - tri_abx - tri_b + tri_ab,
            lrb,
            r + xf,
        ];
        (
            Run {
                rx: r + xf,
                lr,
                soft,
            },
            k,
        )
    };
    // d[0..4]: gradient; d[4..14]: Hessian rr, rα, ra, rb, αα, αa, αb, aa, ab, bb (natural
    // parameters, without the r ln α terms, added once below). The sums `s` are those of
    // `rows` (their order is in its module doc).
    let combine = |k: &[f64; 9], s: &[f64; SUMS]| -> Dual<14> {
        let [c, cr, ca, cb, crr, cab, cbb, lrb, rx] = *k;
        let [w, lt, it, it2, sp, sig, sig_dl, sig_di, sig_di_sum, s1, s1_dl, s1_di, s1_dl2, s1_dl_di, s1_di2] =
            *s;
        Dual {
            v: w * c - rx * lt + sp,
            d: [
                w * cr - lt + sig_dl,
                rx * (sig_di - it),
                w * ca + inv_a * sig,
                w * cb + lrb * sig,
                w * crr + s1_dl2,
                rx * s1_dl_di + sig_di - it,
                inv_a * s1_dl,
                lrb * s1_dl,
                rx * it2 + rx * rx * s1_di2 - rx * sig_di_sum,
                rx * inv_a * s1_di,
                rx * lrb * s1_di,
                w * cab + inv_a * inv_a * (s1 - sig),
                w * cab + inv_a * lrb * s1,
                w * cbb + lrb * lrb * (s1 + sig),
            ],
        }
    };
    let acc: Dual<14> = sum_runs::<true, _, _>(d, alpha, consts, combine);
    let wsum = d.total_weight();
    let gn = [acc.d[0], acc.d[1] + r / alpha * wsum, acc.d[2], acc.d[3]];
    let mut hn = [[0.0; 4]; 4];
    let mut k = 4;
    for i in 0..4 {
        for j in i..4 {
            hn[i][j] = acc.d[k];
            hn[j][i] = acc.d[k];
            k += 1;
        }
    }
    hn[0][1] += wsum / alpha;
    hn[1][0] += wsum / alpha;
    hn[1][1] -= wsum * r / (alpha * alpha);
    // θ = ln p: ∂/∂θ_i = p_i ∂/∂p_i, ∂²/∂θ_i∂θ_j = p_i p_j ∂²/∂p_i∂p_j + δ_ij p_i ∂/∂p_i.
    let g = std::array::from_fn(|i| p[i] * gn[i]);
    let h = std::array::from_fn(|i| {
        std::array::from_fn(|j| p[i] * p[j] * hn[i][j] + if i == j { g[i] } else { 0.0 })
    });
    (acc.v, g, h)
}

#[cfg(test)]
mod tests {
    use super::super::likelihood::ll_grad;
    use super::*;

    #[test]
    fn hessian_matches_differences_of_the_gradient() {
        let raw = Data {
            x: vec![0.0, 2.0, 7.0, 1.0, 40.0, 3.0],
            tx: vec![0.0, 30.43, 35.0, 1.0, 37.5, 0.25],
            t: vec![38.86, 38.86, 38.0, 20.0, 38.0, 100.0],
            w: vec![3.0, 1.0, 2.0, 1.0, 0.5, 1.0],
            ..Default::default()
        };
        let n = 5000;
        let xs: Vec<f64> = (0..n).map(|i| (i % 13) as f64).collect();
        let ts: Vec<f64> = (0..n).map(|i| 30.0 + (i % 7) as f64).collect();
        let txs: Vec<f64> = (0..n)
            .map(|i| if xs[i] == 0.0 { 0.0 } else { (i % 29) as f64 })
            .collect();
        let packed = crate::models::compress::compress(&xs, &txs, &ts, None);
        assert!(packed.t_levels.is_some());
        let params = [
            [0.243, 4.414, 0.793, 2.426],
            [1.7, 0.3, 3.5, 0.2],
            [0.05, 80.0, 0.01, 40.0],
        ];
        for d in [&raw, &packed] {
            for v in [Variant::Bg, Variant::Mbg] {
                for p in params {
                    let (f, g, h) = ll_hess(p, d, v);
                    let (f0, g0) = ll_grad(p, d, v);
                    assert!((f - f0).abs() <= 1e-12 * f0.abs(), "{v:?} {p:?}");
                    for i in 0..4 {
                        assert!((g[i] - g0[i]).abs() <= 1e-10 * (1.0 + g0[i].abs()));
                    }
                    let th = p.map(f64::ln);
                    for j in 0..4 {
                        let eps = 1e-5;
                        let mut tp = th;
                        let mut tm = th;
                        tp[j] += eps;
                        tm[j] -= eps;
                        let gp = ll_grad(tp.map(f64::exp), d, v).1;
                        let gm = ll_grad(tm.map(f64::exp), d, v).1;
                        for i in 0..4 {
                            let fd = (gp[i] - gm[i]) / (2.0 * eps);
                            let scale = 1.0 + fd.abs() + g0[i].abs();
                            assert!(
                                (h[i][j] - fd).abs() <= 1e-6 * scale,
                                "{v:?} {p:?} H[{i}][{j}] = {} vs {fd}",
                                h[i][j]
                            );
                        }
                    }
                }
            }
        }
    }
}
