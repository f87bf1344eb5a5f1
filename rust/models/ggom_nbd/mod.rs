//! GGom/NBD, the Gamma-Gompertz/NBD (Bemmaor & Glady 2012), parameters (r, alpha, b, s, beta).
//!
//! Purchases are Poisson(λ) while alive, λ ~ Gamma(r, α). A customer's lifetime τ is
//! Gompertz with hazard η b e^{bt}, η ~ Gamma(s, β), so S(t) = (β / (β + e^{bt} − 1))^s and
//! f(t) = b s β^s e^{bt} (β + e^{bt} − 1)^−(s+1). The likelihood integrates over a death
//! between the last purchase and T:
//!   L = Γ(r+x) α^r / Γ(r) · [ (α+T)^−(r+x) S(T) + ∫_{t_x}^T (α+y)^−(r+x) f(y) dy ].
//! The integral has no closed form; it is computed by adaptive Gauss–Kronrod (`quad`) in log
//! space (ln(β + e^{y} − 1) is evaluated without overflow or cancellation, so tiny b and β —
//! where the model tends to Pareto/NBD with β/b as its β — and large bT both stay exact).
//!
//! Predictions: alive at T, λ's posterior is Gamma(r+x, α+T) and η's is Gamma(s, β + e^{bT} −
//! 1), independent of each other; the residual lifetime is again Gamma-Gompertz with
//!   β_T = (β + e^{bT} − 1) e^{−bT} = β e^{−bT} − expm1(−bT)
//! (time measured from T). So a customer alive at T restarts as a new GGom/NBD customer with
//! (r+x, α+T, b, s, β_T): the conditional expectation and PMF are the new-customer ones at
//! those parameters, times P(alive) (`ConditionalPmf::Posterior`).
//!
//! Files: `likelihood.rs` (the log-likelihood on a grid of each frequency's distinct times, and
//! P(alive) from the same tables), `grid.rs` (that grid, cached per data set), `predict.rs`
//! (expectations, PMF, the posterior), `limit.rs` (the fit at the Pareto/NBD limit b → 0);
//! this file holds the trait implementations that connect them to the kernels, and simulation.

mod grid;
mod likelihood;
mod limit;
mod predict;

pub use likelihood::{ll_row, ll_sum, p_alive, p_alive_rows};
pub use predict::{p_purchases, posterior, uncond_expected};

use super::compress::Data;
use super::dual::{Dual, Real};
use super::limits;
use super::model::{BtydModel, ConditionalPmf, Likelihood, LimitOptimum};
use super::quad::integrate;
use super::simulate::{Purchases, Rng};

/// Relative accuracy of the likelihood's integral (the fit's tolerance is ~1e-9 relative).
pub(super) const LL_REL: f64 = 1e-12;
/// Relative accuracy of the prediction integrals.
pub(super) const PRED_REL: f64 = 1e-12;

/// ln(β + e^y − 1) for y >= 0.
pub(super) fn ln_beta_exp<R: Real>(beta: R, y: R) -> R {
    if y.val() > 1.0 {
        y + ((beta - 1.0) * (-y).exp()).ln_1p()
    } else {
        (beta + y.exp_m1()).ln()
    }
}

/// GGom/NBD as a model of the kernels.
#[derive(Clone, Copy, Debug)]
pub struct GGomNbd;

impl Likelihood for GGomNbd {
    type Grad = Dual<5>;
    fn kind(&self) -> &'static str {
        "ggom_nbd"
    }
    fn param_names(&self) -> &'static [&'static str] {
        &["r", "alpha", "b", "s", "beta"]
    }
    fn ll_sum<R: Real>(&self, p: &[R], d: &Data) -> R {
        ll_sum([p[0], p[1], p[2], p[3], p[4]], d)
    }
    /// Pareto/NBD's start (r = s = 1, α = mean T / mean x) with b = 1/mean T and β = 1, whose
    /// small-b limit is a Pareto/NBD β of mean T.
    fn start_values(&self, d: &Data) -> Vec<f64> {
        let (mx, mt) = d.mean_x_t();
        vec![1.0, mt / mx, 1.0 / mt, 1.0, 1.0]
    }
    /// The Pareto/NBD limit b → 0 when the maximum is there (`limit.rs`).
    fn limit_fit(&self, d: &Data, start: Option<&[f64]>, max_iter: usize) -> Option<LimitOptimum> {
        let from = start.map_or_else(|| self.start_values(d), |s| s.to_vec());
        limit::limit_fit(d, &from, start.is_some(), max_iter)
    }
    fn boundary(&self, p: &[f64], d: &Data) -> Option<String> {
        let t_max = d.t.iter().fold(0.0, |m: f64, &t| m.max(t));
        limits::poisson_limit("GGom/NBD", p[0], p[1])
            .or_else(|| limits::gompertz_limit(p[3], p[4], p[2], t_max))
    }
}

impl BtydModel for GGomNbd {
    type Params = [f64; 5];
    const CONDITIONAL: ConditionalPmf = ConditionalPmf::Posterior;

    fn p_alive(&self, p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
        p_alive(p, x, tx, t)
    }
    fn ll_row(&self, p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
        ll_row(p, x, tx, t)
    }
    /// P(alive) of all rows at once on the likelihood's grid (`p_alive_rows`).
    fn row_factors<'a>(
        &'a self,
        p: [f64; 5],
        x: &'a [f64],
        tx: &'a [f64],
        t: &'a [f64],
    ) -> impl Fn(usize) -> f64 + Sync + 'a {
        let pa = p_alive_rows(p, x, tx, t);
        move |i| pa[i]
    }
    /// E[Y(t) | alive at T] = (r+x)/(α+T) ∫_0^t S_T(u) du (the posterior's new-customer mean).
    fn bracket(&self, p: [f64; 5], x: f64, t_obs: f64, t: f64) -> f64 {
        uncond_expected(posterior(p, x, t_obs), t)
    }
    /// (r+x)/(α+T) ∫_0^∞ e^{−δu} S_T(u) du with the posterior survival S_T.
    fn dert_bracket(&self, p: [f64; 5], x: f64, t_obs: f64, delta: f64) -> Option<f64> {
        let [r, alpha, b, s, beta] = posterior(p, x, t_obs);
        let lb = beta.ln();
        // u = v/δ: ∫_0^∞ e^{−v} S_T(v/δ) dv / δ, the tail beyond v = 50 below e^{−50}.
        let f = |v: f64| (-v + s * (lb - ln_beta_exp(beta, b * v / delta))).exp();
        Some(r / alpha * integrate(&f, 0.0, 50.0, PRED_REL) / delta)
    }
    fn expected_purchases_new(&self, p: [f64; 5], t: f64) -> f64 {
        uncond_expected(p, t)
    }
    fn p_purchases_new(&self, p: [f64; 5], n: u64, t: f64) -> f64 {
        p_purchases(p, n, t)
    }
    fn pmf_new(&self, p: [f64; 5], t: &[f64], nmax: u64) -> Vec<Vec<f64>> {
        super::new_pmf::ggom_nbd_rows(p, t, nmax)
    }
    fn posterior_pmf(&self, p: [f64; 5], n: u64, t: f64, x: f64, t_obs: f64) -> f64 {
        p_purchases(posterior(p, x, t_obs), n, t)
    }
    /// λ ~ Gamma(r, α), η ~ Gamma(s, β); death where η(e^{bτ} − 1) reaches an Exp(1) draw.
    fn simulate(
        &self,
        p: [f64; 5],
        t_end: f64,
        resolution: Option<f64>,
        rng: &mut Rng,
    ) -> Vec<f64> {
        let [r, alpha, b, s, beta] = p;
        let lambda = rng.gamma(r, alpha);
        let eta = rng.gamma(s, beta);
        let death = (rng.exponential(1.0) / eta).ln_1p() / b;
        Purchases::poisson_until(lambda, death.min(t_end), resolution, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::pareto_nbd;
    use crate::models::special::lgamma;

    /// Bemmaor & Glady (2012), Table 2 (CDNOW).
    const P: [f64; 5] = [0.553, 10.578, 0.0002, 0.603, 0.0026];
    /// Away from the Pareto/NBD limit: a Gompertz ageing of about a tenth per week.
    const Q: [f64; 5] = [0.85, 4.45, 0.12, 0.75, 9.55];

    /// Brute-force likelihood: the death-time integral by a 400,000-panel composite Simpson.
    fn ll_simpson(p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
        let [r, alpha, b, s, beta] = p;
        let pre = lgamma(r + x) - lgamma(r) + r * alpha.ln();
        let surv = |u: f64| (beta / (beta + (b * u).exp_m1())).powf(s);
        let g = |y: f64| {
            (alpha + y).powf(-(r + x))
                * b
                * s
                * beta.powf(s)
                * (b * y).exp()
                * (beta + (b * y).exp_m1()).powf(-(s + 1.0))
        };
        let n = 400_000;
        let h = (t - tx) / n as f64;
        let mut acc = g(tx) + g(t);
        for k in 1..n {
            acc += g(tx + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
        }
        pre + ((alpha + t).powf(-(r + x)) * surv(t) + acc * h / 3.0).ln()
    }

    #[test]
    fn likelihood_matches_simpson() {
        for p in [P, Q, [2.0, 1.0, 1.5, 3.0, 0.2]] {
            for &(x, tx, t) in &[
                (0.0, 0.0, 38.86),
                (2.0, 30.43, 38.86),
                (5.0, 1.0, 30.0),
                (30.0, 2.0, 39.0),
                (3.0, 20.0, 20.0),
            ] {
                let a = ll_row(p, x, tx, t);
                let b = ll_simpson(p, x, tx, t);
                assert!(
                    (a - b).abs() < 1e-9 * (1.0 + b.abs()),
                    "{p:?} {x} {tx} {t}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn tends_to_pareto_nbd_as_b_goes_to_zero() {
        // S(t) = (β/(β + e^{bt} − 1))^s → ((β/b)/((β/b) + t))^s: Pareto/NBD with β/b.
        let pn = [0.553, 10.578, 0.606, 11.669];
        let b = 1e-9;
        let g = [pn[0], pn[1], b, pn[2], pn[3] * b];
        for &(x, tx, t) in &[(0.0, 0.0, 38.86), (2.0, 30.43, 38.86), (7.0, 35.0, 38.0)] {
            let (a, e) = (ll_row(g, x, tx, t), pareto_nbd::ll_row(pn, x, tx, t));
            assert!((a - e).abs() < 1e-6, "{a} {e}");
            let (a, e) = (p_alive(g, x, tx, t), pareto_nbd::p_alive(pn, x, tx, t));
            assert!((a - e).abs() < 1e-6, "{a} {e}");
            let a = p_alive(g, x, tx, t) * GGomNbd.bracket(g, x, t, 52.0);
            let e = pareto_nbd::cond_expected(pn, x, tx, t, 52.0);
            assert!((a - e).abs() < 1e-6 * e, "{a} {e}");
        }
        // DERT at 15% a year in weeks, against Pareto/NBD's closed form with Tricomi's U.
        let delta = 1.15f64.ln() / 52.0;
        let a = GGomNbd.dert_bracket(g, 2.0, 38.86, delta).unwrap();
        let e = pareto_nbd::dert_alive(pn, 2.0, 38.86, delta);
        assert!((a - e).abs() < 1e-6 * e, "{a} {e}");
        let (a, e) = (
            uncond_expected(g, 39.0),
            pareto_nbd::uncond_expected(pn, 39.0),
        );
        assert!((a - e).abs() < 1e-7, "{a} {e}");
    }

    #[test]
    fn simulated_means_match_the_expectation() {
        let n = 40_000;
        let total: usize = (0..n)
            .map(|i| {
                let mut rng = crate::models::simulate::rng_for(7, i);
                GGomNbd.simulate(Q, 30.0, None, &mut rng).len()
            })
            .sum();
        let mean = total as f64 / n as f64;
        let e = uncond_expected(Q, 30.0);
        assert!((mean - e).abs() < 0.03 * e, "{mean} {e}");
    }

    #[test]
    fn extremes_are_finite() {
        for p in [P, Q, [0.5, 0.01, 5.0, 3.0, 1e-6]] {
            for &(x, tx, t) in &[
                (500.0, 9999.0, 10_000.0),
                (500.0, 1.0, 10_000.0),
                (0.0, 0.0, 1e5),
            ] {
                let ll = ll_row(p, x, tx, t);
                let pa = p_alive(p, x, tx, t);
                let e = pa * GGomNbd.bracket(p, x, t, 52.0);
                assert!(
                    ll.is_finite() && pa.is_finite() && e.is_finite(),
                    "{p:?} {x} {tx} {t}: {ll} {pa} {e}"
                );
                assert!((0.0..=1.0).contains(&pa));
            }
        }
        // Ageing fast (b = 5), a heavy buyer last seen at 1 of 10,000 is dead: the mass of
        // the death-time integral sits within 0.1 of t_x, where a single long panel misses it.
        let pa = p_alive([0.5, 0.01, 5.0, 3.0, 1e-6], 500.0, 1.0, 10_000.0);
        assert!(pa < 1e-6, "{pa}");
    }
}
