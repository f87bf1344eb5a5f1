//! P(X(T, T+t] = n | x, t_x, T): the conditional distribution of future purchase counts, for
//! any [`BtydModel`] that declares how (`ConditionalPmf`).
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
//! this), which the tests check. BG/BB's PMF depends on the whole history instead
//! (`ConditionalPmf::History`, see `bgbb::cond_p_purchases`).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use pyo3::PyResult;
use rayon::prelude::*;

use super::compress::{self, Cols, FxHasher};
use super::model::{BtydModel, ConditionalPmf};
use crate::error::core_err;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// P(X(T, T+t] = n | x, t_x, T) for one history (None when the model has no such PMF).
pub fn cond_p_purchases<M: BtydModel>(
    m: &M,
    p: M::Params,
    n: u64,
    t: f64,
    x: f64,
    tx: f64,
    t_obs: f64,
) -> Option<f64> {
    match M::CONDITIONAL {
        ConditionalPmf::Unavailable => None,
        ConditionalPmf::Posterior => Some(combine(
            m.p_alive(p, x, tx, t_obs),
            posterior(m, p, n, t, x, t_obs),
            n,
        )),
        ConditionalPmf::History => Some(m.history_pmf(p, n, t as u64, x, tx, t_obs)),
    }
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
pub fn posterior<M: BtydModel>(m: &M, p: M::Params, n: u64, t: f64, x: f64, t_obs: f64) -> f64 {
    if t <= 0.0 {
        return if n == 0 { 1.0 } else { 0.0 };
    }
    m.posterior_pmf(p, n, t, x, t_obs)
}

/// Rows in messages count from 1 (the project's convention: row 1 is the first data row).
pub fn check_counts(x: &[f64], what: &str) -> PyResult<()> {
    if let Some(i) = x
        .iter()
        .position(|v| !(v.is_finite() && *v >= 0.0 && v.fract() == 0.0))
    {
        return Err(core_err(format!(
            "column '{what}': row {}: expected a non-negative whole number, got {}",
            i + 1,
            x[i]
        )));
    }
    Ok(())
}

/// The conditional PMF per row: once per distinct (x, T) (`Posterior`) or distinct history
/// (`History`), then a parallel row pass.
pub fn p_purchases_rows<M: BtydModel>(
    m: &M,
    p: M::Params,
    c: Cols<'_>,
    n: u64,
    horizon: f64,
) -> PyResult<Vec<f64>> {
    let Cols { x, tx, t: tv } = c;
    match M::CONDITIONAL {
        ConditionalPmf::Unavailable => Err(core_err(format!(
            "conditional_p_purchases is not available for {}",
            m.kind()
        ))),
        ConditionalPmf::History => {
            // The cost per distinct history grows with the horizon (one term per opportunity).
            if horizon.fract() != 0.0 || horizon > 1e7 {
                return Err(core_err(format!(
                    "horizon must be a whole number of opportunities (at most 1e7) for {}, \
                     got {horizon}",
                    m.kind()
                )));
            }
            check_counts(tx, "recency")?;
            check_counts(tv, "T")?;
            let mut keys: FxMap<(u64, u64, u64), usize> = FxMap::default();
            let mut uniq: Vec<(f64, f64, f64)> = Vec::new();
            let idx: Vec<usize> = (0..x.len())
                .map(|i| {
                    let k = (x[i].to_bits(), tx[i].to_bits(), tv[i].to_bits());
                    *keys.entry(k).or_insert_with(|| {
                        uniq.push((x[i], tx[i], tv[i]));
                        uniq.len() - 1
                    })
                })
                .collect();
            let pmf: Vec<f64> = uniq
                .par_iter()
                .map(|&(xi, txi, ni)| m.history_pmf(p, n, horizon as u64, xi, txi, ni))
                .collect();
            Ok(idx.iter().map(|&j| pmf[j]).collect())
        }
        ConditionalPmf::Posterior => {
            let pairs = compress::PairIndex::new(x, tv);
            let post = |xi: f64, ti: f64| posterior(m, p, n, horizon, xi, ti);
            let pmf: Vec<f64> = pairs
                .uniq
                .par_iter()
                .map(|&(xi, ti)| post(xi, ti))
                .collect();
            Ok((0..x.len())
                .into_par_iter()
                .with_min_len(1024)
                .map(|i| {
                    let pa = m.p_alive(p, x[i], tx[i], tv[i]);
                    let q = pairs
                        .get(x[i], tv[i])
                        .map_or_else(|| post(x[i], tv[i]), |j| pmf[j]);
                    combine(pa, q, n)
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::bgbb::BgBb;
    use crate::models::bgnbd::{BgNbd, Variant};
    use crate::models::pareto_nbd::ParetoNbd;

    const BG: [f64; 4] = [0.243, 4.414, 0.793, 2.426];
    const PN: [f64; 4] = [0.553, 10.578, 0.606, 11.669];

    /// Sums to one and its mean is the conditional expectation row_factor · bracket.
    fn check_sums<M: BtydModel<Params = [f64; 4]>>(m: &M, p: [f64; 4]) {
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
            let e = m.row_factor(p, x, tx, t_obs) * m.bracket(p, x, t_obs, t);
            let k = m.kind();
            assert!((total - 1.0).abs() < 1e-9, "{k} {x} {tx} {t_obs}: {total}");
            assert!(
                (mean - e).abs() < 1e-7 * (1.0 + e),
                "{k} {x}: {mean} vs {e}"
            );
        }
    }

    #[test]
    fn sums_to_one_and_matches_conditional_mean() {
        check_sums(&BgNbd(Variant::Bg), BG);
        check_sums(&BgNbd(Variant::Mbg), BG);
        check_sums(&ParetoNbd, PN);
    }

    #[test]
    fn zero_horizon_and_high_frequency() {
        let bg = BgNbd(Variant::Bg);
        assert_eq!(
            cond_p_purchases(&bg, BG, 0, 0.0, 3.0, 10.0, 20.0),
            Some(1.0)
        );
        fn extremes<M: BtydModel<Params = [f64; 4]>>(m: &M, p: [f64; 4]) {
            for n in [0, 5, 50, 500] {
                let q = cond_p_purchases(m, p, n, 52.0, 500.0, 9999.0, 10_000.0).unwrap();
                assert!(
                    q.is_finite() && (0.0..=1.0).contains(&q),
                    "{} {n}: {q}",
                    m.kind()
                );
            }
        }
        extremes(&bg, BG);
        extremes(&BgNbd(Variant::Mbg), BG);
        extremes(&ParetoNbd, PN);
    }

    #[test]
    fn bg_bb_rows_use_the_history_pmf() {
        let p = [1.204, 0.750, 0.657, 2.783];
        let (x, tx, t) = ([0.0, 3.0, 3.0], [0.0, 4.0, 4.0], [6.0, 6.0, 6.0]);
        let c = Cols {
            x: &x,
            tx: &tx,
            t: &t,
        };
        let got = p_purchases_rows(&BgBb, p, c, 1, 5.0).unwrap();
        for i in 0..3 {
            let want = crate::models::bgbb::cond_p_purchases(p, 1, 5, x[i], tx[i], t[i]);
            assert_eq!(got[i], want);
        }
        assert!(p_purchases_rows(&BgBb, p, c, 1, 2.5).is_err());
    }
}
