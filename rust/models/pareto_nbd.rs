//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987), parameters (r, alpha, s, beta).
//!
//! Likelihood (Fader & Hardie's note on the Pareto/NBD likelihood):
//!   L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^−(r+x) (β+T)^−s + s/(r+s+x) · (F(t_x) − F(T)) ]
//! with F(t) = (r+s+x) ∫_t^∞ (α+u)^−(r+x) (β+u)^−(s+1) du, which FH write with the Gauss
//! hypergeometric 2F1(r+s+x, ·; r+s+x+1; z). Euler's transformation reduces both of their
//! branches to series 2F1(1, b'; c'; z) = Σ_k Π_{j<k} (b'+j)/(c'+j) · z^k with positive terms
//! whose successive ratio is below z, so the sum is bounded by 1/(1−z) and never overflows:
//!   α ≥ β:  ln F(t) = −(r+x) ln(α+t) − s ln(β+t) + ln S(b' = r+x, z = (α−β)/(α+t))
//!   α < β:  ln F(t) = (1−r−x) ln(α+t) − (s+1) ln(β+t) + ln S(b' = s+1, z = (β−α)/(β+t))
//! with c' = r+s+x+1. Everything is combined in log space (softplus, expm1): finite at any
//! frequency and T. The second term is s/(r+s+x) · F(t_x) · (1 − F(T)/F(t_x)) ≥ 0.

use super::compress::{par_sum, Data};
use super::dual::Real;
use super::model::{BtydModel, ConditionalPmf};
use super::simulate::{Purchases, Rng};
use rayon::prelude::*;

/// ln Σ_k Π_{j<k} (b+j)/(c+j) z^k for 0 <= z < 1, c > b - 1.
fn ln_series<R: Real>(b: R, c: R, z: R) -> R {
    let zv = z.val();
    if zv == 0.0 {
        return R::cst(0.0);
    }
    let mut term = R::cst(1.0);
    let mut sum = R::cst(1.0);
    let mut k = 0.0;
    loop {
        term = term * (b + k) / (c + k) * z;
        sum += term;
        k += 1.0;
        if term.val() <= 1e-17 * sum.val() || k > 5.0e6 {
            break;
        }
    }
    sum.ln()
}

fn ln_f<R: Real>(r: R, alpha: R, s: R, beta: R, x: f64, t: f64) -> R {
    let la = (alpha + t).ln();
    let lb = (beta + t).ln();
    let c = r + s + (x + 1.0);
    if alpha.val() >= beta.val() {
        let z = (alpha - beta) / (alpha + t);
        -(r + x) * la - s * lb + ln_series(r + x, c, z)
    } else {
        let z = (beta - alpha) / (beta + t);
        (-(r + x) + 1.0) * la - (s + 1.0) * lb + ln_series(s + 1.0, c, z)
    }
}

/// 1 − z of the series at t below which it needs more terms (about 40/(1 − z)) than the
/// quadrature of `ln_tail_rel` costs nodes: there the likelihood switches to the quadrature.
/// This happens when α and β are far apart, above all at the boundary where β runs to
/// infinity (1 − z → 0 and the series would need millions of terms per pattern).
const SERIES_SLOW: f64 = 0.05;

pub(crate) fn series_slow(alpha: f64, beta: f64, t: f64) -> bool {
    let (lo, hi) = if alpha < beta {
        (alpha, beta)
    } else {
        (beta, alpha)
    };
    lo + t < SERIES_SLOW * (hi + t)
}

/// ln[∫_{t_x}^T (α+u)^−(r+x) (β+u)^−(s+1) du / first term] (the integral is
/// (F(t_x) − F(T))/(r+s+x)) by adaptive Gauss–Kronrod: the integrand is smooth and
/// decreasing, its cost does not depend on how far apart α and β are. Written with ln_1p of
/// ratios to the values at t_x: at the boundary s ln(β+u) is ~10⁵ and differences of such
/// logarithms would leave rounding noise of ~10⁻¹¹ that no quadrature tolerance gets under.
fn ln_tail_rel<R: Real>(r: R, alpha: R, s: R, beta: R, x: f64, tx: f64, t: f64) -> R {
    let (ia, ib) = (R::cst(1.0) / (alpha + tx), R::cst(1.0) / (beta + tx));
    let integrand =
        |u: f64| (-(r + x) * (ia * (u - tx)).ln_1p() - (s + 1.0) * (ib * (u - tx)).ln_1p()).exp();
    let i = super::quad::integrate(&integrand, tx, t, 1e-13);
    (r + x) * (ia * (t - tx)).ln_1p() + s * (ib * (t - tx)).ln_1p() - (beta + tx).ln() + i.ln()
}

/// ln(second term / first term) of the likelihood for t_x < T, or None when the second term
/// is 0. `f_t` and `f_tx` give ln F(T) and ln F(t_x) (cached by the caller); they are asked
/// for only where the series is fast.
#[allow(clippy::too_many_arguments)]
pub(crate) fn log_odds<R: Real>(
    p: [R; 4],
    x: f64,
    tx: f64,
    t: f64,
    lfirst: R,
    f_t: impl FnOnce() -> R,
    f_tx: impl FnOnce() -> R,
) -> Option<R> {
    let [r, alpha, s, beta] = p;
    // 1 − z is smallest at the smaller time, t_x.
    if series_slow(alpha.val(), beta.val(), tx) {
        return Some(s.ln() + ln_tail_rel(r, alpha, s, beta, x, tx, t));
    }
    let f_tx = f_tx();
    let diff = f_t() - f_tx;
    (diff.val() < 0.0).then(|| s.ln() - (r + s + x).ln() + f_tx - lfirst + (-(diff.exp_m1())).ln())
}

/// ln of the second/first term ratio (the log-odds of having died before T), or None when
/// t_x = T (no room to die unobserved).
fn log_odds_dead<R: Real>(p: [R; 4], x: f64, tx: f64, t: f64) -> Option<(R, R)> {
    let [r, alpha, s, beta] = p;
    let lfirst = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
    if tx >= t {
        return None;
    }
    let dd = log_odds(
        p,
        x,
        tx,
        t,
        lfirst,
        || ln_f(r, alpha, s, beta, x, t),
        || ln_f(r, alpha, s, beta, x, tx),
    );
    Some((lfirst, dd.unwrap_or(R::cst(f64::NEG_INFINITY))))
}

pub fn ll_sum<R: Real>(p: [R; 4], d: &Data) -> R {
    let [r, alpha, s, beta] = p;
    let base = r * alpha.ln() + s * beta.ln() - r.lgamma();
    let xmax = d.max_x();
    let table: Option<Vec<R>> =
        (xmax <= 2 * d.len() + 1024).then(|| (0..=xmax).map(|x| (r + x as f64).lgamma()).collect());
    // ln F(t) only where its series is fast (elsewhere `log_odds` integrates and never
    // reads it: the series is slow at t_x whenever it is at T ≥ t_x).
    let (av, bv) = (alpha.val(), beta.val());
    let ln_f_fast = |x: f64, t: f64| -> R {
        if series_slow(av, bv, t) {
            R::cst(f64::NAN)
        } else {
            ln_f(r, alpha, s, beta, x, t)
        }
    };
    // Terms that depend on (x, T) only — the first likelihood term and ln F(T) — once per
    // distinct pair (day-grained summaries have few), then per row only ln F(t_x).
    let at_t = |x: f64, t: f64| -> (R, R) {
        let lfirst = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
        (lfirst, ln_f_fast(x, t))
    };
    let (xt_pairs, xtx_pairs) = (d.pairs_xt(), d.pairs_xtx());
    let pair_terms: Option<Vec<(R, R)>> = xt_pairs
        .as_ref()
        .map(|(u, _)| u.iter().map(|&(x, t)| at_t(x, t)).collect());
    // ln F(t_x) depends on (x, t_x) only: day-grained summaries have ~10× fewer distinct
    // (x, t_x) pairs than patterns, and this series is the costly part of a row.
    let tx_terms: Option<Vec<R>> = xtx_pairs
        .as_ref()
        .map(|(u, _)| u.par_iter().map(|&(x, tx)| ln_f_fast(x, tx)).collect());
    par_sum(d.len(), |i| {
        let (x, tx, t) = (d.x[i], d.tx[i], d.t[i]);
        let lg = match &table {
            Some(tb) => tb[x as usize],
            None => (r + x).lgamma(),
        };
        let (lfirst, f_t) = match (&pair_terms, xt_pairs) {
            (Some(v), Some((_, idx))) => v[idx[i] as usize],
            _ => at_t(x, t),
        };
        let ll = if tx >= t {
            lfirst
        } else {
            let f_tx = || match (&tx_terms, xtx_pairs) {
                (Some(v), Some((_, idx))) => v[idx[i] as usize],
                _ => ln_f(r, alpha, s, beta, x, tx),
            };
            match log_odds(p, x, tx, t, lfirst, || f_t, f_tx) {
                Some(dd) => lfirst + dd.softplus(),
                None => lfirst,
            }
        };
        (base + lg + ll) * d.w[i]
    })
}

pub fn ll_row(p: [f64; 4], x: f64, tx: f64, t: f64) -> f64 {
    ll_sum(p, &Data::row(x, tx, t))
}

pub fn p_alive(p: [f64; 4], x: f64, tx: f64, t: f64) -> f64 {
    match log_odds_dead(p, x, tx, t) {
        None => 1.0,
        Some((_, dd)) => (-Real::softplus(dd)).exp(),
    }
}

/// [1 − (β'/(β'+t))^(s−1)] / (s−1), continuous at s = 1 (where it is ln(1 + t/β')).
fn lifetime_factor(s: f64, beta_t: f64, t: f64) -> f64 {
    let l = (t / beta_t).ln_1p();
    if (s - 1.0).abs() < 1e-12 {
        l
    } else {
        -(-(s - 1.0) * l).exp_m1() / (s - 1.0)
    }
}

/// E[Y(t) | x, t_x, T] = (r+x)(β+T)/((α+T)(s−1)) [1 − ((β+T)/(β+T+t))^(s−1)] · P(alive).
pub fn cond_expected(p: [f64; 4], x: f64, tx: f64, t_obs: f64, t: f64) -> f64 {
    let [r, alpha, s, beta] = p;
    if t <= 0.0 {
        return 0.0;
    }
    (r + x) * (beta + t_obs) / (alpha + t_obs)
        * lifetime_factor(s, beta + t_obs, t)
        * p_alive(p, x, tx, t_obs)
}

/// E[X(t)] = rβ/(α(s−1)) [1 − (β/(β+t))^(s−1)].
pub fn uncond_expected(p: [f64; 4], t: f64) -> f64 {
    let [r, alpha, s, beta] = p;
    if t <= 0.0 {
        return 0.0;
    }
    r * beta / alpha * lifetime_factor(s, beta, t)
}

/// DERT given alive at T (Fader, Hardie & Lee 2005, "RFM and CLV", eq. 2 without its
/// P(alive) factor): λ and μ are a posteriori Gamma(r+x, α+T) and Gamma(s, β+T), so
///   E[λ ∫_0^∞ e^{−(δ+μ)u} du] = (r+x)/(α+T) · E[1/(δ+μ)]
///                            = (r+x)/(α+T) · (β+T)^s δ^{s−1} U(s, s; δ(β+T)),
/// with U written as z^s U(s, s; z) / δ, z = δ(β+T) (see `hyperu::hyperu_aa_scaled`).
pub fn dert_alive(p: [f64; 4], x: f64, t_obs: f64, delta: f64) -> f64 {
    let [r, alpha, s, beta] = p;
    let z = delta * (beta + t_obs);
    (r + x) / (alpha + t_obs) * super::hyperu::hyperu_aa_scaled(s, z) / delta
}

/// P(X(t) = n) for a new customer. Conditioning on the death time τ:
///   P = NB(n; r, α/(α+t)) · (β/(β+t))^s + ∫_0^t NB(n; r, α/(α+τ)) · s β^s (β+τ)^−(s+1) dτ,
/// (alive throughout, or dead at τ with n purchases before), where NB is the gamma–Poisson
/// mixture; the integral by Gauss–Kronrod to a relative 1e-12 (`new_pmf`), bounded in time.
pub fn p_purchases(p: [f64; 4], n: u64, t: f64) -> f64 {
    super::new_pmf::pareto_nbd(p, n, t)
}

/// Pareto/NBD as a model of the kernels. Its `Likelihood` (what the fit sees) is in
/// `pareto_nbd_hess`, beside the exact Hessian the fit steps on, so that this room of the
/// model's formulas does not depend on its fit.
#[derive(Clone, Copy, Debug)]
pub struct ParetoNbd;

/// β beyond this many times the longest T: the optimiser is running along the ridge
/// s, β → ∞ (or β → ∞ with s/β → 0) to a limit Pareto/NBD only reaches at infinity; the
/// heterogeneity of dropout is then invisible within the window, so β is no estimate.
const BETA_RUNAWAY: f64 = 1e4;

/// The diagnosis of a fit that runs away with β (see [`BETA_RUNAWAY`]), else None.
pub(crate) fn boundary(s: f64, beta: f64, t_max: f64) -> Option<String> {
    if !beta.is_finite() || beta <= BETA_RUNAWAY * t_max.max(f64::MIN_POSITIVE) {
        return None;
    }
    let mu = s / beta;
    let meaning = if mu * t_max < 0.01 {
        "the data show no dropout over the window: Pareto/NBD reduces to the NBD (customers \
         never drop out)"
            .to_string()
    } else {
        format!(
            "the data cannot tell customers' dropout rates apart: Pareto/NBD reduces to one \
             dropout rate s/beta for every customer (mean lifetime {})",
            sig4(1.0 / mu)
        )
    };
    Some(format!(
        "boundary: s and beta grow without bound (s = {}, beta = {}, {:.0}x the longest T) \
         with s/beta -> {} per time unit: {meaning}; the parameters are not an optimum: \
         consider BG/NBD or a longer window",
        sig4(s),
        sig4(beta),
        beta / t_max,
        sig4(mu),
    ))
}

/// Four significant digits, as Python's `:.4g`.
fn sig4(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        let d = (3 - v.abs().max(1e-300).log10().floor() as i32).max(0) as usize;
        format!("{v:.d$}")
    }
}

impl BtydModel for ParetoNbd {
    type Params = [f64; 4];
    const CONDITIONAL: ConditionalPmf = ConditionalPmf::Posterior;

    fn p_alive(&self, p: [f64; 4], x: f64, tx: f64, t: f64) -> f64 {
        p_alive(p, x, tx, t)
    }
    /// `cond_expected` with t_x = T, where P(alive) is 1.
    fn bracket(&self, p: [f64; 4], x: f64, t_obs: f64, t: f64) -> f64 {
        if t <= 0.0 {
            0.0
        } else {
            cond_expected(p, x, t_obs, t_obs, t)
        }
    }
    fn dert_bracket(&self, p: [f64; 4], x: f64, t_obs: f64, delta: f64) -> Option<f64> {
        Some(dert_alive(p, x, t_obs, delta))
    }
    fn expected_purchases_new(&self, p: [f64; 4], t: f64) -> f64 {
        uncond_expected(p, t)
    }
    fn p_purchases_new(&self, p: [f64; 4], n: u64, t: f64) -> f64 {
        p_purchases(p, n, t)
    }
    fn pmf_new(&self, p: [f64; 4], t: &[f64], nmax: u64) -> Vec<Vec<f64>> {
        super::new_pmf::pareto_nbd_rows(p, t, nmax)
    }
    /// Pareto/NBD(r+x, α+T, s, β+T) (see `conditional`).
    fn posterior_pmf(&self, p: [f64; 4], n: u64, t: f64, x: f64, t_obs: f64) -> f64 {
        let [r, alpha, s, beta] = p;
        p_purchases([r + x, alpha + t_obs, s, beta + t_obs], n, t)
    }
    /// λ ~ Gamma(r, α), μ ~ Gamma(s, β); Poisson(λ) purchases until an Exponential(μ) death.
    fn simulate(
        &self,
        p: [f64; 4],
        t_end: f64,
        resolution: Option<f64>,
        rng: &mut Rng,
    ) -> Vec<f64> {
        let lambda = rng.gamma(p[0], p[1]);
        let mu = rng.gamma(p[2], p[3]);
        let death = rng.exponential(mu);
        Purchases::poisson_until(lambda, death.min(t_end), resolution, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::dual::Dual;

    const P: [f64; 4] = [0.553, 10.578, 0.606, 11.669];

    /// Brute-force likelihood: the integral over the death time by composite Simpson.
    fn ll_quadrature(p: [f64; 4], x: f64, tx: f64, t: f64) -> f64 {
        let [r, alpha, s, beta] = p;
        let pre = crate::models::special::lgamma(r + x) - crate::models::special::lgamma(r)
            + r * alpha.ln()
            + s * beta.ln();
        let first = (alpha + t).powf(-(r + x)) * (beta + t).powf(-s);
        let g = |u: f64| (alpha + u).powf(-(r + x)) * (beta + u).powf(-(s + 1.0));
        let n = 200_000;
        let h = (t - tx) / n as f64;
        let mut acc = g(tx) + g(t);
        for k in 1..n {
            acc += g(tx + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
        }
        let integral = acc * h / 3.0;
        pre + (first + s * integral).ln()
    }

    /// `ll_quadrature` with every power taken relative to the first term, so that s ln β
    /// never appears alone (finite for s and β in the 10⁷s).
    fn ll_simpson_relative(p: [f64; 4], x: f64, tx: f64, t: f64) -> f64 {
        let [r, alpha, s, beta] = p;
        let lg = crate::models::special::lgamma;
        let pre = lg(r + x) - lg(r) + r * alpha.ln()
            - (r + x) * (alpha + t).ln()
            - s * (t / beta).ln_1p();
        let h = |u: f64| {
            ((r + x) * ((t - u) / (alpha + u)).ln_1p() + s * ((t - u) / (beta + u)).ln_1p()
                - (beta + u).ln())
            .exp()
        };
        let n = 200_000;
        let step = (t - tx) / n as f64;
        let mut acc = h(tx) + h(t);
        for k in 1..n {
            acc += h(tx + k as f64 * step) * if k % 2 == 1 { 4.0 } else { 2.0 };
        }
        pre + (s * acc * step / 3.0).ln_1p()
    }

    #[test]
    fn likelihood_matches_quadrature_in_both_branches() {
        for p in [P, [0.553, 15.0, 0.606, 3.0], [2.0, 1.0, 1.5, 1.0]] {
            for &(x, tx, t) in &[(0.0, 0.0, 38.86), (2.0, 30.43, 38.86), (5.0, 1.0, 30.0)] {
                let a = ll_row(p, x, tx, t);
                let b = ll_quadrature(p, x, tx, t);
                assert!((a - b).abs() < 1e-9, "{p:?} {x} {tx} {t}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn quadrature_matches_the_series_on_ordinary_values() {
        // Both ways of computing ln(second/first term), forced on the same rows, in both
        // branches of the series (α ≥ β and α < β), small and large frequencies.
        for p in [
            P,
            [0.553, 15.0, 0.606, 3.0],
            [2.0, 1.0, 1.5, 1.0],
            [0.3, 4.0, 2.5, 60.0],
        ] {
            let [r, alpha, s, beta] = p;
            for &(x, tx, t) in &[
                (1.0, 0.5, 38.86),
                (2.0, 30.43, 38.86),
                (5.0, 1.0, 30.0),
                (40.0, 10.0, 52.0),
            ] {
                let lfirst = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
                let (f_t, f_tx) = (
                    ln_f(r, alpha, s, beta, x, t),
                    ln_f(r, alpha, s, beta, x, tx),
                );
                let series =
                    s.ln() - (r + s + x).ln() + f_tx - lfirst + (-(f_t - f_tx).exp_m1()).ln();
                let quad = s.ln() + ln_tail_rel(r, alpha, s, beta, x, tx, t);
                assert!(
                    (series - quad).abs() < 1e-10,
                    "{p:?} {x} {tx} {t}: {series} vs {quad}"
                );
            }
        }
    }

    #[test]
    fn far_apart_alpha_and_beta_use_the_quadrature_and_stay_exact() {
        // β ≫ α + t: the series would need ~40 (β+t)/(α+t) terms; the quadrature's answer
        // must still match a brute-force integral (Simpson, written relative to the first
        // term with ln_1p: the naive (β+t)^−s of `ll_quadrature` underflows here).
        for p in [
            [0.47, 6.1, 4.6e4, 1.8e6],
            [0.5, 8.0, 0.02, 3.0e7],
            [0.5, 1e6, 0.7, 12.0],
        ] {
            assert!(series_slow(p[1], p[3], 40.0));
            for &(x, tx, t) in &[(0.0, 0.0, 40.0), (3.0, 12.5, 40.0), (20.0, 39.0, 40.0)] {
                let a = ll_row(p, x, tx, t);
                let b = ll_simpson_relative(p, x, tx, t);
                assert!((a - b).abs() < 1e-9, "{p:?} {x} {tx} {t}: {a} vs {b}");
                let pa = p_alive(p, x, tx, t);
                assert!((0.0..=1.0).contains(&pa), "{pa}");
            }
        }
    }

    #[test]
    fn boundary_is_named_only_when_beta_runs_away() {
        assert!(boundary(0.606, 11.669, 38.86).is_none());
        assert!(boundary(50.0, 3000.0, 38.86).is_none());
        let common = boundary(4.6e4, 1.8e6, 40.0).unwrap();
        assert!(
            common.contains("s/beta -> 0.02556") && common.contains("one dropout rate"),
            "{common}"
        );
        let none = boundary(0.02, 3.0e7, 40.0).unwrap();
        assert!(none.contains("no dropout"), "{none}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let d = Data {
            x: vec![0.0, 2.0, 7.0, 1.0],
            tx: vec![0.0, 30.43, 35.0, 20.0],
            t: vec![38.86, 38.86, 38.0, 20.0],
            w: vec![3.0, 1.0, 2.0, 1.0],
            ..Default::default()
        };
        for p in [P, [0.5, 15.0, 0.6, 3.0]] {
            let th = p.map(f64::ln);
            let dual = ll_sum(std::array::from_fn(|i| Dual::<4>::var(th[i], i).exp()), &d);
            for i in 0..4 {
                let h = 1e-6;
                let mut tp = th;
                let mut tm = th;
                tp[i] += h;
                tm[i] -= h;
                let f = |t: [f64; 4]| ll_sum(t.map(f64::exp), &d);
                let fd = (f(tp) - f(tm)) / (2.0 * h);
                assert!((dual.d[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "{i}");
            }
        }
    }

    #[test]
    fn level_and_pair_caches_do_not_change_the_likelihood() {
        // Few distinct (x, T) and t_x values: compress() indexes them; the sum must equal the
        // plain per-row evaluation.
        let mut x = Vec::new();
        let mut tx = Vec::new();
        let mut t = Vec::new();
        for i in 0..400 {
            let xi = (i % 4) as f64;
            let ti = 30.0 + (i % 3) as f64;
            x.push(xi);
            tx.push(if xi == 0.0 {
                0.0
            } else {
                1.0 + (i % 29) as f64
            });
            t.push(ti);
        }
        let d = crate::models::compress::compress(&x, &tx, &t, None);
        assert!(d.pairs_xt().is_some() && d.t_levels.is_some());
        let direct: f64 = (0..x.len()).map(|i| ll_row(P, x[i], tx[i], t[i])).sum();
        assert!((ll_sum(P, &d) - direct).abs() < 1e-9 * direct.abs());
        let bg = crate::models::bgnbd::Variant::Bg;
        let p = [0.243, 4.414, 0.793, 2.426];
        let direct: f64 = (0..x.len())
            .map(|i| crate::models::bgnbd::ll_row(p, x[i], tx[i], t[i], bg))
            .sum();
        assert!((crate::models::bgnbd::ll_sum(p, &d, bg) - direct).abs() < 1e-9 * direct.abs());
    }

    #[test]
    fn pmf_sums_to_one_and_matches_mean() {
        let t = 39.0;
        let probs: Vec<f64> = (0..300).map(|n| p_purchases(P, n, t)).collect();
        let total: f64 = probs.iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let mean: f64 = probs.iter().enumerate().map(|(n, p)| n as f64 * p).sum();
        assert!((mean - uncond_expected(P, t)).abs() < 1e-7, "{mean}");
    }

    #[test]
    fn extremes_are_finite() {
        for &(x, tx, t) in &[
            (500.0, 9999.0, 10_000.0),
            (500.0, 1.0, 10_000.0),
            (0.0, 0.0, 1e5),
        ] {
            let ll = ll_row(P, x, tx, t);
            let pa = p_alive(P, x, tx, t);
            let e = cond_expected(P, x, tx, t, 52.0);
            assert!(
                ll.is_finite() && pa.is_finite() && e.is_finite(),
                "{x} {tx} {t}"
            );
            assert!((0.0..=1.0).contains(&pa));
        }
    }
}
