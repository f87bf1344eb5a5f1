//! [`Kernels`]: every Python-facing operation of a model behind its kind name, the one place
//! the code goes from a run-time kind to compiled, model-specific loops. Implemented once for
//! all purchase models (`Purchase<M>`, generic over [`BtydModel`]) and once for Gamma-Gamma.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use pyo3::PyResult;
use rayon::prelude::*;

pub use super::compress::Cols;
use super::compress::{self, Data, FxHasher};
use super::conditional;
use super::delta::{self, SpendDelta};
use super::fit::{fit_data, fit_external, FitOut, Total};
use super::intervals::{self, Quantity, SpendDraws};
use super::model::{params, BtydModel, ConditionalPmf};
use super::simulate;
use crate::error::core_err;

/// A model as the Python functions see it (object-safe; each call runs generic code).
pub trait Kernels: Sync {
    fn kind(&self) -> &'static str;
    fn n_params(&self) -> usize;
    fn second_column(&self) -> &'static str;
    fn fit(&self, d: &Data, start: Option<Vec<f64>>, max_iter: usize) -> FitOut;
    fn log_likelihood(&self, p: &[f64], d: &Data) -> f64;
    /// Log-likelihood of `d` and its gradient in the log-parameters `theta`: one part of a
    /// likelihood summed elsewhere (a Spark partition's patterns).
    fn ll_grad_log(&self, theta: &[f64], d: &Data) -> (f64, Vec<f64>);
    /// `fit` on patterns held elsewhere (see [`fit::fit_external`](super::fit::fit_external)).
    #[allow(clippy::too_many_arguments)]
    fn fit_external(
        &self,
        total: Total<'_>,
        sample: &Data,
        wsum: f64,
        n_patterns: usize,
        start: Option<Vec<f64>>,
        max_iter: usize,
    ) -> FitOut;
    /// Per-row predictions: p_alive, expected_purchases (over `horizon`), log_likelihood,
    /// expected_spend.
    fn predict(&self, what: &str, p: &[f64], c: Cols<'_>, horizon: f64) -> PyResult<Vec<f64>>;
    /// New-customer predictions per horizon: expected_purchases, p_purchases (of n).
    fn predict_new(&self, what: &str, p: &[f64], t: &[f64], n: u64) -> PyResult<Vec<f64>>;
    /// A new customer's P(X(t_i) = n), n = 0..=nmax, one row per horizon.
    fn pmf_new(&self, _p: &[f64], _t: &[f64], _nmax: u64) -> PyResult<Vec<Vec<f64>>> {
        Err(core_err(format!(
            "the purchase PMF is not available for {}",
            self.kind()
        )))
    }
    fn conditional_pmf(&self) -> ConditionalPmf;
    /// E[Y(h_i) | x_i, t_x_i, T_i] per row, each row with its own horizon h_i.
    fn expected_purchases_rows(&self, _p: &[f64], _c: Cols<'_>, _h: &[f64]) -> PyResult<Vec<f64>> {
        Err(core_err(format!(
            "expected purchases are not available for {}",
            self.kind()
        )))
    }
    /// P(X(T, T+horizon] = n | x, t_x, T) per row.
    fn conditional_p_purchases(
        &self,
        p: &[f64],
        c: Cols<'_>,
        n: u64,
        horizon: f64,
    ) -> PyResult<Vec<f64>>;
    /// Σ_i disc_i · (E[Y(times_i)] − E[Y(times_{i−1})]) per row.
    fn discounted(&self, p: &[f64], c: Cols<'_>, times: &[f64], disc: &[f64])
        -> PyResult<Vec<f64>>;
    /// Simulated (frequency, recency) per customer observed for t[i].
    fn simulate_summary(
        &self,
        p: &[f64],
        t: &[f64],
        seed: u64,
        resolution: Option<f64>,
    ) -> PyResult<(Vec<f64>, Vec<f64>)>;
    /// Simulated repeat purchase times per customer observed for t[i].
    fn simulate_times(
        &self,
        p: &[f64],
        t: &[f64],
        seed: u64,
        resolution: Option<f64>,
    ) -> PyResult<Vec<Vec<f64>>>;
    /// Per-row (lower, upper) quantiles `probs` of a prediction over parameter draws.
    fn interval(
        &self,
        _q: Quantity<'_>,
        _draws: &[Vec<f64>],
        _c: Cols<'_>,
        _probs: [f64; 2],
        _spend: Option<SpendDraws<'_>>,
    ) -> PyResult<(Vec<f64>, Vec<f64>)> {
        Err(core_err(format!(
            "prediction intervals are not available for {}",
            self.kind()
        )))
    }
    /// Per-row (lower, upper) bounds of a prediction by the delta method (`delta.rs`).
    #[allow(clippy::too_many_arguments)]
    fn delta_interval(
        &self,
        _q: Quantity<'_>,
        _theta: &[f64],
        _cov_log: &[Vec<f64>],
        _z: f64,
        _c: Cols<'_>,
        _spend: Option<SpendDelta<'_>>,
    ) -> PyResult<(Vec<f64>, Vec<f64>)> {
        Err(core_err(format!(
            "prediction intervals are not available for {}",
            self.kind()
        )))
    }
    /// Parameters refitted on `draws` resamples of the customers (None: not converged).
    fn bootstrap(
        &self,
        _d: &Data,
        _start: &[f64],
        _draws: usize,
        _seed: u64,
        _max_iter: usize,
    ) -> PyResult<Vec<Option<Vec<f64>>>> {
        Err(core_err(format!(
            "bootstrap is not available for {}",
            self.kind()
        )))
    }
}

/// A purchase model as [`Kernels`].
pub struct Purchase<M>(pub M);

fn rows(n: usize, f: impl Fn(usize) -> f64 + Sync + Send) -> Vec<f64> {
    (0..n).into_par_iter().with_min_len(1024).map(f).collect()
}

impl<M: BtydModel> Kernels for Purchase<M> {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    fn n_params(&self) -> usize {
        self.0.n_params()
    }
    fn second_column(&self) -> &'static str {
        self.0.second_column()
    }
    fn fit(&self, d: &Data, start: Option<Vec<f64>>, max_iter: usize) -> FitOut {
        fit_data(&self.0, d, start, max_iter)
    }
    fn log_likelihood(&self, p: &[f64], d: &Data) -> f64 {
        self.0.ll_sum(p, d)
    }
    fn ll_grad_log(&self, theta: &[f64], d: &Data) -> (f64, Vec<f64>) {
        self.0.ll_grad_log(theta, d)
    }
    fn fit_external(
        &self,
        total: Total<'_>,
        sample: &Data,
        wsum: f64,
        n_patterns: usize,
        start: Option<Vec<f64>>,
        max_iter: usize,
    ) -> FitOut {
        fit_external(&self.0, total, sample, wsum, n_patterns, start, max_iter)
    }
    fn predict(&self, what: &str, p: &[f64], c: Cols<'_>, horizon: f64) -> PyResult<Vec<f64>> {
        let m = &self.0;
        let p = params(m, p)?;
        let Cols { x, tx, t } = c;
        Ok(match what {
            "p_alive" => rows(x.len(), |i| m.p_alive(p, x[i], tx[i], t[i])),
            "expected_purchases" => discounted(m, p, c, &[horizon], &[1.0]),
            "log_likelihood" => rows(x.len(), |i| m.ll_row(p, x[i], tx[i], t[i])),
            "dert" => dert(m, p, c, horizon)?,
            _ => return Err(core_err(format!("unknown prediction '{what}'"))),
        })
    }
    fn predict_new(&self, what: &str, p: &[f64], t: &[f64], n: u64) -> PyResult<Vec<f64>> {
        let m = &self.0;
        let p = params(m, p)?;
        match what {
            "expected_purchases" => Ok(t
                .iter()
                .map(|&ti| m.expected_purchases_new(p, ti))
                .collect()),
            "p_purchases" => Ok(t.iter().map(|&ti| m.p_purchases_new(p, n, ti)).collect()),
            _ => Err(core_err(format!(
                "'{what}' is not available for {}",
                m.kind()
            ))),
        }
    }
    fn pmf_new(&self, p: &[f64], t: &[f64], nmax: u64) -> PyResult<Vec<Vec<f64>>> {
        let p = params(&self.0, p)?;
        Ok(self.0.pmf_new(p, t, nmax))
    }
    fn conditional_pmf(&self) -> ConditionalPmf {
        M::CONDITIONAL
    }
    fn expected_purchases_rows(&self, p: &[f64], c: Cols<'_>, h: &[f64]) -> PyResult<Vec<f64>> {
        if h.len() != c.x.len() {
            return Err(core_err("horizon column has a different length"));
        }
        if let Some(i) = h.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(core_err(format!(
                "t: row {}: expected a non-negative finite horizon, got {}",
                i + 1,
                h[i]
            )));
        }
        Ok(per_row_horizon(&self.0, params(&self.0, p)?, c, h))
    }
    fn conditional_p_purchases(
        &self,
        p: &[f64],
        c: Cols<'_>,
        n: u64,
        horizon: f64,
    ) -> PyResult<Vec<f64>> {
        let p = params(&self.0, p)?;
        conditional::p_purchases_rows(&self.0, p, c, n, horizon)
    }
    fn discounted(
        &self,
        p: &[f64],
        c: Cols<'_>,
        times: &[f64],
        disc: &[f64],
    ) -> PyResult<Vec<f64>> {
        Ok(discounted(&self.0, params(&self.0, p)?, c, times, disc))
    }
    fn simulate_summary(
        &self,
        p: &[f64],
        t: &[f64],
        seed: u64,
        resolution: Option<f64>,
    ) -> PyResult<(Vec<f64>, Vec<f64>)> {
        let p = params(&self.0, p)?;
        Ok(simulate::summaries(&self.0, p, t, seed, resolution))
    }
    fn simulate_times(
        &self,
        p: &[f64],
        t: &[f64],
        seed: u64,
        resolution: Option<f64>,
    ) -> PyResult<Vec<Vec<f64>>> {
        if M::DISCRETE_TIME {
            return Err(core_err(
                "transaction logs are simulated for continuous-time models",
            ));
        }
        let p = params(&self.0, p)?;
        Ok(simulate::purchase_times(&self.0, p, t, seed, resolution))
    }
    fn interval(
        &self,
        q: Quantity<'_>,
        draws: &[Vec<f64>],
        c: Cols<'_>,
        probs: [f64; 2],
        spend: Option<SpendDraws<'_>>,
    ) -> PyResult<(Vec<f64>, Vec<f64>)> {
        intervals::quantile_rows(&self.0, draws, q, c, probs, spend)
    }
    fn delta_interval(
        &self,
        q: Quantity<'_>,
        theta: &[f64],
        cov_log: &[Vec<f64>],
        z: f64,
        c: Cols<'_>,
        spend: Option<SpendDelta<'_>>,
    ) -> PyResult<(Vec<f64>, Vec<f64>)> {
        delta::delta_rows(&self.0, theta, cov_log, z, q, c, spend)
    }
    fn bootstrap(
        &self,
        d: &Data,
        start: &[f64],
        draws: usize,
        seed: u64,
        max_iter: usize,
    ) -> PyResult<Vec<Option<Vec<f64>>>> {
        params(&self.0, start)?;
        Ok(intervals::bootstrap(
            &self.0, d, start, draws, seed, max_iter,
        ))
    }
}

/// DERT at the continuous discount rate `delta` per row: row factor · `dert_bracket`, the
/// bracket once per distinct (x, T).
fn dert<M: BtydModel>(m: &M, p: M::Params, c: Cols<'_>, delta: f64) -> PyResult<Vec<f64>> {
    if !(delta > 0.0 && delta.is_finite()) {
        return Err(core_err(format!(
            "the continuous discount rate must be positive and finite, got {delta}"
        )));
    }
    let Cols { x, tx, t } = c;
    let pairs = compress::PairIndex::new(x, t);
    let k: Vec<Option<f64>> = pairs
        .uniq
        .par_iter()
        .map(|&(xi, ti)| m.dert_bracket(p, xi, ti, delta))
        .collect();
    if k.iter().any(Option::is_none) {
        return Err(core_err(format!("DERT is not available for {}", m.kind())));
    }
    let factor = m.row_factors(p, x, tx, t);
    Ok(rows(x.len(), |i| {
        let b = pairs
            .get(x[i], t[i])
            .and_then(|j| k[j])
            .or_else(|| m.dert_bracket(p, x[i], t[i], delta))
            .unwrap_or(f64::NAN);
        factor(i) * b
    }))
}

/// E[Y(h_i) | x_i, t_x_i, T_i] per row: the bracket once per distinct (x, T, h), the row
/// factor once per row (a horizon per row costs one hash pass more than one horizon).
fn per_row_horizon<M: BtydModel>(m: &M, p: M::Params, c: Cols<'_>, h: &[f64]) -> Vec<f64> {
    let Cols { x, tx, t } = c;
    if let Some(&h0) = h.first() {
        if h.iter().all(|&v| v == h0) {
            return one_horizon(m, p, c, h0);
        }
    }
    let mut map: HashMap<[u64; 3], u32, BuildHasherDefault<FxHasher>> = HashMap::default();
    let mut uniq: Vec<(f64, f64, f64)> = Vec::new();
    let idx: Vec<u32> = (0..x.len())
        .map(|i| {
            let k = [
                (x[i] + 0.0).to_bits(),
                (t[i] + 0.0).to_bits(),
                (h[i] + 0.0).to_bits(),
            ];
            *map.entry(k).or_insert_with(|| {
                uniq.push((x[i], t[i], h[i]));
                (uniq.len() - 1) as u32
            })
        })
        .collect();
    let k: Vec<f64> = uniq
        .par_iter()
        .map(|&(xi, ti, hi)| m.bracket(p, xi, ti, hi))
        .collect();
    let factor = m.row_factors(p, x, tx, t);
    rows(x.len(), |i| factor(i) * k[idx[i] as usize])
}

/// `per_row_horizon` when every row has the same horizon (a backtest's holdout): the row
/// factor (P(alive), a hypergeometric series per row for Pareto/NBD) once per distinct
/// (x, t_x, T) and the bracket once per distinct (x, T). On day-grained data a million
/// customers are a few hundred thousand patterns; every value is the one the per-row pass
/// computes, from the same inputs.
fn one_horizon<M: BtydModel>(m: &M, p: M::Params, c: Cols<'_>, h0: f64) -> Vec<f64> {
    let Cols { x, tx, t } = c;
    let (uniq, idx) = compress::row_patterns(x, tx, t);
    let ux: Vec<f64> = uniq.iter().map(|u| u.0).collect();
    let utx: Vec<f64> = uniq.iter().map(|u| u.1).collect();
    let ut: Vec<f64> = uniq.iter().map(|u| u.2).collect();
    let pairs = compress::PairIndex::new(&ux, &ut);
    let k: Vec<f64> = pairs
        .uniq
        .par_iter()
        .map(|&(xi, ti)| m.bracket(p, xi, ti, h0))
        .collect();
    let factor = m.row_factors(p, &ux, &utx, &ut);
    let per: Vec<f64> = rows(ux.len(), |j| {
        let b = pairs
            .get(ux[j], ut[j])
            .map_or_else(|| m.bracket(p, ux[j], ut[j], h0), |q| k[q]);
        factor(j) * b
    });
    rows(x.len(), |i| per[idx[i] as usize])
}

/// Σ_i disc_i · [bracket(t_i) − bracket(t_{i−1})] per row, times the row factor.
pub fn discounted<M: BtydModel>(
    m: &M,
    p: M::Params,
    c: Cols<'_>,
    times: &[f64],
    disc: &[f64],
) -> Vec<f64> {
    let Cols { x, tx, t: tv } = c;
    // The bracket depends on (x, T) only: once per distinct pair, then a parallel row pass.
    let pairs = compress::PairIndex::new(x, tv);
    let sum_over = |xi: f64, ti: f64| {
        let mut prev = 0.0;
        let mut acc = 0.0;
        for (t, d) in times.iter().zip(disc) {
            let cur = m.bracket(p, xi, ti, *t);
            acc += (cur - prev) * d;
            prev = cur;
        }
        acc
    };
    let k: Vec<f64> = pairs
        .uniq
        .par_iter()
        .map(|&(xi, ti)| sum_over(xi, ti))
        .collect();
    let factor = m.row_factors(p, x, tx, tv);
    (0..x.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            // Every row's pair is in the index; the fallback only keeps this panic-free.
            factor(i)
                * pairs
                    .get(x[i], tv[i])
                    .map_or_else(|| sum_over(x[i], tv[i]), |j| k[j])
        })
        .collect()
}
