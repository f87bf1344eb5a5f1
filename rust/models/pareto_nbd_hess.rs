#![allow(clippy::needless_range_loop)] // index loops read like the maths
//! Pareto/NBD's log-likelihood with its exact gradient and Hessian in the log-parameters,
//! so its fit takes Newton steps (`newton.rs`) and its standard errors come from the exact
//! Hessian. Why: the L-BFGS fit with a finite-difference Newton polish and a
//! finite-difference Hessian for the standard errors spent ~25 gradient passes over the
//! patterns (293k on a million customers' day-grained summaries); Newton from the same
//! start takes 3–5 passes, each carrying the Hessian.
//!
//! The terms and caches are those of `pareto_nbd::ll_sum` (the first term and ln F(T) once
//! per distinct (x, T), ln F(t_x) once per distinct (x, t_x), ln Γ(r+x) once per frequency),
//! evaluated on second-order jets (`jet.rs`) in (ln r, ln α, ln s, ln β). The series of
//! ln F is summed once with its derivatives in its three arguments (b, c, z) (see
//! [`ln_series`]) instead of on jets term by term; where the series is slow (α and β far
//! apart, as on the way to the β → ∞ boundary) a row goes through `pareto_nbd::log_odds`
//! and its quadrature on jets like any other `Real`.

use rayon::prelude::*;

use super::compress::Data;
use super::dual::Dual;
use super::dual::Real;
use super::jet::Jet;
use super::model::Likelihood;
use super::objective::sample_optimum;
use super::pareto_nbd::{self, log_odds, series_slow, ParetoNbd};

type J = Jet<4>;

/// Log-likelihood, gradient and Hessian in the log-parameters.
pub type Hess = (f64, Vec<f64>, Vec<Vec<f64>>);

/// ln Σ_k t_k with t_k = Π_{j<k} (b+j)/(c+j) · z^k (the series of `pareto_nbd::ln_series`,
/// same terms and stopping rule) with its gradient and Hessian in (b, c, z). Since
/// ∂ ln t_k/∂b = Σ_{j<k} 1/(b+j) =: A_k, ∂/∂c = −Σ_{j<k} 1/(c+j) =: −C_k and
/// ∂/∂z = k/z, the sums of t_k times those and their products give every derivative of
/// S = Σ t_k in the one loop over k.
pub fn ln_series(b: J, c: J, z: J) -> J {
    let (bv, cv, zv) = (b.v, c.v, z.v);
    if zv == 0.0 {
        // S = 1 + (b/c) z + b(b+1)/(c(c+1)) z² + …: only z's derivatives and its mixed ones
        // survive at z = 0.
        let q = bv / cv;
        let q2 = bv * (bv + 1.0) / (cv * (cv + 1.0));
        let h = [
            [0.0, 0.0, 1.0 / cv],
            [0.0, 0.0, -q / cv],
            [1.0 / cv, -q / cv, 2.0 * q2 - q * q],
        ];
        return Jet::compose([b, c, z], 0.0, [0.0, 0.0, q], h);
    }
    let (mut term, mut sum) = (1.0, 1.0);
    let (mut a1, mut a2, mut c1, mut c2) = (0.0, 0.0, 0.0, 0.0);
    // Σ t·A, Σ t·C, Σ t·k, Σ t(A² − A2), Σ t(C² + C2), Σ t·k(k−1), Σ t·A·C, Σ t·A·k, Σ t·C·k
    let mut s = [0.0; 9];
    let mut k = 0.0;
    loop {
        let (ib, ic) = (1.0 / (bv + k), 1.0 / (cv + k));
        term *= (bv + k) * ic * zv;
        sum += term;
        a1 += ib;
        a2 += ib * ib;
        c1 += ic;
        c2 += ic * ic;
        k += 1.0;
        s[0] += term * a1;
        s[1] += term * c1;
        s[2] += term * k;
        s[3] += term * (a1 * a1 - a2);
        s[4] += term * (c1 * c1 + c2);
        s[5] += term * k * (k - 1.0);
        s[6] += term * a1 * c1;
        s[7] += term * a1 * k;
        s[8] += term * c1 * k;
        if term <= 1e-17 * sum || k > 5.0e6 {
            break;
        }
    }
    let iz = 1.0 / zv;
    let g = [s[0] / sum, -s[1] / sum, s[2] * iz / sum];
    let hs = [
        [s[3], -s[6], s[7] * iz],
        [-s[6], s[4], -s[8] * iz],
        [s[7] * iz, -s[8] * iz, s[5] * iz * iz],
    ];
    let mut h = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            h[i][j] = hs[i][j] / sum - g[i] * g[j];
        }
    }
    Jet::compose([b, c, z], sum.ln(), g, h)
}

/// ln F(t) of `pareto_nbd::ln_f` on jets, through [`ln_series`].
pub fn ln_f(r: J, alpha: J, s: J, beta: J, x: f64, t: f64) -> J {
    let la = (alpha + t).ln();
    let lb = (beta + t).ln();
    let c = r + s + (x + 1.0);
    if alpha.v >= beta.v {
        let z = (alpha - beta) / (alpha + t);
        -(r + x) * la - s * lb + ln_series(r + x, c, z)
    } else {
        let z = (beta - alpha) / (beta + t);
        (-(r + x) + 1.0) * la - (s + 1.0) * lb + ln_series(s + 1.0, c, z)
    }
}

/// Rows per parallel chunk; the chunks are summed in order, so the result does not depend
/// on the thread scheduling.
const CHUNK: usize = 4096;

/// Pareto/NBD's log-likelihood of `d` with its gradient and Hessian in
/// θ = (ln r, ln α, ln s, ln β): the value of `pareto_nbd::ll_sum` (to rounding).
pub fn ll_hess_log(theta: &[f64], d: &Data) -> Hess {
    let p: [J; 4] = std::array::from_fn(|i| Jet::var(theta[i], i).exp());
    let [r, alpha, s, beta] = p;
    let (av, bv) = (alpha.v, beta.v);
    // Per frequency: ln Γ(r+x) − ln Γ(r) + r ln α + s ln β (the row's constant part) and
    // ln s − ln(r+s+x) (the series branch's prefactor of the second term).
    let base = r * alpha.ln() + s * beta.ln() - r.lgamma();
    let ln_s = s.ln();
    let per_x = |x: f64| -> (J, J) { (base + (r + x).lgamma(), ln_s - (r + s + x).ln()) };
    let xmax = d.max_x();
    let table: Option<Vec<(J, J)>> =
        (xmax <= 2 * d.len() + 1024).then(|| (0..=xmax).map(|x| per_x(x as f64)).collect());
    // ln F(t) only where its series is fast (elsewhere `log_odds` integrates and never
    // reads it: the series is slow at t_x whenever it is at T ≥ t_x).
    let ln_f_fast = |x: f64, t: f64| -> J {
        if series_slow(av, bv, t) {
            J::cst(f64::NAN)
        } else {
            ln_f(r, alpha, s, beta, x, t)
        }
    };
    let at_t = |x: f64, t: f64| -> (J, J) {
        let lfirst = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
        (lfirst, ln_f_fast(x, t))
    };
    let (xt_pairs, xtx_pairs) = (d.pairs_xt(), d.pairs_xtx());
    let pair_terms: Option<Vec<(J, J)>> = xt_pairs
        .as_ref()
        .map(|(u, _)| u.par_iter().map(|&(x, t)| at_t(x, t)).collect());
    let tx_terms: Option<Vec<J>> = xtx_pairs
        .as_ref()
        .map(|(u, _)| u.par_iter().map(|&(x, tx)| ln_f_fast(x, tx)).collect());
    let row = |i: usize| -> J {
        let (x, tx, t) = (d.x[i], d.tx[i], d.t[i]);
        let (lead, ln_q) = match &table {
            Some(tb) => tb[x as usize],
            None => per_x(x),
        };
        let (lfirst, f_t) = match (&pair_terms, xt_pairs) {
            (Some(v), Some((_, idx))) => v[idx[i] as usize],
            _ => at_t(x, t),
        };
        if tx >= t {
            return lead + lfirst;
        }
        let f_tx = || match (&tx_terms, xtx_pairs) {
            (Some(v), Some((_, idx))) => v[idx[i] as usize],
            _ => ln_f_fast(x, tx),
        };
        let odds = if series_slow(av, bv, tx) {
            log_odds(p, x, tx, t, lfirst, || f_t, f_tx)
        } else {
            // `log_odds`'s series branch, with ln s − ln(r+s+x) from the table
            let f_tx = f_tx();
            let diff = f_t - f_tx;
            (diff.v < 0.0).then(|| ln_q + f_tx - lfirst + (-(diff.exp_m1())).ln())
        };
        match odds {
            Some(dd) => lead + lfirst + dd.softplus(),
            None => lead + lfirst,
        }
    };
    let n = d.len();
    let parts: Vec<J> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut acc = J::cst(0.0);
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                acc += row(i) * d.w[i];
            }
            acc
        })
        .collect();
    let mut acc = J::cst(0.0);
    for part in parts {
        acc += part;
    }
    (
        acc.v,
        acc.g.to_vec(),
        acc.h.iter().map(|row| row.to_vec()).collect(),
    )
}

/// Customers from which the Newton fit starts from a subsample's optimum (below, L-BFGS from
/// the moments is cheap anyway), and the subsample: every `SUB_STEP`-th customer.
const SUB_MIN: f64 = 40_000.0;
const SUB_STEP: f64 = 8.0;

/// Near the optimum, cheaply: the L-BFGS optimum of a systematic sample of every 8th customer
/// (in the patterns' order, which sorts by frequency first: stratified by it; a pattern of w
/// customers keeps the multiples of 8 among its customers' ranks), within sampling error of
/// the full optimum, so the passes over all patterns are the Newton steps from there instead
/// of an L-BFGS walk of ~30 gradient passes. Every 8th *pattern* with its weight would not do:
/// the weights are very unequal (a few patterns hold most customers who never bought again),
/// and such a sample's optimum can be far off. Where Newton fails from there the fit falls
/// back to the L-BFGS path from the moments: the start never decides the optimum.
pub fn newton_start(m: &ParetoNbd, d: &Data, max_iter: usize) -> Option<Vec<f64>> {
    if d.total_weight() < SUB_MIN {
        return None;
    }
    let mut s = Data::default();
    let mut before = 0.0_f64;
    for i in 0..d.len() {
        let after = before + d.w[i];
        let w = (after / SUB_STEP).floor() - (before / SUB_STEP).floor();
        before = after;
        if w > 0.0 {
            s.x.push(d.x[i]);
            s.tx.push(d.tx[i]);
            s.t.push(d.t[i]);
            s.w.push(w);
        }
    }
    s.index_columns();
    Some(sample_optimum(m, &s, m.start_values(&s), max_iter))
}

impl Likelihood for ParetoNbd {
    type Grad = Dual<4>;
    fn kind(&self) -> &'static str {
        "pareto_nbd"
    }
    fn param_names(&self) -> &'static [&'static str] {
        &["r", "alpha", "s", "beta"]
    }
    fn ll_sum<R: Real>(&self, p: &[R], d: &Data) -> R {
        pareto_nbd::ll_sum([p[0], p[1], p[2], p[3]], d)
    }
    /// The exact Hessian (below): the fit takes Newton steps.
    fn ll_hess_log(&self, theta: &[f64], d: &Data) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        Some(ll_hess_log(theta, d))
    }
    fn newton_start(&self, d: &Data, max_iter: usize) -> Option<Vec<f64>> {
        newton_start(self, d, max_iter)
    }
    fn start_values(&self, d: &Data) -> Vec<f64> {
        let (mx, mt) = d.mean_x_t();
        vec![1.0, mt / mx, 1.0, mt]
    }
    fn boundary(&self, p: &[f64], d: &Data) -> Option<String> {
        pareto_nbd::boundary(p[2], p[3], d.t.iter().fold(0.0, |m, &t| m.max(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::dual::Dual;
    use crate::models::pareto_nbd::ll_sum;

    fn grad(th: &[f64], d: &Data) -> (f64, [f64; 4]) {
        let l = ll_sum(std::array::from_fn(|i| Dual::<4>::var(th[i], i).exp()), d);
        (l.v, l.d)
    }

    fn data(indexed: bool) -> Data {
        let (mut x, mut tx, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..300 {
            let xi = (i % 6) as f64;
            x.push(xi);
            tx.push(if xi == 0.0 {
                0.0
            } else {
                0.5 + (i % 31) as f64
            });
            t.push(32.0 + (i % 7) as f64);
        }
        // a row bought on its last day (t_x = T) and a large frequency
        x.extend([3.0, 60.0]);
        tx.extend([35.0, 20.0]);
        t.extend([35.0, 38.0]);
        if indexed {
            crate::models::compress::compress(&x, &tx, &t, None)
        } else {
            let w = vec![1.0; x.len()];
            Data {
                x,
                tx,
                t,
                w,
                ..Default::default()
            }
        }
    }

    #[test]
    fn value_gradient_and_hessian_match_the_dual_likelihood() {
        // α > β, α < β, α and β far apart (the quadrature branch) and CDNOW's optimum.
        for base in [
            [0.55, 10.6, 0.61, 11.7],
            [0.8, 9.0, 0.9, 3.0],
            [0.6, 0.2, 1.3, 500.0],
            [0.5, 8.0, 0.02, 3.0e7],
        ] {
            for d in [data(true), data(false)] {
                let th: Vec<f64> = base.iter().map(|v: &f64| v.ln()).collect();
                let (ll, g, h) = ll_hess_log(&th, &d);
                let (ll0, g0) = grad(&th, &d);
                assert!((ll - ll0).abs() < 1e-11 * ll0.abs(), "{base:?}: {ll} {ll0}");
                for j in 0..4 {
                    assert!(
                        (g[j] - g0[j]).abs() < 1e-8 * (1.0 + g0[j].abs()),
                        "{base:?} g{j}: {} {}",
                        g[j],
                        g0[j]
                    );
                    let e = 1e-5;
                    let bump = |s: f64| {
                        let mut q = th.clone();
                        q[j] += s;
                        grad(&q, &d).1
                    };
                    let (p, m) = (bump(e), bump(-e));
                    for k in 0..4 {
                        let fd = (p[k] - m[k]) / (2.0 * e);
                        assert!(
                            (h[j][k] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                            "{base:?} h{j}{k}: {} vs {fd}",
                            h[j][k]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn series_at_z_zero_continues_the_series_nearby() {
        let v =
            |b: f64, c: f64, z: f64| ln_series(Jet::var(b, 0), Jet::var(c, 1), Jet::<4>::var(z, 2));
        let (at0, near) = (v(1.7, 3.2, 0.0), v(1.7, 3.2, 1e-7));
        for i in 0..3 {
            assert!((at0.g[i] - near.g[i]).abs() < 1e-6, "g{i}");
            for j in 0..3 {
                assert!((at0.h[i][j] - near.h[i][j]).abs() < 1e-5, "h{i}{j}");
            }
        }
    }
}
