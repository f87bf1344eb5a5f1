#![allow(clippy::needless_range_loop)] // index loops read like the maths
//! The Pareto/NBD covariate fit by Newton steps on the exact Hessian. Why: covariates that
//! are continuous leave a pattern per customer, so every evaluation is a pass over all rows;
//! L-BFGS with a finite-difference Newton polish and a finite-difference Hessian for the
//! standard errors took ~55 passes on 100k customers, Newton from the no-covariate optimum
//! takes 4–6 and its last Hessian gives the standard errors.
//!
//! Each row's log-parameters (ln r, ln α_i, ln s, ln β_i) are linear in the free parameters
//! (ln α_i = ln α0 − z_trans'γ_trans, ...), so with J the row's 4 × n map from free to row
//! parameters the row contributes Jᵀ∇ℓ and Jᵀ∇²ℓ J: only the row's 4 × 4 Hessian is needed.
//! It is derived by hand in `pareto_row.rs` (same likelihood as `pareto_nbd::ll_sum`);
//! Γ(r+x)/Γ(r) depends on the shared r only, so it is a table per frequency. Where the
//! series of ln F is slow (α and β far apart) the row goes through `pareto_nbd::log_odds`
//! and its quadrature on second-order jets (`jet.rs`, [`row_ll`]) like any other `Real`.
//!
//! Anything Newton is not sure of (a Hessian that is not positive definite on the way, no
//! convergence) falls back to the L-BFGS fit of `fit_cov`, so the optimum reached is the
//! same; only the number of passes changes.

use rayon::prelude::*;

use super::pareto_row;
use super::{fit_cov, fit_record_hessian, start_theta, CovData, CovKernels, Link, Spec};
use crate::models::compress::compress;
use crate::models::dual::Real;
use crate::models::fit::FitOut;
use crate::models::jet::Jet;
use crate::models::model::Likelihood;
use crate::models::newton::{minimize_newton, Eval};
use crate::models::objective::sample_optimum;
use crate::models::optim::{spd_inverse, OptResult};
use crate::models::pareto_nbd::{log_odds, ParetoNbd};
use crate::models::pareto_nbd_hess::ln_f;

type J = Jet<4>;

/// Pareto/NBD's links (as in `COV_MODELS`): α by the transaction covariates, β by the
/// lifetime ones, both as exp(−z'γ).
pub const LINKS: &[Link] = &[Link::Fixed, Link::Trans(-1), Link::Fixed, Link::Life(-1)];

/// A row's log-likelihood on jets in its log-parameters, without ln Γ(r+x) − ln Γ(r)
/// (`lg`, added by the caller from its table): the terms of `pareto_nbd::ll_sum`.
pub(super) fn row_ll(p: [J; 4], x: f64, tx: f64, t: f64) -> J {
    let [r, alpha, s, beta] = p;
    let base = r * alpha.ln() + s * beta.ln();
    let lfirst = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
    let ll = if tx >= t {
        lfirst
    } else {
        let odds = log_odds(
            p,
            x,
            tx,
            t,
            lfirst,
            || ln_f(r, alpha, s, beta, x, t),
            || ln_f(r, alpha, s, beta, x, tx),
        );
        match odds {
            Some(dd) => lfirst + dd.softplus(),
            None => lfirst,
        }
    };
    base + ll
}

/// Log-likelihood, gradient and Hessian in the free parameters `theta` (log base parameters,
/// then the coefficients); None where a row's parameters leave the domain.
pub fn ll_hess(spec: &Spec, theta: &[f64], d: &CovData) -> Option<Eval> {
    let n = theta.len();
    let r0 = Jet::var(theta[0], 0).exp();
    // ln Γ(r+x) − ln Γ(r) per frequency: r is shared by every row.
    let xmax = d.base.max_x();
    let lg_of = |x: f64| (r0 + x).lgamma() - r0.lgamma();
    let table: Option<Vec<J>> =
        (xmax <= 2 * d.len() + 1024).then(|| (0..=xmax).map(|x| lg_of(x as f64)).collect());
    const CHUNK: usize = 512;
    type Acc = (f64, Vec<f64>, Vec<Vec<f64>>);
    let parts: Vec<Option<Acc>> = (0..d.len().div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let (mut ll, mut g, mut h) = (0.0, vec![0.0; n], vec![vec![0.0; n]; n]);
            // How each coefficient moves the row's ln α_i and ln β_i (the rest of J, the map
            // from free to row parameters, is the identity on the base parameters).
            let mut uv = vec![[0.0; 2]; n];
            let mut tabs = pareto_row::Tables::new(r0.v, theta[2].exp());
            for i in c * CHUNK..((c + 1) * CHUNK).min(d.len()) {
                let (x, tx, t, w) = (d.base.x[i], d.base.tx[i], d.base.t[i], d.base.w[i]);
                uv.iter_mut().for_each(|v| *v = [0.0; 2]);
                let (mut et, mut el) = (0.0, 0.0);
                for (zj, &ci) in d.zt_row(i).iter().zip(&spec.tidx) {
                    et += zj * theta[4 + ci];
                    uv[4 + ci][0] -= zj;
                }
                for (zj, &ci) in d.zl_row(i).iter().zip(&spec.lidx) {
                    el += zj * theta[4 + ci];
                    uv[4 + ci][1] -= zj;
                }
                let th = [theta[0], theta[1] - et, theta[2], theta[3] - el];
                if th.iter().any(|v| !v.is_finite() || v.abs() > 40.0) {
                    return None;
                }
                let lg = match &table {
                    Some(tb) => tb[x as usize],
                    None => lg_of(x),
                };
                let pn = [r0.v, th[1].exp(), th[2].exp(), th[3].exp()];
                let row = match pareto_row::row(pn, x, tx, t, &mut tabs) {
                    Some(row) => row,
                    None => {
                        let p = [
                            r0,
                            Jet::var(th[1], 1).exp(),
                            Jet::var(th[2], 2).exp(),
                            Jet::var(th[3], 3).exp(),
                        ];
                        row_ll(p, x, tx, t)
                    }
                } + lg;
                ll += w * row.v;
                // Jᵀ∇ℓ and Jᵀ∇²ℓ J (upper triangle), J's zero entries skipped.
                for a in 0..4 {
                    g[a] += w * row.g[a];
                    for b in a..4 {
                        h[a][b] += w * row.h[a][b];
                    }
                }
                for b in 4..n {
                    let [ub, vb] = uv[b];
                    if ub == 0.0 && vb == 0.0 {
                        continue;
                    }
                    let hb: [f64; 4] = std::array::from_fn(|k| row.h[k][1] * ub + row.h[k][3] * vb);
                    g[b] += w * (row.g[1] * ub + row.g[3] * vb);
                    for a in 0..4 {
                        h[a][b] += w * hb[a];
                    }
                    for a in 4..=b {
                        h[a][b] += w * (uv[a][0] * hb[1] + uv[a][1] * hb[3]);
                    }
                }
            }
            Some((ll, g, h))
        })
        .collect();
    let (mut ll, mut g, mut h) = (0.0, vec![0.0; n], vec![vec![0.0; n]; n]);
    for part in parts {
        let (l, gi, hi) = part?;
        ll += l;
        g.iter_mut().zip(gi).for_each(|(a, b)| *a += b);
        for a in 0..n {
            for b in a..n {
                h[a][b] += hi[a][b];
            }
        }
    }
    for a in 0..n {
        for b in 0..a {
            h[a][b] = h[b][a];
        }
    }
    let finite = ll.is_finite() && g.iter().chain(h.iter().flatten()).all(|v| v.is_finite());
    finite.then_some((ll, g, h))
}

/// The penalised mean negative log-likelihood of `fit_cov`'s objective, with its gradient
/// and Hessian, and the log-likelihood itself.
fn objective(spec: &Spec, d: &CovData, wsum: f64, theta: &[f64]) -> Option<(Eval, f64)> {
    if theta[..4].iter().any(|t| !t.is_finite() || t.abs() > 30.0) {
        return None;
    }
    let (ll, g, h) = ll_hess(spec, theta, d)?;
    let mut f = -ll / wsum;
    let mut grad: Vec<f64> = g.iter().map(|v| -v / wsum).collect();
    let mut hess: Vec<Vec<f64>> = h
        .iter()
        .map(|row| row.iter().map(|v| -v / wsum).collect())
        .collect();
    for (c, lam) in spec.l2.iter().enumerate() {
        let b = theta[4 + c];
        f += lam * b * b;
        grad[4 + c] += 2.0 * lam * b;
        hess[4 + c][4 + c] += 2.0 * lam;
    }
    Some(((f, grad, hess), ll))
}

/// Convergence as `fit_cov`'s: max |∂ objective/∂θ| below 1e-9.
const GTOL: f64 = 1e-9;

/// The Newton fit, or None (the caller then runs `fit_cov`).
fn fit_newton(spec: &Spec, d: &CovData, th0: Vec<f64>, max_iter: usize) -> Option<FitOut> {
    let wsum = d.base.total_weight();
    let eval = |th: &[f64]| objective(spec, d, wsum, th).map(|(e, _)| e);
    let o = minimize_newton(eval, th0, GTOL, max_iter.min(50))?;
    let ll = -o.f * wsum + penalty(spec, &o.theta) * wsum;
    let res = OptResult {
        x: o.theta,
        f: o.f,
        grad: o.grad,
        iterations: o.steps,
        converged: true,
        message: "gradient below tolerance".into(),
        stopped: false,
    };
    let out = fit_record_hessian(&res, 4, wsum, ll, d.len(), Some(o.hess));
    // A Hessian that is not positive definite at the end: let the L-BFGS fit say so.
    out.se.is_some().then_some(out)
}

/// Rows from which Newton starts from the optimum of a subsample of every `WARM_STEP`-th row.
const WARM_MIN: usize = 4_000;
const WARM_STEP: usize = 8;

/// Where Newton starts without a given start: next to the optimum, cheaply. On few rows, the
/// no-covariate optimum (zero coefficients) by L-BFGS alone (no polish, no standard errors:
/// Newton refines it anyway). On more, the covariate optimum of a systematic subsample of
/// every 8th customer (itself started this way, so the levels shrink geometrically), which
/// lies within sampling error of the full optimum: the passes over all rows are then the 3–4
/// Newton steps from there. A subsample whose Newton fit fails, or ends where the Hessian is
/// not positive definite, passes the start it was given on: the start never decides the
/// optimum, only how many passes reach it.
fn warm_start(spec: &Spec, d: &CovData, max_iter: usize) -> Vec<f64> {
    if d.len() < WARM_MIN {
        return nocov_start(spec, d, max_iter);
    }
    let mut sub = CovData {
        kt: d.kt,
        kl: d.kl,
        ..Default::default()
    };
    // Every 8th customer, not every 8th pattern: a pattern of weight w holds w customers
    // and gets one subsample customer per multiple of 8 its cumulative weight crosses.
    // (Every 8th pattern with its whole weight left the few heavy patterns, such as the
    // customers without repeat purchases of one category, all in or all out.) Unit weights:
    // patterns 0, 8, 16, ...
    let step = WARM_STEP as f64;
    let mut cum = step - 1.0;
    for i in 0..d.len() {
        let before = (cum / step).floor();
        cum += d.base.w[i];
        let w = (cum / step).floor() - before;
        if w <= 0.0 {
            continue;
        }
        sub.base.x.push(d.base.x[i]);
        sub.base.tx.push(d.base.tx[i]);
        sub.base.t.push(d.base.t[i]);
        sub.base.w.push(w);
        sub.zt.extend_from_slice(d.zt_row(i));
        sub.zl.extend_from_slice(d.zl_row(i));
    }
    let th0 = warm_start(spec, &sub, max_iter);
    let wsum = sub.base.total_weight();
    let eval = |th: &[f64]| objective(spec, &sub, wsum, th).map(|(e, _)| e);
    // Loosely: the sampling error of the subsample's optimum is larger than this anyway.
    // A point where the gradient is small but the Hessian is not positive definite is a
    // saddle or a ridge, no start for Newton: then this level passes its own start on (a
    // cheap, rough one) rather than fitting the no-covariate model on its rows.
    match minimize_newton(eval, th0.clone(), 1e-5, max_iter.min(50)) {
        Some(o) if spd_inverse(&o.hess).is_some() => o.theta,
        _ => th0,
    }
}

/// The no-covariate optimum of `d` by L-BFGS (no polish, no standard errors), with zero
/// coefficients.
fn nocov_start(spec: &Spec, d: &CovData, max_iter: usize) -> Vec<f64> {
    let base = compress(&d.base.x, &d.base.tx, &d.base.t, Some(&d.base.w));
    let p = sample_optimum(&ParetoNbd, &base, ParetoNbd.start_values(&base), max_iter);
    let mut th: Vec<f64> = p.iter().map(|v| v.max(1e-8).ln()).collect();
    th.resize(4 + spec.n_coef, 0.0);
    th
}

fn penalty(spec: &Spec, theta: &[f64]) -> f64 {
    spec.l2
        .iter()
        .enumerate()
        .map(|(c, lam)| lam * theta[4 + c] * theta[4 + c])
        .sum()
}

/// Pareto/NBD with static covariates: Newton first, `fit_cov` when Newton is not sure.
pub struct CovPareto;

impl CovKernels for CovPareto {
    fn kind(&self) -> &'static str {
        "pareto_nbd"
    }
    fn links(&self) -> &'static [Link] {
        LINKS
    }
    fn fit(&self, spec: &Spec, d: &CovData, start: Option<Vec<f64>>, max_iter: usize) -> FitOut {
        let newton = |th0: Vec<f64>| fit_newton(spec, d, th0, max_iter);
        match &start {
            Some(_) => newton(start_theta(&ParetoNbd, 4, spec, d, start.clone(), max_iter)),
            // A subsample can sit on a ridge the full data do not have (β running away on few
            // customers); Newton from there may fail where it succeeds from the
            // no-covariate optimum, which is cheaper than the L-BFGS fit.
            None => newton(warm_start(spec, d, max_iter))
                .or_else(|| newton(nocov_start(spec, d, max_iter))),
        }
        .unwrap_or_else(|| fit_cov(&ParetoNbd, LINKS, spec, d, start, max_iter))
    }
    fn ll_grad(&self, spec: &Spec, params: &[f64], d: &CovData) -> (f64, Vec<f64>) {
        super::Cov(ParetoNbd, LINKS).ll_grad(spec, params, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::covariates::compress_cov;

    fn toy() -> (CovData, Spec) {
        let x = [0.0, 1.0, 3.0, 2.0, 0.0, 5.0, 4.0];
        let tx = [0.0, 10.0, 30.0, 12.0, 0.0, 35.0, 39.0];
        let t = [40.0, 38.0, 39.0, 20.0, 25.0, 40.0, 39.0];
        let zt = [0.5, -1.0, 1.5, 0.0, 2.0, -0.3, 0.7];
        let zl = [
            1.0, 0.0, 1.0, 1.0, 0.0, 1.0, -0.5, 0.2, 0.1, 0.0, 1.0, 1.0, 0.3, 0.4,
        ];
        let d = compress_cov(&x, &tx, &t, None, &zt, 1, &zl, 2);
        // The transaction covariate shares its coefficient with the first lifetime one.
        let spec = Spec {
            tidx: vec![0],
            lidx: vec![0, 1],
            n_coef: 2,
            l2: vec![0.0; 2],
        };
        (d, spec)
    }

    /// Gradient of `fit_cov`'s likelihood (dual numbers over `ll_sum`) at free `theta`.
    fn grad(spec: &Spec, theta: &[f64], d: &CovData) -> (f64, Vec<f64>) {
        crate::models::covariates::ll_grad(&ParetoNbd, LINKS, spec, theta, d)
    }

    #[test]
    fn value_gradient_and_hessian_match_the_dual_likelihood() {
        let (d, spec) = toy();
        // α < β, α > β, and α, β far apart (the quadrature branch).
        for base in [
            [0.8, 6.0, 0.9, 9.0],
            [0.8, 9.0, 0.9, 3.0],
            [0.6, 0.2, 1.3, 500.0],
        ] {
            let mut th: Vec<f64> = base.iter().map(|v: &f64| v.ln()).collect();
            th.extend([0.3, -0.4]);
            let (ll, g, h) = ll_hess(&spec, &th, &d).unwrap();
            let (ll0, g0) = grad(&spec, &th, &d);
            assert!((ll - ll0).abs() < 1e-10 * ll0.abs(), "{ll} {ll0}");
            for j in 0..th.len() {
                assert!((g[j] - g0[j]).abs() < 1e-8 * (1.0 + g0[j].abs()), "g{j}");
                let e = 1e-5;
                let bump = |s: f64| {
                    let mut q = th.clone();
                    q[j] += s;
                    grad(&spec, &q, &d).1
                };
                let (p, m) = (bump(e), bump(-e));
                for k in 0..th.len() {
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

    #[test]
    fn newton_reaches_the_lbfgs_optimum() {
        let (d, spec) = toy();
        let start = Some(vec![0.8, 6.0, 0.9, 9.0, 0.0, 0.0]);
        let th0 = start_theta(&ParetoNbd, 4, &spec, &d, start.clone(), 200);
        let nw = fit_newton(&spec, &d, th0, 200);
        let lb = fit_cov(&ParetoNbd, LINKS, &spec, &d, start, 200);
        if let Some(nw) = nw {
            assert!((nw.ll - lb.ll).abs() < 1e-8 * lb.ll.abs());
            for (a, b) in nw.params.iter().zip(&lb.params) {
                assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} {b}");
            }
        }
    }
}
