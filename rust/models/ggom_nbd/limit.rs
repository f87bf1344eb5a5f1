//! GGom/NBD's fit at its Pareto/NBD limit. As b → 0 with β/b = β_P fixed the model is
//! Pareto/NBD with (r, α, s, β_P), and on data without ageing (CDNOW, most simulated BTYD
//! data) the likelihood keeps rising along that ridge: the maximum is the limit itself.
//!
//! Why a fit of its own: in the log-parameters the ridge is a valley whose floor falls like b,
//! so L-BFGS walks ln b down about one unit per iteration until the gradient, b times the
//! slope, drops below the tolerance (b ≈ 1e-9): ~60 likelihood evaluations, then dozens more
//! at the rounding floor of the objective. In (r, α, b, s, β_P) with b itself the likelihood
//! is smooth through b = 0 (`likelihood::ll_sum_ridge`), so the limit is an ordinary bound
//! b >= 0: fit the four other parameters at b = 0 (a well-conditioned Pareto/NBD problem),
//! then check the sign of ∂ln L/∂b there. Falling as b leaves 0 means the bound holds the
//! maximum (the first-order condition of the constrained problem) and the fit reports the
//! limit; rising means an interior optimum, and the usual fit runs instead.

use super::likelihood::ll_sum_ridge;
use super::ll_sum;
use crate::models::compress::Data;
use crate::models::dual::{Dual, Real};
use crate::models::jet::Jet;
use crate::models::limits::sig4;
use crate::models::model::LimitOptimum;
use crate::models::newton::{minimize_newton, Eval};
use crate::models::objective::subsample;
use crate::models::optim;

/// Convergence: max |∂(mean log-likelihood)/∂ln θ|, as in `fit.rs`.
const GTOL: f64 = 1e-9;
/// Where L-BFGS hands over to Newton steps (on the subsample, whose optimum is within
/// sampling error of the full data's anyway, or on small data).
const GTOL_LOOSE: f64 = 1e-5;
/// L-BFGS iterations before the limit is given up (~20 are typical).
const MAX_LOOSE: usize = 100;
/// |ln θ| beyond which a parameter of the limit runs away (e^10 ≈ 2e4).
const RUNAWAY: f64 = 10.0;
/// Newton steps on the full data (3–4 are typical from the subsample's optimum).
const MAX_NEWTON: usize = 20;
/// b·(longest T) of the reported point: predictions there equal the limit's to about this
/// relative accuracy.
const B_T_REPORTED: f64 = 1e-8;

fn outside(phi: &[f64]) -> bool {
    phi.iter().any(|t| !t.is_finite() || t.abs() > 30.0)
}

/// Mean negative log-likelihood at b = 0 and its gradient in φ = ln(r, α, s, β_P).
fn at_limit(d: &Data, wsum: f64, phi: &[f64]) -> (f64, Vec<f64>) {
    if outside(phi) {
        return (f64::NAN, vec![f64::NAN; 4]);
    }
    let v = |i: usize| Dual::<4>::var(phi[i], i).exp();
    let ll = ll_sum_ridge([v(0), v(1), v(2), v(3)], None, d);
    (-ll.v / wsum, ll.d.iter().map(|g| -g / wsum).collect())
}

/// `at_limit` as the objective of L-BFGS, which stops where the limit's own parameters run
/// away (Pareto/NBD's boundaries: data with ageing fitted without it can end there, and the
/// usual fit is the one to run then).
struct AtLimit<'a> {
    d: &'a Data,
    wsum: f64,
}

impl optim::Objective for AtLimit<'_> {
    fn eval(&self, phi: &[f64]) -> (f64, Vec<f64>) {
        at_limit(self.d, self.wsum, phi)
    }
    fn stop(&self, phi: &[f64]) -> Option<String> {
        phi.iter()
            .any(|t| t.abs() > RUNAWAY)
            .then(|| "the limit's parameters run away".into())
    }
}

/// ln L at b = 0 with its gradient and Hessian in φ (N = 4) or in (φ, b) (N = 5: b, not
/// ln b, is the fifth variable, so the fifth component of the gradient is the slope in b).
fn jet_at_limit<const N: usize>(d: &Data, phi: &[f64]) -> Option<Jet<N>> {
    if outside(phi) {
        return None;
    }
    let v = |i: usize| Jet::<N>::var(phi[i], i).exp();
    // as a variable b carries its (costly) terms; as a constant 0 it drops them
    let b = (N == 5).then(|| Jet::var(0.0, 4));
    let ll = ll_sum_ridge([v(0), v(1), v(2), v(3)], b, d);
    let ok = ll.v.is_finite()
        && ll
            .g
            .iter()
            .chain(ll.h.iter().flatten())
            .all(|v| v.is_finite());
    ok.then_some(ll)
}

/// The mean negative log-likelihood, gradient and Hessian in φ of a jet.
fn mean_nll<const N: usize>(ll: &Jet<N>, wsum: f64) -> Eval {
    let g = ll.g[..4].iter().map(|v| -v / wsum).collect();
    let h = ll.h[..4]
        .iter()
        .map(|row| row[..4].iter().map(|v| -v / wsum).collect())
        .collect();
    (-ll.v / wsum, g, h)
}

/// ∂(mean negative log-likelihood)/∂b at b = 0: positive when the likelihood falls as b
/// leaves 0.
fn slope(d: &Data, phi: &[f64]) -> f64 {
    let c = |i: usize| Dual::<1>::cst(phi[i].exp());
    let b = Dual::var(0.0, 0);
    let ll = ll_sum_ridge([c(0), c(1), c(2), c(3)], Some(b), d);
    -ll.d[0] / d.total_weight()
}

/// The natural-scale start as duals in the log-parameters (the gradient is in ln θ).
fn start5(start: &[f64]) -> Option<[Dual<5>; 5]> {
    let p = <[f64; 5]>::try_from(start).ok()?;
    Some(std::array::from_fn(|i| Dual::var(p[i].ln(), i).exp()))
}

/// The fit at the limit from natural-scale `start` (r, α, b, s, β), or None when the
/// optimum is not there (or the limit fit fails): the caller then fits as usual.
pub(super) fn limit_fit(
    d: &Data,
    start: &[f64],
    explicit: bool,
    max_iter: usize,
) -> Option<LimitOptimum> {
    let t_max = d.t.iter().fold(0.0_f64, |m, &t| m.max(t));
    let [r, alpha, b, s, beta] = <[f64; 5]>::try_from(start).ok()?;
    // A start of the caller's far from the limit (a refit of an interior optimum): no detour.
    if explicit && b * t_max > 1e-6 {
        return None;
    }
    // Ageing in the data shows at the start already: the likelihood rises with b there.
    // (Also a guard: fitted without ageing, such data can drive the limit's parameters to
    // extremes where each evaluation's quadrature is costly.)
    let start_grad = ll_sum(start5(start)?, d);
    if start_grad.d[2] > 0.0 {
        return None;
    }
    let phi0: Vec<f64> = [r, alpha, s, beta / b]
        .iter()
        .map(|v| v.max(1e-8).ln())
        .collect();
    // Near the limit's optimum by L-BFGS (on a subsample of many patterns, see
    // `objective::warm_start`); a subsample whose likelihood rises with b says the
    // optimum is interior.
    let sub = subsample(d);
    let near = sub.as_ref().unwrap_or(d);
    let obj = AtLimit {
        d: near,
        wsum: near.total_weight(),
    };
    let res = optim::minimize(&obj, &phi0, GTOL_LOOSE, max_iter.min(MAX_LOOSE));
    // (NaN is no evidence of the limit either)
    let falls = slope(near, &res.x).partial_cmp(&0.0) == Some(std::cmp::Ordering::Greater);
    if !res.f.is_finite() || res.stopped || !res.converged || !falls {
        return None;
    }
    // Newton steps on the exact Hessian (forward-mode jets through the grid tables): 3–4
    // passes over the data where L-BFGS and a finite-difference Hessian took ~35.
    let wsum = d.total_weight();
    let o = minimize_newton(
        |p: &[f64]| jet_at_limit::<4>(d, p).map(|j| mean_nll(&j, wsum)),
        res.x,
        GTOL,
        MAX_NEWTON,
    )?;
    let x = &o.theta;
    let j5 = jet_at_limit::<5>(d, x)?;
    // of the mean negative log-likelihood, per unit b
    let slope = -j5.g[4] / wsum;
    if slope.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let h4: Vec<Vec<f64>> = (0..4)
        .map(|i| (0..4).map(|j| -j5.h[i][j] / wsum).collect())
        .collect();
    let dslope: Vec<f64> = (0..4).map(|i| -j5.h[i][4] / wsum).collect();
    let iterations = res.iterations + o.steps;
    // The reported point of the limit: b small enough that its gradient in ln b, b·slope, is
    // below the tolerance and that b·T changes no prediction beyond rounding.
    let b_rep = (0.5 * GTOL / slope).min(B_T_REPORTED / t_max.max(1e-300));
    let [r, alpha, s, beta_p] = [x[0], x[1], x[2], x[3]].map(f64::exp);
    let params = vec![r, alpha, b_rep, s, b_rep * beta_p];
    // Hessian of the mean negative log-likelihood in ψ = (ln r, ln α, ln b, ln s, ln β_P)
    // at b_rep, to first order in b: the φ block at b = 0, ∂²/∂(ln b)² = b·slope and
    // ∂²/∂ln b ∂φ = b·∂slope/∂φ.
    let at_psi = [0, 1, 3, 4];
    let mut h = vec![vec![0.0; 5]; 5];
    for i in 0..4 {
        for j in 0..4 {
            h[at_psi[i]][at_psi[j]] = 0.5 * (h4[i][j] + h4[j][i]);
        }
        h[2][at_psi[i]] = b_rep * dslope[i];
        h[at_psi[i]][2] = b_rep * dslope[i];
    }
    h[2][2] = b_rep * slope;
    // to θ = ln(r, α, b, s, β): ψ = Bθ with ln β_P = ln β − ln b, so H_θ = Bᵀ H_ψ B
    let mut ht = h.clone();
    for i in 0..5 {
        ht[i][2] = h[i][2] - h[i][4];
    }
    let h2 = ht.clone();
    for j in 0..5 {
        ht[2][j] = h2[2][j] - h2[4][j];
    }
    let hess_log: Vec<Vec<f64>> = ht
        .iter()
        .map(|row| row.iter().map(|v| v * wsum).collect())
        .collect();
    // the gradient in θ: ∂/∂ln b is b·slope − ∂/∂ln β_P
    let g = &o.grad;
    let grad_norm = [g[0], g[1], b_rep * slope - g[3], g[2], g[3]]
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let p5: [f64; 5] = [r, alpha, b_rep, s, b_rep * beta_p];
    Some(LimitOptimum {
        ll: ll_sum(p5, d),
        params,
        hess_log,
        grad_norm,
        iterations,
        message: format!(
            "gradient below tolerance at the Pareto/NBD limit b -> 0 with beta/b -> {}: the \
             likelihood falls as b rises from 0 (no ageing in the data), so b and beta are \
             reported as a point of that limit (b*T = {}), where GGom/NBD is Pareto/NBD",
            sig4(beta_p),
            sig4(b_rep * t_max),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::compress::compress;
    use crate::models::fit::fit_data;
    use crate::models::ggom_nbd::GGomNbd;
    use crate::models::model::{BtydModel, Likelihood};
    use crate::models::pareto_nbd::{self, ParetoNbd};
    use crate::models::simulate::summaries;

    fn simulated<M: BtydModel>(m: &M, p: M::Params, n: usize) -> Data {
        let t: Vec<f64> = (0..n).map(|i| 20.0 + (i % 20) as f64).collect();
        let (x, tx) = summaries(m, p, &t, 11, Some(1.0 / 7.0));
        compress(&x, &tx, &t, None)
    }

    #[test]
    fn the_ridge_likelihood_is_ggom_and_at_b_zero_pareto_nbd() {
        let d = simulated(&ParetoNbd, [0.55, 10.6, 0.61, 11.7], 400);
        // b > 0: the model's own likelihood at β = b·β_P
        for q in [
            [0.85, 4.45, 0.12, 0.75, 9.55 / 0.12],
            [0.553, 10.578, 2e-4, 0.603, 13.0],
        ] {
            let own = ll_sum([q[0], q[1], q[2], q[3], q[2] * q[4]], &d);
            let ridge = ll_sum_ridge([q[0], q[1], q[3], q[4]], Some(q[2]), &d);
            assert!((own - ridge).abs() < 1e-9 * own.abs(), "{own} {ridge}");
        }
        // b = 0: Pareto/NBD's closed form (hypergeometric), pattern by pattern
        let pn = [0.553, 10.578, 0.606, 11.669];
        let ridge = ll_sum_ridge(pn, None, &d);
        assert_eq!(ridge, ll_sum_ridge(pn, Some(0.0), &d));
        let closed: f64 = (0..d.len())
            .map(|i| d.w[i] * pareto_nbd::ll_row(pn, d.x[i], d.tx[i], d.t[i]))
            .sum();
        assert!(
            (ridge - closed).abs() < 1e-9 * closed.abs(),
            "{ridge} {closed}"
        );
        // the slope in b at 0 against a one-sided difference quotient
        let phi = [pn[0], pn[1], pn[2], pn[3]].map(f64::ln);
        let j = jet_at_limit::<5>(&d, &phi).unwrap();
        let slope = j.g[4];
        assert!((j.v - ridge).abs() < 1e-9 * ridge.abs());
        let h = 1e-6;
        let fd = (ll_sum_ridge(pn, Some(h), &d) - ridge) / h;
        assert!((slope - fd).abs() < 1e-4 * fd.abs(), "{slope} {fd}");
    }

    /// CDNOW (2357 customers, 39 weeks): no ageing, GGom/NBD's maximum is the Pareto/NBD
    /// limit (Bemmaor & Glady 2012; the published pairs (b, β) are points of that ridge).
    fn cdnow() -> Data {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/cdnow_customers_summary_with_transactions.csv"
        );
        let text = std::fs::read_to_string(path).expect("CDNOW summary");
        let (mut x, mut tx, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for line in text.lines().skip(1) {
            let v: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
            x.push(v[1]);
            tx.push(v[2]);
            t.push(v[3]);
        }
        compress(&x, &tx, &t, None)
    }

    #[test]
    fn without_ageing_the_fit_is_the_pareto_nbd_fit() {
        let d = cdnow();
        let pn = fit_data(&ParetoNbd, &d, None, 500);
        let gg = fit_data(&GGomNbd, &d, None, 500);
        assert!(
            gg.converged && gg.message.contains("Pareto/NBD limit"),
            "{}",
            gg.message
        );
        let p = &gg.params;
        let limit = [p[0], p[1], p[3], p[4] / p[2]];
        for (a, e) in limit.iter().zip(&pn.params) {
            assert!((a / e - 1.0).abs() < 1e-5, "{limit:?} {:?}", pn.params);
        }
        // FHL (2005): r = 0.553, α = 10.578, s = 0.606, β = 11.669, LL = −9595.0
        assert!((limit[3] - 11.669).abs() < 0.05 && (gg.ll + 9595.0).abs() < 0.05);
        assert!((gg.ll - pn.ll).abs() < 1e-5, "{} {}", gg.ll, pn.ll);
        // r, α and s: the same standard errors as Pareto/NBD's (b's direction decouples)
        let (se, sp) = (gg.se.unwrap(), pn.se.unwrap());
        for (a, e) in [se[0], se[1], se[3]].iter().zip([sp[0], sp[1], sp[2]]) {
            assert!((a / e - 1.0).abs() < 1e-3, "{se:?} {sp:?}");
        }
    }

    #[test]
    fn with_ageing_the_limit_is_not_the_fit() {
        let q = [0.85, 4.45, 0.12, 0.75, 9.55];
        let d = simulated(&GGomNbd, q, 3000);
        assert!(limit_fit(&d, &GGomNbd.start_values(&d), false, 500).is_none());
        let gg = fit_data(&GGomNbd, &d, None, 500);
        assert!(
            gg.converged && !gg.message.contains("limit"),
            "{}",
            gg.message
        );
        assert!(gg.params[2] > 0.03, "{:?}", gg.params);
    }
}
