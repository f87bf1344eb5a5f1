//! Prediction intervals from parameter draws, for any [`BtydModel`].
//!
//! A draw is one parameter vector: either from the asymptotic normal of the log-parameters
//! ([`normal_draws`]) or a refit on customers resampled with replacement ([`bootstrap`]).
//! A prediction is evaluated for every draw once per distinct (x, t_x, T) pattern, not per
//! row, and the per-pattern quantiles are then copied to the rows: the cost is
//! patterns × draws model evaluations plus one pass over the rows.

use pyo3::PyResult;
use rayon::prelude::*;

use super::compress::{row_patterns, Cols, Data};
use super::conditional::{combine, posterior};
use super::fit::fit_data;
use super::model::{params, BtydModel, ConditionalPmf, Likelihood};
use super::simulate::Rng;
use super::spend::expected_spend;
use crate::error::core_err;

/// What is predicted per draw.
#[derive(Clone, Copy)]
pub enum Quantity<'a> {
    PAlive,
    /// Σ_i disc_i · (E[Y(times_i)] − E[Y(times_{i−1})]): expected purchases over one horizon
    /// (`times = [h]`, `disc = [1]`) or a discounted CLV without its spend factor.
    Discounted {
        times: &'a [f64],
        disc: &'a [f64],
    },
    /// P(X(T, T+horizon] = n | x, t_x, T).
    Conditional {
        n: u64,
        horizon: f64,
    },
}

/// `draws` parameter vectors on the natural scale: exp(N(ln θ̂, Σ_log)), where
/// Σ_log[i][j] = cov[i][j] / (θ̂_i θ̂_j) undoes the delta method that produced the
/// natural-scale covariance `cov` from the inverse Hessian of the log-parameters (`fit.rs`).
pub fn normal_draws(
    theta: &[f64],
    cov: &[Vec<f64>],
    draws: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>, String> {
    let k = theta.len();
    if cov.len() != k || cov.iter().any(|r| r.len() != k) {
        return Err(format!("covariance must be {k} x {k}"));
    }
    if theta.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
        return Err("parameters must be positive and finite".into());
    }
    let s: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| cov[i][j] / (theta[i] * theta[j])).collect())
        .collect();
    let l = cholesky(&s).ok_or("the covariance is not positive definite")?;
    let mut rng = Rng::new(seed);
    Ok((0..draws)
        .map(|_| {
            let z: Vec<f64> = (0..k).map(|_| rng.normal()).collect();
            (0..k)
                .map(|i| {
                    let e: f64 = (0..=i).map(|j| l[i][j] * z[j]).sum();
                    (theta[i].ln() + e).exp()
                })
                .collect()
        })
        .collect())
}

/// Lower-triangular L with L·Lᵀ = a (None unless a is symmetric positive definite).
fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            if (a[i][j] - a[j][i]).abs() > 1e-9 * (a[i][j].abs() + a[j][i].abs() + 1e-300) {
                return None;
            }
            let s: f64 = a[i][j] - (0..j).map(|m| l[i][m] * l[j][m]).sum::<f64>();
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    Some(l)
}

/// Refits on `draws` resamples of the customers (with replacement, as many as the total
/// weight of `d`), each started from `start`. A resample is multinomial counts over the
/// patterns of `d`, so each refit runs on at most as many patterns as the original fit.
/// Replicate b uses its own generator seeded from (seed, b): results do not depend on the
/// thread count. None for a refit that did not converge.
pub fn bootstrap<M: Likelihood>(
    m: &M,
    d: &Data,
    start: &[f64],
    draws: usize,
    seed: u64,
    max_iter: usize,
) -> Vec<Option<Vec<f64>>> {
    let mut cum = Vec::with_capacity(d.len());
    let mut acc = 0.0;
    for w in &d.w {
        acc += w;
        cum.push(acc);
    }
    let total = acc;
    let n = total.round().max(1.0) as usize;
    (0..draws)
        .into_par_iter()
        .map(|b| {
            let mut rng = Rng::new(seed ^ (b as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut counts = vec![0.0_f64; d.len()];
            for _ in 0..n {
                let u = rng.uniform() * total;
                let j = cum.partition_point(|&c| c <= u).min(d.len() - 1);
                counts[j] += 1.0;
            }
            let mut r = Data::default();
            for (j, &c) in counts.iter().enumerate() {
                if c > 0.0 {
                    r.x.push(d.x[j]);
                    r.tx.push(d.tx[j]);
                    r.t.push(d.t[j]);
                    r.w.push(c);
                }
            }
            r.index_columns();
            let out = fit_data(m, &r, Some(start.to_vec()), max_iter);
            out.converged.then_some(out.params)
        })
        .collect()
}

/// Distinct (x, t_x, T) rows in (x, T, t_x) order (patterns sharing (x, T) adjacent) and
/// each row's index into them.
pub fn patterns(c: Cols<'_>) -> (Vec<(f64, f64, f64)>, Vec<u32>) {
    let (u, idx) = row_patterns(c.x, c.t, c.tx);
    (u.into_iter().map(|(x, t, tx)| (x, tx, t)).collect(), idx)
}

/// Quantile q of the values (linear interpolation between order statistics, type 7, the
/// default of R and numpy), by selection (the values are reordered).
fn quantile(v: &mut [f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let k = h.floor() as usize;
    let (_, a, right) = v.select_nth_unstable_by(k, f64::total_cmp);
    let a = *a;
    let b = right.iter().copied().fold(f64::INFINITY, f64::min);
    if b.is_finite() {
        a + (h - k as f64) * (b - a)
    } else {
        a
    }
}

/// The part of a prediction that depends on (x, T) only, at parameters p: the discounted
/// bracket sum, or the restarted process's PMF (evaluated once per distinct pair and draw).
pub fn pair_part<M: BtydModel>(m: &M, p: M::Params, q: Quantity<'_>, x: f64, t: f64) -> f64 {
    match q {
        Quantity::PAlive => 1.0,
        Quantity::Discounted { times, disc } => {
            let mut prev = 0.0;
            let mut acc = 0.0;
            for (ti, di) in times.iter().zip(disc) {
                let cur = m.bracket(p, x, t, *ti);
                acc += (cur - prev) * di;
                prev = cur;
            }
            acc
        }
        Quantity::Conditional { n, horizon } => match M::CONDITIONAL {
            ConditionalPmf::Posterior => posterior(m, p, n, horizon, x, t),
            _ => f64::NAN,
        },
    }
}

/// The prediction of one pattern from its pair part.
pub fn finish<M: BtydModel>(
    m: &M,
    p: M::Params,
    q: Quantity<'_>,
    pair: f64,
    x: f64,
    tx: f64,
    t: f64,
) -> f64 {
    match q {
        Quantity::PAlive => m.p_alive(p, x, tx, t),
        Quantity::Discounted { .. } => m.row_factor(p, x, tx, t) * pair,
        Quantity::Conditional { n, horizon } => match M::CONDITIONAL {
            ConditionalPmf::Posterior => combine(m.p_alive(p, x, tx, t), pair, n),
            ConditionalPmf::History => m.history_pmf(p, n, horizon as u64, x, tx, t),
            ConditionalPmf::Unavailable => f64::NAN,
        },
    }
}

/// One prediction of one pattern at parameters p.
#[cfg(test)]
fn value<M: BtydModel>(m: &M, p: M::Params, q: Quantity<'_>, x: f64, tx: f64, t: f64) -> f64 {
    finish(m, p, q, pair_part(m, p, q, x, t), x, tx, t)
}

/// Refuses a conditional PMF the model does not have, or a horizon it cannot take.
pub fn check_quantity<M: BtydModel>(m: &M, q: Quantity<'_>) -> PyResult<()> {
    if let (Quantity::Conditional { horizon, .. }, kind) = (q, M::CONDITIONAL) {
        if kind == ConditionalPmf::Unavailable {
            return Err(core_err(format!(
                "conditional_p_purchases is not available for {}",
                m.kind()
            )));
        }
        if kind == ConditionalPmf::History && (horizon.fract() != 0.0 || horizon > 1e7) {
            return Err(core_err(format!(
                "horizon must be a whole number of opportunities (at most 1e7) for {}, \
                 got {horizon}",
                m.kind()
            )));
        }
    }
    Ok(())
}

/// `f(j, values)` for every distinct pattern j of `uniq` (from [`patterns`]), where `values[k]` is the
/// prediction of pattern j at `ps[k]` (non-finite values included). Patterns are grouped by
/// (x, T): the pair part is evaluated once per pair and parameter vector, the rest once per
/// pattern and parameter vector.
pub fn per_pattern<M: BtydModel, R: Send>(
    m: &M,
    ps: &[M::Params],
    q: Quantity<'_>,
    uniq: &[(f64, f64, f64)],
    f: impl Fn(usize, &mut Vec<f64>) -> R + Sync,
) -> Vec<R> {
    // Runs of patterns sharing one (x, T) pair (`patterns` puts them next to each other).
    let order: Vec<u32> = (0..uniq.len() as u32).collect();
    let mut runs: Vec<&[u32]> = Vec::new();
    let mut rest: &[u32] = &order;
    while let Some(&first) = rest.first() {
        let (x0, _, t0) = uniq[first as usize];
        let len = rest
            .iter()
            .position(|&j| {
                let (x, _, t) = uniq[j as usize];
                x != x0 || t != t0
            })
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(len);
        runs.push(run);
        rest = tail;
    }
    runs.par_iter()
        .flat_map_iter(|run| {
            let (x, _, t) = uniq[run[0] as usize];
            let pair: Vec<f64> = ps.iter().map(|&p| pair_part(m, p, q, x, t)).collect();
            let mut buf = Vec::with_capacity(ps.len());
            run.iter()
                .map(|&j| {
                    let (x, tx, t) = uniq[j as usize];
                    buf.clear();
                    buf.extend(
                        ps.iter()
                            .zip(&pair)
                            .map(|(&p, &k)| finish(m, p, q, k, x, tx, t)),
                    );
                    f(j as usize, &mut buf)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Gamma-Gamma spend per purchase drawn jointly with the purchase model's draws: draw k of
/// the purchase parameters is paired with draw k of (p, q, v), and row i's value at draw k
/// is the purchase quantity times E[spend | frequency_i, monetary_i] at that draw.
pub struct SpendDraws<'a> {
    pub monetary: &'a [f64],
    pub draws: &'a [[f64; 3]],
}

/// (lower, upper) quantiles `probs` of the finite values (reordered); NaN unless at least
/// half of `n` values are finite.
fn finite_quantiles(v: &mut Vec<f64>, n: usize, probs: [f64; 2]) -> (f64, f64) {
    v.retain(|x| x.is_finite());
    if v.len() < n.div_ceil(2) {
        (f64::NAN, f64::NAN)
    } else {
        (quantile(v, probs[0]), quantile(v, probs[1]))
    }
}

/// Per-row (lower, upper) quantiles `probs` of the prediction over the parameter draws
/// (times the Gamma-Gamma spend at the same draw, with `spend`). Draws whose prediction is
/// not finite (a draw far in the tail, where a series does not converge) are left out of
/// that pattern's quantiles; a pattern with fewer than half of the draws finite gets NaN,
/// which Python reports with the row.
pub fn quantile_rows<M: BtydModel>(
    m: &M,
    draws: &[Vec<f64>],
    q: Quantity<'_>,
    c: Cols<'_>,
    probs: [f64; 2],
    spend: Option<SpendDraws<'_>>,
) -> PyResult<(Vec<f64>, Vec<f64>)> {
    if draws.is_empty() {
        return Err(core_err("no parameter draws"));
    }
    let ps: Vec<M::Params> = draws
        .iter()
        .map(|d| params(m, d))
        .collect::<PyResult<_>>()?;
    check_quantity(m, q)?;
    let (uniq, idx) = patterns(c);
    let n = ps.len();
    let Some(sp) = spend else {
        let bounds = per_pattern(m, &ps, q, &uniq, |_, v| finite_quantiles(v, n, probs));
        return Ok(idx
            .par_iter()
            .with_min_len(4096)
            .map(|&j| bounds[j as usize])
            .unzip());
    };
    if sp.draws.len() != n || sp.monetary.len() != c.x.len() {
        return Err(core_err(
            "spend draws must match the purchase draws, and monetary values the rows",
        ));
    }
    // Rows of each pattern (counting sort), so a pattern's draws meet its rows' spends.
    let mut start = vec![0usize; uniq.len() + 1];
    for &j in &idx {
        start[j as usize + 1] += 1;
    }
    for j in 0..uniq.len() {
        start[j + 1] += start[j];
    }
    let mut fill = start.clone();
    let mut rows_of = vec![0u32; idx.len()];
    for (i, &j) in idx.iter().enumerate() {
        rows_of[fill[j as usize]] = i as u32;
        fill[j as usize] += 1;
    }
    let per = per_pattern(m, &ps, q, &uniq, |j, v| {
        let x = uniq[j].0;
        let mut buf = Vec::with_capacity(n);
        let mut at_zero: Option<(f64, f64)> = None;
        rows_of[start[j]..start[j + 1]]
            .iter()
            .map(|&i| {
                // Without repeat purchases the spend does not depend on the monetary value.
                if x == 0.0 {
                    if let Some(b) = at_zero {
                        return (i, b);
                    }
                }
                let mv = sp.monetary[i as usize];
                buf.clear();
                buf.extend(
                    v.iter()
                        .zip(sp.draws)
                        .map(|(e, g)| e * expected_spend(*g, x, mv)),
                );
                let b = finite_quantiles(&mut buf, n, probs);
                if x == 0.0 {
                    at_zero = Some(b);
                }
                (i, b)
            })
            .collect::<Vec<_>>()
    });
    let mut lo = vec![f64::NAN; idx.len()];
    let mut hi = vec![f64::NAN; idx.len()];
    for (i, (a, b)) in per.into_iter().flatten() {
        lo[i as usize] = a;
        hi[i as usize] = b;
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::bgnbd::{BgNbd, Variant};
    use crate::models::compress::compress;

    #[test]
    fn normal_draws_have_the_log_scale_covariance() {
        let theta = [0.5, 4.0];
        // Natural-scale covariance of log-sds 0.1 and 0.2 with correlation 0.5.
        let sl = [[0.01, 0.01], [0.01, 0.04]];
        let cov: Vec<Vec<f64>> = (0..2)
            .map(|i| (0..2).map(|j| sl[i][j] * theta[i] * theta[j]).collect())
            .collect();
        let d = normal_draws(&theta, &cov, 40_000, 3).unwrap();
        let logs: Vec<[f64; 2]> = d.iter().map(|v| [v[0].ln(), v[1].ln()]).collect();
        let n = logs.len() as f64;
        let mean: Vec<f64> = (0..2)
            .map(|i| logs.iter().map(|v| v[i]).sum::<f64>() / n)
            .collect();
        for i in 0..2 {
            assert!((mean[i] - theta[i].ln()).abs() < 0.005, "{mean:?}");
            for j in 0..2 {
                let c = logs
                    .iter()
                    .map(|v| (v[i] - mean[i]) * (v[j] - mean[j]))
                    .sum::<f64>()
                    / n;
                assert!((c - sl[i][j]).abs() < 0.002, "{i}{j}: {c}");
            }
        }
        assert!(normal_draws(&theta, &[vec![1.0, 0.0], vec![0.0, -1.0]], 5, 1).is_err());
        assert_eq!(
            normal_draws(&theta, &cov, 7, 9),
            normal_draws(&theta, &cov, 7, 9)
        );
    }

    #[test]
    fn quantiles_bracket_the_point_and_follow_rows() {
        let m = BgNbd(Variant::Bg);
        let p = [0.243, 4.414, 0.793, 2.426];
        let s = [0.02, 0.3, 0.1, 0.4];
        let cov: Vec<Vec<f64>> = (0..4)
            .map(|i| {
                (0..4)
                    .map(|j| if i == j { s[i] * s[i] } else { 0.0 })
                    .collect()
            })
            .collect();
        let draws = normal_draws(&p, &cov, 300, 1).unwrap();
        let (x, tx, t) = (
            [0.0, 2.0, 0.0, 5.0],
            [0.0, 30.0, 0.0, 20.0],
            [38.0, 38.0, 38.0, 38.0],
        );
        let c = Cols {
            x: &x,
            tx: &tx,
            t: &t,
        };
        let q = Quantity::Discounted {
            times: &[39.0],
            disc: &[1.0],
        };
        let (lo, hi) = quantile_rows(&m, &draws, q, c, [0.05, 0.95], None).unwrap();
        for i in 0..4 {
            let point = value(&m, p, q, x[i], tx[i], t[i]);
            assert!(
                lo[i] < point && point < hi[i],
                "{i}: {} {point} {}",
                lo[i],
                hi[i]
            );
        }
        assert_eq!((lo[0], hi[0]), (lo[2], hi[2]));
        let (pl, ph) = quantile_rows(&m, &draws, Quantity::PAlive, c, [0.05, 0.95], None).unwrap();
        assert!(pl[3] < ph[3] && ph[3] <= 1.0);
    }

    #[test]
    fn bootstrap_refits_scatter_around_the_estimate() {
        let m = BgNbd(Variant::Bg);
        let p = [0.5, 5.0, 0.7, 2.5];
        let t = vec![40.0; 4000];
        let (x, tx) = crate::models::simulate::summaries(&m, p, &t, 11, Some(1.0));
        let d = compress(&x, &tx, &t, None);
        let fit = fit_data(&m, &d, None, 500);
        let reps = bootstrap(&m, &d, &fit.params, 40, 5, 500);
        let ok: Vec<&Vec<f64>> = reps.iter().flatten().collect();
        assert!(ok.len() >= 36, "{} converged", ok.len());
        let se = fit.se.unwrap();
        for k in 0..4 {
            let mean = ok.iter().map(|v| v[k]).sum::<f64>() / ok.len() as f64;
            let sd = (ok.iter().map(|v| (v[k] - mean).powi(2)).sum::<f64>()
                / (ok.len() - 1) as f64)
                .sqrt();
            // The bootstrap spread estimates the same sampling error as the Hessian.
            assert!(
                sd > 0.5 * se[k] && sd < 2.0 * se[k],
                "{k}: {sd} vs {}",
                se[k]
            );
        }
        assert_eq!(reps, bootstrap(&m, &d, &fit.params, 40, 5, 500));
    }
}
