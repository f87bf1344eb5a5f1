//! GGom/NBD's predictions for a new customer and a customer alive at T: the expected number
//! of purchases, the PMF, and the posterior that turns the second into the first.
//!
//! Why one posterior: alive at T, λ's posterior is Gamma(r+x, α+T) and η's Gamma(s, β +
//! e^{bT} − 1), and the residual lifetime is again Gamma-Gompertz, so a customer alive at T
//! restarts as a new customer with other parameters (`posterior`): every conditional
//! prediction is a new-customer one at those parameters, times P(alive).

use super::{ln_beta_exp, PRED_REL};
use crate::models::quad::integrate;
use crate::models::special::lgamma;

/// ∫_0^t S(u) du, the expected time alive in (0, t] of a new customer.
fn expected_lifetime(b: f64, s: f64, beta: f64, t: f64) -> f64 {
    let lb = beta.ln();
    integrate(
        &|u: f64| (s * (lb - ln_beta_exp(beta, b * u))).exp(),
        0.0,
        t,
        PRED_REL,
    )
}

/// E[X(t)] = r/α ∫_0^t S(u) du.
pub fn uncond_expected(p: [f64; 5], t: f64) -> f64 {
    let [r, alpha, b, s, beta] = p;
    if t <= 0.0 {
        return 0.0;
    }
    r / alpha * expected_lifetime(b, s, beta, t)
}

/// The parameters of a customer alive at T with x repeat purchases (see the module note).
pub fn posterior(p: [f64; 5], x: f64, t_obs: f64) -> [f64; 5] {
    let [r, alpha, b, s, beta] = p;
    let bt = b * t_obs;
    [
        r + x,
        alpha + t_obs,
        b,
        s,
        beta * (-bt).exp() - (-bt).exp_m1(),
    ]
}

/// P(X(t) = n) of a new customer: alive throughout with n purchases, or dead at τ < t with n
/// before, NB(n; r, α/(α+τ)) being the gamma–Poisson count up to τ:
///   P = NB(n; r, α/(α+t)) S(t) + ∫_0^t NB(n; r, α/(α+τ)) f(τ) dτ.
pub fn p_purchases(p: [f64; 5], n: u64, t: f64) -> f64 {
    let [r, alpha, b, s, beta] = p;
    let nf = n as f64;
    if t <= 0.0 {
        return if n == 0 { 1.0 } else { 0.0 };
    }
    let lnb_c = lgamma(r + nf) - lgamma(r) - lgamma(nf + 1.0);
    let ln_nb = |tau: f64| -> f64 {
        if tau <= 0.0 {
            return if n == 0 { 0.0 } else { f64::NEG_INFINITY };
        }
        lnb_c + r * (alpha / (alpha + tau)).ln() + nf * (tau / (alpha + tau)).ln()
    };
    let ln_f0 = b.ln() + s.ln() + s * beta.ln();
    let alive = (ln_nb(t) + s * (beta.ln() - ln_beta_exp(beta, b * t))).exp();
    let dead =
        |tau: f64| (ln_nb(tau) + ln_f0 + b * tau - (s + 1.0) * ln_beta_exp(beta, b * tau)).exp();
    alive + integrate(&dead, 0.0, t, PRED_REL)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bemmaor & Glady (2012), Table 2 (CDNOW).
    const P: [f64; 5] = [0.553, 10.578, 0.0002, 0.603, 0.0026];
    /// Away from the Pareto/NBD limit: a Gompertz ageing of about a tenth per week.
    const Q: [f64; 5] = [0.85, 4.45, 0.12, 0.75, 9.55];

    #[test]
    fn pmf_sums_to_one_and_matches_mean() {
        for p in [P, Q] {
            let t = 39.0;
            let probs: Vec<f64> = (0..300).map(|n| p_purchases(p, n, t)).collect();
            let total: f64 = probs.iter().sum();
            assert!((total - 1.0).abs() < 1e-9, "{total}");
            let mean: f64 = probs.iter().enumerate().map(|(n, p)| n as f64 * p).sum();
            assert!((mean - uncond_expected(p, t)).abs() < 1e-7, "{mean}");
        }
    }

    #[test]
    fn posterior_survival_is_the_conditional_survival() {
        // S_T(u) of the posterior parameters equals S(T+u)/S(T) for every η mixed over its
        // posterior: check at the population level, where both are Gamma-Gompertz ratios.
        let [_, _, b, s, beta] = Q;
        let (t0, u) = (10.0, 7.5);
        let surv = |beta: f64, t: f64| (beta / (beta + (b * t).exp_m1())).powf(s);
        let post = posterior(Q, 0.0, t0);
        let direct = surv(beta, t0 + u) / surv(beta, t0);
        assert!((surv(post[4], u) - direct).abs() < 1e-13);
    }
}
