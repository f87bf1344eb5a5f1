//! What every maximum-likelihood fit shares: its result record, the objective (the mean
//! negative log-likelihood in log-parameters, which stops where the model diagnoses a
//! boundary) and the warm start from a subsample. Its own room so that the fit drivers
//! (`fit`: L-BFGS, local or over Spark partitions; `newton`: Newton steps on an analytic
//! Hessian) both build on it without depending on each other.

use super::compress::Data;
use super::model::Likelihood;
use super::optim;

pub struct FitOut {
    pub params: Vec<f64>,
    pub se: Option<Vec<f64>>,
    pub cov: Option<Vec<Vec<f64>>>,
    pub ll: f64,
    pub converged: bool,
    pub iterations: usize,
    pub message: String,
    pub n_patterns: usize,
    pub n_obs: f64,
    pub grad_norm: f64,
    /// Why the fit stopped at a boundary of the parameter space (see `Likelihood::boundary`).
    pub boundary: Option<String>,
}

/// Mean negative log-likelihood and its gradient with respect to the log-parameters.
fn objective<M: Likelihood>(m: &M, d: &Data, wsum: f64, theta: &[f64]) -> (f64, Vec<f64>) {
    if theta.iter().any(|t| !t.is_finite() || t.abs() > 30.0) {
        return (f64::NAN, vec![f64::NAN; theta.len()]);
    }
    let (ll, g) = m.ll_grad_log(theta, d);
    (-ll / wsum, g.iter().map(|gi| -gi / wsum).collect())
}

/// The fit's objective; it stops the optimiser where the model says its parameters run
/// away towards a boundary.
pub struct Obj<'a, M> {
    pub m: &'a M,
    pub d: &'a Data,
    pub wsum: f64,
}

impl<M: Likelihood> optim::Objective for Obj<'_, M> {
    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        objective(self.m, self.d, self.wsum, theta)
    }
    fn stop(&self, theta: &[f64]) -> Option<String> {
        let p: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
        self.m.boundary(&p, self.d)
    }
}

/// Patterns above which the fit starts from the optimum of a subsample.
pub(super) const WARM_MIN: usize = 200_000;
/// Patterns in that subsample.
const WARM_SUB: usize = 50_000;

/// On poorly compressible data (every customer its own pattern) each likelihood evaluation
/// costs a pass over up to millions of rows, and most of a fit's ~35 evaluations are spent
/// walking from the moment-based start to the optimum. A systematic subsample of the
/// patterns (every k-th in their order, which sorts by frequency first: stratified by it)
/// has nearly the same optimum (within sampling error, ~1% here) at a tenth of the cost or
/// less per evaluation, so the full fit starts next to its optimum and needs a few L-BFGS and
/// Newton steps. The optimum reached does not depend on the start (the full data decide
/// it); a subsample fit that fails leaves the moment start in place.
pub(super) fn warm_start<M: Likelihood>(
    m: &M,
    d: &Data,
    start: Vec<f64>,
    max_iter: usize,
) -> Vec<f64> {
    match subsample(d) {
        Some(s) => sample_optimum(m, &s, start, max_iter),
        None => start,
    }
}

/// The systematic subsample of `warm_start` (every k-th pattern, about `WARM_SUB` of them), or
/// None below `WARM_MIN` patterns.
pub(super) fn subsample(d: &Data) -> Option<Data> {
    if d.len() < WARM_MIN {
        return None;
    }
    let step = d.len() / WARM_SUB;
    let mut s = Data::default();
    for i in (0..d.len()).step_by(step) {
        s.x.push(d.x[i]);
        s.tx.push(d.tx[i]);
        s.t.push(d.t[i]);
        s.w.push(d.w[i]);
    }
    s.index_columns();
    Some(s)
}

/// The optimum on the sample `s` (a start for the fit on the full data), or `start` when
/// that fit fails.
pub(super) fn sample_optimum<M: Likelihood>(
    m: &M,
    s: &Data,
    start: Vec<f64>,
    max_iter: usize,
) -> Vec<f64> {
    let wsum = s.total_weight();
    let obj = Obj { m, d: s, wsum };
    let th0: Vec<f64> = start.iter().map(|v| v.max(1e-8).ln()).collect();
    let res = optim::minimize(&obj, &th0, 1e-6, max_iter);
    if res.f.is_finite() && res.x.iter().all(|t| t.is_finite()) {
        res.x.iter().map(|t| t.exp()).collect()
    } else {
        start
    }
}
