//! Gamma-Gamma's log-likelihood with its gradient and Hessian in closed form, so its fit
//! takes Newton steps (`newton.rs`) and its standard errors come from the exact Hessian.
//!
//! Why: mean spend is continuous, so patterns (x, m) hardly compress (on 1M customers ~900k
//! repeat buyers are ~900k patterns), and the dual-number likelihood spends three ln Γ with
//! their derivatives per row and evaluation. Yet of
//!   ln L_i = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(v+mx)
//! only the last term couples the parameters to the row's m: the ln Γ terms depend on the
//! frequency x alone (a few hundred distinct values), and Σ w (px−1) ln m is p·Σ w x ln m −
//! Σ w ln m, two sums fixed by the data. So an evaluation is one ln and one division per
//! row, plus digamma/trigamma once per distinct frequency.

use rayon::prelude::*;

use super::compress::Data;
use super::special::{digamma, lgamma, trigamma};

/// Log-likelihood, gradient and Hessian in (p, q, v).
pub type Hess3 = (f64, [f64; 3], [[f64; 3]; 3]);

/// Per-row sums (with weight w, L = ln(v+mx), u = 1/(v+mx)):
/// [Σ w x L, Σ w L, Σ w x u, Σ w u, Σ w x u², Σ w u², Σ w x ln m, Σ w ln m].
const K: usize = 8;

fn row_sums(v: f64, d: &Data) -> [f64; K] {
    // fixed chunks combined in order: the same bits whatever the thread scheduling
    const CHUNK: usize = 8192;
    let n = d.len();
    let chunk = |c: usize| {
        let mut s = [0.0; K];
        for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
            let (x, m, w) = (d.x[i], d.tx[i], d.w[i]);
            let u = 1.0 / (v + m * x);
            let l = (v + m * x).ln();
            let lm = m.ln();
            let wu = w * u;
            s[0] += w * x * l;
            s[1] += w * l;
            s[2] += wu * x;
            s[3] += wu;
            s[4] += wu * u * x;
            s[5] += wu * u;
            s[6] += w * x * lm;
            s[7] += w * lm;
        }
        s
    };
    let parts: Vec<[f64; K]> = (0..n.div_ceil(CHUNK)).into_par_iter().map(chunk).collect();
    parts.iter().fold([0.0; K], |mut a, s| {
        a.iter_mut().zip(s).for_each(|(ai, si)| *ai += si);
        a
    })
}

/// (x, Σ w) per run of equal frequencies: once per distinct x on compressed data (sorted by
/// x); unsorted rows only make more runs, whose terms add up to the same sum.
fn by_frequency(d: &Data) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (&x, &w) in d.x.iter().zip(&d.w) {
        match out.last_mut() {
            Some((lx, lw)) if *lx == x => *lw += w,
            _ => out.push((x, w)),
        }
    }
    out
}

/// ln L of `d` (`x` frequency, `tx` mean spend, weights `w`) with its gradient and Hessian
/// at natural-scale (p, q, v).
pub fn ll_hess(par: [f64; 3], d: &Data) -> Hess3 {
    let [p, q, v] = par;
    let s = row_sums(v, d);
    // the terms of ln L_i read from the row sums
    let mut ll = p * s[6] - s[7] - p * s[0] - q * s[1];
    let mut g = [s[6] - s[0], -s[1], -(p * s[2] + q * s[3])];
    let mut h = [[0.0; 3]; 3];
    h[0][2] = -s[2];
    h[1][2] = -s[3];
    h[2][2] = p * s[4] + q * s[5];
    let (lg_q, dg_q, tg_q, ln_v) = (lgamma(q), digamma(q), trigamma(q), v.ln());
    for (x, w) in by_frequency(d) {
        let (px, ln_x) = (p * x, x.ln());
        let (a, b) = (px + q, px);
        ll += w * (lgamma(a) - lgamma(b) - lg_q + q * ln_v + px * ln_x);
        let (da, db) = (digamma(a), digamma(b));
        let (ta, tb) = (trigamma(a), trigamma(b));
        g[0] += w * x * (da - db + ln_x);
        g[1] += w * (da - dg_q + ln_v);
        g[2] += w * q / v;
        h[0][0] += w * x * x * (ta - tb);
        h[0][1] += w * x * ta;
        h[1][1] += w * (ta - tg_q);
        h[1][2] += w / v;
        h[2][2] -= w * q / (v * v);
    }
    h[1][0] = h[0][1];
    h[2][0] = h[0][2];
    h[2][1] = h[1][2];
    (ll, g, h)
}

/// `ll_hess` with gradient and Hessian in the log-parameters θ = ln(p, q, v):
/// ∂/∂θ_i = φ_i ∂/∂φ_i and ∂²/∂θ_i∂θ_j = φ_i φ_j ∂²/∂φ_i∂φ_j + [i = j] φ_i ∂/∂φ_i.
pub fn ll_hess_log(theta: &[f64], d: &Data) -> Hess3 {
    let phi = [theta[0].exp(), theta[1].exp(), theta[2].exp()];
    let (ll, g, h) = ll_hess(phi, d);
    let mut gl = [0.0; 3];
    let mut hl = [[0.0; 3]; 3];
    for i in 0..3 {
        gl[i] = phi[i] * g[i];
        for j in 0..3 {
            hl[i][j] = phi[i] * phi[j] * h[i][j];
        }
        hl[i][i] += gl[i];
    }
    (ll, gl, hl)
}

#[cfg(test)]
mod tests {
    use super::super::compress::compress;
    use super::super::dual::{Dual, Real};
    use super::super::gamma_gamma::{ll_sum, simulate_spend};
    use super::*;

    /// A simulated Gamma-Gamma population of repeat buyers, compressed as the fit does.
    fn data(n: usize) -> Data {
        let x: Vec<f64> = (0..n).map(|i| 1.0 + (i % 37) as f64).collect();
        let m = simulate_spend([6.0, 4.0, 15.0], &x, 3);
        compress(&x, &m, &x, None)
    }

    #[test]
    fn matches_the_dual_number_likelihood_and_gradient() {
        let d = data(30_000);
        for th in [[1.7, 1.4, 2.7], [0.1, 0.5, 1.0], [2.5, -0.3, 4.0]] {
            let (ll, g, _) = ll_hess_log(&th, &d);
            let p = th.map(f64::exp);
            let want = ll_sum(p, &d);
            assert!((ll - want).abs() < 1e-10 * want.abs(), "{ll} vs {want}");
            // dual numbers over ll_sum (what the fit used before) give the reference gradient
            let pd: [Dual<3>; 3] = std::array::from_fn(|i| Dual::<3>::var(th[i], i).exp());
            let gw = ll_sum(pd, &d).d;
            for (a, b) in g.iter().zip(&gw) {
                assert!((a - b).abs() < 1e-8 * (1.0 + b.abs()), "{g:?} vs {gw:?}");
            }
        }
    }

    #[test]
    fn hessian_matches_differences_of_the_gradient() {
        let d = data(5_000);
        let th = [1.6, 1.3, 2.6];
        let (_, _, h) = ll_hess_log(&th, &d);
        let eps = 1e-5;
        for j in 0..3 {
            let (mut up, mut dn) = (th, th);
            up[j] += eps;
            dn[j] -= eps;
            let (gu, gd) = (ll_hess_log(&up, &d).1, ll_hess_log(&dn, &d).1);
            for (i, (a, b)) in gu.iter().zip(&gd).enumerate() {
                let fd = (a - b) / (2.0 * eps);
                assert!(
                    (h[i][j] - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                    "H[{i}][{j}] = {} vs {fd}",
                    h[i][j]
                );
            }
        }
        for (i, row) in h.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert_eq!(*v, h[j][i]);
            }
        }
    }

    #[test]
    fn unsorted_rows_give_the_same_likelihood() {
        // a frequency split over several runs is summed run by run: same total
        let d = data(2_000);
        let mut order: Vec<usize> = (0..d.len()).rev().collect();
        order.swap(0, d.len() / 2);
        let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let r = Data {
            x: pick(&d.x),
            tx: pick(&d.tx),
            t: pick(&d.t),
            w: pick(&d.w),
            ..Default::default()
        };
        let (a, _, _) = ll_hess([6.0, 4.0, 15.0], &r);
        let b = ll_sum([6.0, 4.0, 15.0], &d);
        assert!((a - b).abs() < 1e-10 * b.abs(), "{a} vs {b}");
    }
}
