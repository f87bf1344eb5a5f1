//! P(X(T, T+t] = n | x, t_x, T): the conditional distribution of future purchase counts.
//!
//! Given its history, a customer still alive at T restarts as a new customer of a model with
//! posterior parameters, because the alive-at-T likelihood factorises:
//! λ^x e^(−λT) (Poisson part) times the survival part.
//! - BG/NBD: λ | · ~ Gamma(r+x, α+T); p | · ~ Beta(a, b+x) (x survived drop-out coins); the
//!   next coin is tossed after the next purchase, so the future is BG/NBD(r+x, α+T, a, b+x).
//! - MBG/NBD: the same but the customer survived x+1 coins (one at time 0), so
//!   p | · ~ Beta(a, b+x+1). The restarted process has no coin at its start (the customer is
//!   known to be alive at T), so it is BG/NBD(r+x, α+T, a, b+x+1), not MBG/NBD.
//! - Pareto/NBD: λ | · ~ Gamma(r+x, α+T), μ | · ~ Gamma(s, β+T) (memoryless lifetime): the
//!   future is Pareto/NBD(r+x, α+T, s, β+T).
//!
//! Then P(n | ·) = P(alive) · PMF(n, t; posterior) + (1 − P(alive)) · [n = 0]. Its mean is
//! P(alive) · E[X(t); posterior], the conditional expectation (FHL 2005 eq. 10 is exactly
//! this), which the tests check.

use super::bgnbd::{self, Variant};
use super::pareto_nbd;
use super::Model;

/// P(X(T, T+t] = n | x, t_x, T) for BG/NBD, MBG/NBD and Pareto/NBD (None for other models).
pub fn cond_p_purchases(
    m: Model,
    p: [f64; 4],
    n: u64,
    t: f64,
    x: f64,
    tx: f64,
    t_obs: f64,
) -> Option<f64> {
    let pa = p_alive(m, p, x, tx, t_obs)?;
    Some(combine(pa, posterior_pmf(m, p, n, t, x, t_obs)?, n))
}

/// P(alive at T | x, t_x, T).
pub fn p_alive(m: Model, p: [f64; 4], x: f64, tx: f64, t_obs: f64) -> Option<f64> {
    Some(match m {
        Model::BgNbd => bgnbd::p_alive(p, x, tx, t_obs, Variant::Bg),
        Model::MbgNbd => bgnbd::p_alive(p, x, tx, t_obs, Variant::Mbg),
        Model::ParetoNbd => pareto_nbd::p_alive(p, x, tx, t_obs),
        _ => return None,
    })
}

/// P(alive) · pmf + (1 − P(alive)) · [n = 0].
pub fn combine(pa: f64, pmf: f64, n: u64) -> f64 {
    if n == 0 {
        pa * pmf + (1.0 - pa)
    } else {
        pa * pmf
    }
}

/// PMF(n, t) of the restarted process of a customer alive at T after x repeat purchases;
/// depends on (x, T) only, not on t_x.
pub fn posterior_pmf(m: Model, p: [f64; 4], n: u64, t: f64, x: f64, t_obs: f64) -> Option<f64> {
    if !matches!(m, Model::BgNbd | Model::MbgNbd | Model::ParetoNbd) {
        return None;
    }
    if t <= 0.0 {
        return Some(if n == 0 { 1.0 } else { 0.0 });
    }
    let [r, alpha, a, b] = p;
    Some(match m {
        Model::BgNbd => bgnbd::p_purchases([r + x, alpha + t_obs, a, b + x], n, t, Variant::Bg),
        Model::MbgNbd => {
            bgnbd::p_purchases([r + x, alpha + t_obs, a, b + x + 1.0], n, t, Variant::Bg)
        }
        _ => pareto_nbd::p_purchases([r + x, alpha + t_obs, a, b + t_obs], n, t),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BG: [f64; 4] = [0.243, 4.414, 0.793, 2.426];
    const PN: [f64; 4] = [0.553, 10.578, 0.606, 11.669];

    fn expected(m: Model, p: [f64; 4], x: f64, tx: f64, t_obs: f64, t: f64) -> f64 {
        match m {
            Model::BgNbd => bgnbd::cond_expected(p, x, tx, t_obs, t, Variant::Bg),
            Model::MbgNbd => bgnbd::cond_expected(p, x, tx, t_obs, t, Variant::Mbg),
            _ => pareto_nbd::cond_expected(p, x, tx, t_obs, t),
        }
    }

    #[test]
    fn sums_to_one_and_matches_conditional_mean() {
        for (m, p) in [
            (Model::BgNbd, BG),
            (Model::MbgNbd, BG),
            (Model::ParetoNbd, PN),
        ] {
            for &(x, tx, t_obs) in &[
                (0.0, 0.0, 38.86),
                (2.0, 30.43, 38.86),
                (7.0, 35.0, 38.0),
                (1.0, 2.0, 30.0),
            ] {
                let t = 39.0;
                let probs: Vec<f64> = (0..400)
                    .map(|n| cond_p_purchases(m, p, n, t, x, tx, t_obs).unwrap())
                    .collect();
                let total: f64 = probs.iter().sum();
                let mean: f64 = probs.iter().enumerate().map(|(n, q)| n as f64 * q).sum();
                let e = expected(m, p, x, tx, t_obs, t);
                assert!(
                    (total - 1.0).abs() < 1e-9,
                    "{m:?} {x} {tx} {t_obs}: {total}"
                );
                assert!(
                    (mean - e).abs() < 1e-7 * (1.0 + e),
                    "{m:?} {x}: {mean} vs {e}"
                );
            }
        }
    }

    #[test]
    fn zero_horizon_and_high_frequency() {
        let q = cond_p_purchases(Model::BgNbd, BG, 0, 0.0, 3.0, 10.0, 20.0).unwrap();
        assert_eq!(q, 1.0);
        for m in [Model::BgNbd, Model::MbgNbd, Model::ParetoNbd] {
            let p = if m == Model::ParetoNbd { PN } else { BG };
            for n in [0, 5, 50, 500] {
                let q = cond_p_purchases(m, p, n, 52.0, 500.0, 9999.0, 10_000.0).unwrap();
                assert!(q.is_finite() && (0.0..=1.0).contains(&q), "{m:?} {n}: {q}");
            }
        }
        assert!(cond_p_purchases(Model::GammaGamma, BG, 0, 1.0, 0.0, 0.0, 1.0).is_none());
    }
}
