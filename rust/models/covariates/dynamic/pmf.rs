//! P(X = n): the probability of n purchases over each customer's future window (T, T + t]
//! under the time-varying covariates of that window.
//!
//! Given the history, a customer alive at T has λ ~ Gamma(r + x, α + A(T)) and
//! μ ~ Gamma(s, β + B(T)) =: (r', α'), (s, β'). With A_f(u), B_f(u) the integrals of a and b
//! over (T, T + u], the purchases until a dropout at T + u are Poisson(λ A_f(u)); integrating
//! λ gives the negative binomial NB(n; r', α'/(α' + A_f(u))), and integrating μ over the
//! dropout time:
//!
//!   P(X = n | alive) = NB(n; A_f(t)) (β'/(β'+B_f(t)))^s
//!                      + ∫_0^t b(u) s/β' (β'/(β'+B_f(u)))^(s+1) NB(n; A_f(u)) du,
//!
//!   P(X = n) = P(alive) · P(X = n | alive) + (1 − P(alive)) · [n = 0].
//!
//! The integral is Gauss–Legendre quadrature on each future piece, as the likelihood's.

use rayon::prelude::*;

use super::super::super::special::lgamma;
use super::{customer, dot, quad, to_free, DynData};

/// Per customer P(X = n) over the future pieces `future` (laid out as in `predict`).
pub fn pmf(params: &[f64], d: &DynData, future: &DynData, n: usize) -> Vec<f64> {
    let th = to_free(params);
    let (kt, kl) = (d.kt, d.kl);
    let (r, s) = (params[0], params[2]);
    let (gt, gl) = (&th[4..4 + kt], &th[4 + kt..4 + kt + kl]);
    let k = n as f64;
    (0..d.len())
        .into_par_iter()
        .map(|i| {
            let (_, pa, w) = customer(&th, d, i, None);
            let rp = r + d.x[i];
            let (ap, bp) = (params[1] + w.a, params[3] + w.b);
            let c = lgamma(rp + k) - lgamma(rp) - lgamma(k + 1.0);
            // ln NB(n; r', α'/(α'+A))
            let lnb = |a: f64| {
                let t = ap + a;
                let tail = if n > 0 { k * (a / t).ln() } else { 0.0 };
                c + rp * (ap / t).ln() + tail
            };
            let (mut af, mut bf, mut int) = (0.0, 0.0, 0.0);
            for p in future.off[i]..future.off[i + 1] {
                let ztk = &future.zt[p * kt..(p + 1) * kt];
                let zlk = &future.zl[p * kl..(p + 1) * kl];
                let (ak, bk) = (dot(gt, ztk).exp(), dot(gl, zlk).exp());
                if !(ak.is_finite() && bk.is_finite()) {
                    return f64::NAN;
                }
                let (a0, b0) = (af, bf);
                // short against the distance to the singularities of (α'+A)^-(r'+n) and
                // (β'+B)^-(s+1), and, graded, against A's zero (the factor A^n)
                let reach = |u: f64| {
                    let ra = (ap + a0 + ak * u) / (ak * (1.0 + (rp + k) / 3.0));
                    let rb = (bp + b0 + bk * u) / (bk * (1.0 + (s + 1.0) / 3.0));
                    let main = ra.min(rb);
                    let r0 = (a0 + ak * u) / (ak * (k / 3.0).max(1.0));
                    main.min(r0.max(main / 32.0))
                };
                quad(future.dur[p], reach, |u, wq| {
                    let (a, b) = (a0 + ak * u, b0 + bk * u);
                    int += wq * bk * s / bp * ((s + 1.0) * (bp / (bp + b)).ln() + lnb(a)).exp();
                });
                af += ak * future.dur[p];
                bf += bk * future.dur[p];
            }
            let alive = (s * (bp / (bp + bf)).ln() + lnb(af)).exp() + int;
            pa * alive + if n == 0 { 1.0 - pa } else { 0.0 }
        })
        .collect()
}
