//! What a model is to the kernels: [`Likelihood`] (enough to fit it) and [`BtydModel`] (a
//! purchase model: predictions, CLV, conditional PMF, simulation).
//!
//! # Adding a purchase model (sBG, BdW, ...)
//!
//! A new model implements, in one module `rust/models/<name>.rs`, on a unit struct (or a
//! struct of variant flags, like `BgNbd`):
//! - [`Likelihood`]: `kind`, `param_names`, `Grad = Dual<K>` for K parameters, `ll_sum`
//!   (generic over [`Real`], so dual numbers give the exact gradient) and `start_values`;
//!   optionally an analytic `ll_grad_log` (the fit's hot loop) and `second_start`;
//! - [`BtydModel`]: `Params = [f64; K]`, `p_alive`, `bracket` (E[Y(t) | x, t_x, T] =
//!   `row_factor` · `bracket`; `row_factor` defaults to P(alive)), `expected_purchases_new`,
//!   `p_purchases_new` and `simulate`; optionally `CONDITIONAL` with `posterior_pmf` or
//!   `history_pmf`, `DISCRETE_TIME`, `ll_row`, `row_factors` (a per-column fast path),
//!   `dert_bracket` (DERT under continuous discounting).
//!
//! Files it touches:
//! - `rust/models/<name>.rs` (new): the maths, its tests and the two `impl` blocks;
//! - `rust/models/mod.rs`: `pub mod <name>;` and one line in `MODELS`;
//! - `python/truenorth/_core.pyi`: the kind in the `_ModelKind` aliases;
//! - the Python side (`truenorth.clv`: the model class in its registry, the README).
//!
//! GGom/NBD (`ggom_nbd.rs`) was the first model added this way: in Rust its module, the
//! quadrature it needed (`quad.rs`, new, now shared) and three lines of `mod.rs`.
//!
//! Before these traits the `Model` enum was matched in about a dozen places of `mod.rs`, in
//! `conditional.rs` and `simulate.rs`: a model touched four Rust files and every match.
//! Nothing else in Rust changes now: fitting on compressed patterns (`fit.rs`), predictions
//! and CLV (`kernels.rs`), the conditional PMF (`conditional.rs`) and the simulators
//! (`simulate.rs`) are generic over these traits, and the Python functions (`py.rs`) look the
//! kind up in `MODELS` once per call (a `&dyn Kernels`); every per-row loop is monomorphised
//! for the model.
//!
//! Gamma-Gamma (spend) implements [`Likelihood`] only: its data are (frequency, mean spend)
//! without T and its one prediction is expected spend, so it shares the fitter and nothing
//! else; `gamma_gamma.rs` implements `Kernels` for it directly. A second spend model would
//! earn a `SpendModel` trait; one would be an interface with a single user.

use pyo3::PyResult;
use rayon::prelude::*;

use super::compress::Data;
use super::dual::{Dual, Real};
use super::rng::Rng;
use crate::error::core_err;

/// A dual number carrying one derivative per model parameter.
pub trait Gradient: Real {
    /// The i-th independent variable with value v.
    fn var(v: f64, i: usize) -> Self;
    fn value(&self) -> f64;
    fn gradient(&self) -> &[f64];
}

impl<const N: usize> Gradient for Dual<N> {
    fn var(v: f64, i: usize) -> Self {
        Dual::<N>::var(v, i)
    }
    fn value(&self) -> f64 {
        self.v
    }
    fn gradient(&self) -> &[f64] {
        &self.d
    }
}

/// A model that can be fitted by maximum likelihood on compressed (x, second, T) patterns.
pub trait Likelihood: Sync {
    /// `Dual<K>` for a model with K parameters.
    type Grad: Gradient;
    /// The kind name Python passes (`"bg_nbd"`).
    fn kind(&self) -> &'static str;
    /// Parameter names in order; their count is the number of parameters.
    fn param_names(&self) -> &'static [&'static str];
    fn n_params(&self) -> usize {
        self.param_names().len()
    }
    /// The second data column, as named in error messages.
    fn second_column(&self) -> &'static str {
        "recency"
    }
    /// Weighted log-likelihood sum of `d` at natural-scale parameters `p`.
    fn ll_sum<R: Real>(&self, p: &[R], d: &Data) -> R;
    /// Log-likelihood of `d` and its gradient with respect to the log-parameters `theta`.
    /// Dual numbers over `ll_sum` by default; a model overrides it with a hand-derived
    /// gradient when the fit's hot loop deserves one (and tests it against this default).
    fn ll_grad_log(&self, theta: &[f64], d: &Data) -> (f64, Vec<f64>) {
        let p: Vec<Self::Grad> = theta
            .iter()
            .enumerate()
            .map(|(i, &t)| Self::Grad::var(t, i).exp())
            .collect();
        let ll = self.ll_sum(&p, d);
        (ll.value(), ll.gradient().to_vec())
    }
    /// Log-likelihood, gradient and Hessian with respect to the log-parameters, for a model
    /// that has the Hessian in closed form: the fit then takes Newton steps (`newton.rs`, a
    /// few passes over the data) instead of L-BFGS (dozens), and its standard errors come from
    /// the same Hessian. None (the default): no such Hessian.
    fn ll_hess_log(&self, _theta: &[f64], _d: &Data) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        None
    }
    /// Where the Newton fit (`newton.rs`) starts without a given start on fewer patterns than
    /// its subsample start needs: natural-scale parameters near the optimum, for a model whose
    /// L-BFGS walk there from `start_values` costs more than the Newton steps after it. None
    /// (the default): that walk.
    fn newton_start(&self, _d: &Data, _max_iter: usize) -> Option<Vec<f64>> {
        None
    }
    /// Start values from simple moments of the data.
    fn start_values(&self, d: &Data) -> Vec<f64>;
    /// A second start, tried when the fit from the first does not converge.
    fn second_start(&self, first: &[f64]) -> Vec<f64> {
        vec![1.1; first.len()]
    }
    /// The fit when its maximum is a limit model the model can fit directly (GGom/NBD's
    /// Pareto/NBD limit), from `start` (the caller's, or None) in at most `max_iter`
    /// iterations; None (the default): the maximum is not there, fit as usual.
    fn limit_fit(
        &self,
        _d: &Data,
        _start: Option<&[f64]>,
        _max_iter: usize,
    ) -> Option<LimitOptimum> {
        None
    }
    /// Some(diagnosis) when natural-scale parameters `p` have run so far towards a boundary
    /// of the parameter space that the fit should stop there (the likelihood keeps rising
    /// along a ridge to infinity); the text names the parameters and what the limit means.
    fn boundary(&self, _p: &[f64], _d: &Data) -> Option<String> {
        None
    }
}

/// An optimum a model found by its own means at a limit of its parameter space
/// (`Likelihood::limit_fit`): natural-scale parameters, the log-likelihood there, the Hessian
/// of the total negative log-likelihood in the log-parameters (for the standard errors), the
/// largest |gradient| of the mean log-likelihood, iterations and what the limit is.
pub struct LimitOptimum {
    pub params: Vec<f64>,
    pub ll: f64,
    pub hess_log: Vec<Vec<f64>>,
    pub grad_norm: f64,
    pub iterations: usize,
    pub message: String,
}

/// How P(X(T, T+t] = n | x, t_x, T) is computed, if at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionalPmf {
    Unavailable,
    /// A customer alive at T restarts as a new customer with posterior parameters that
    /// depend on (x, T) only: P(alive) · `posterior_pmf` + (1 − P(alive)) · [n = 0], the PMF
    /// evaluated once per distinct (x, T).
    Posterior,
    /// The PMF depends on the whole history: `history_pmf` once per distinct (x, t_x, T);
    /// horizons are whole numbers of opportunities.
    History,
}

/// A buy-till-you-die purchase model over (frequency x, recency t_x, age T) summaries.
pub trait BtydModel: Likelihood {
    /// The parameters as the per-row functions take them: `[f64; K]`.
    type Params: Copy + Send + Sync + AsRef<[f64]> + for<'a> TryFrom<&'a [f64]>;

    /// How the conditional PMF is computed (unavailable unless declared).
    const CONDITIONAL: ConditionalPmf = ConditionalPmf::Unavailable;
    /// Opportunities instead of continuous time (no transaction-log simulation).
    const DISCRETE_TIME: bool = false;

    /// P(alive at T | x, t_x, T).
    fn p_alive(&self, p: Self::Params, x: f64, tx: f64, t: f64) -> f64;
    /// Log-likelihood of one row.
    fn ll_row(&self, p: Self::Params, x: f64, tx: f64, t: f64) -> f64 {
        self.ll_sum(p.as_ref(), &Data::row(x, tx, t))
    }
    /// E[Y(t) | x, t_x, T] = row_factor(x, t_x, T) · bracket(x, T, t): the bracket is
    /// evaluated once per distinct (x, T) and horizon, the factor once per row.
    fn row_factor(&self, p: Self::Params, x: f64, tx: f64, t: f64) -> f64 {
        self.p_alive(p, x, tx, t)
    }
    /// `row_factor` for every row of the columns; a model may prepare tables first.
    fn row_factors<'a>(
        &'a self,
        p: Self::Params,
        x: &'a [f64],
        tx: &'a [f64],
        t: &'a [f64],
    ) -> impl Fn(usize) -> f64 + Sync + 'a {
        move |i| self.row_factor(p, x[i], tx[i], t[i])
    }
    /// See `row_factor`; 0 for t <= 0.
    fn bracket(&self, p: Self::Params, x: f64, t_obs: f64, t: f64) -> f64;
    /// ∫_0^∞ e^{−δt} dE[Y(t) | alive at T]: the discounted expected residual transactions
    /// (DERT) of a customer alive at T at the continuous rate δ per time unit (times
    /// `row_factor` per row); None for a model without it.
    fn dert_bracket(&self, _p: Self::Params, _x: f64, _t_obs: f64, _delta: f64) -> Option<f64> {
        None
    }
    /// E[X(t)] for a new customer.
    fn expected_purchases_new(&self, p: Self::Params, t: f64) -> f64;
    /// P(X(t) = n) for a new customer.
    fn p_purchases_new(&self, p: Self::Params, n: u64, t: f64) -> f64;
    /// P(X(t_i) = n) for n = 0..=nmax, one row per horizon: `p_purchases_new` per entry by
    /// default; a model whose terms share work across n overrides it (`new_pmf.rs`).
    fn pmf_new(&self, p: Self::Params, t: &[f64], nmax: u64) -> Vec<Vec<f64>> {
        t.par_iter()
            .map(|&ti| (0..=nmax).map(|n| self.p_purchases_new(p, n, ti)).collect())
            .collect()
    }
    /// PMF(n, t > 0) of the restarted process after (x, T) (`ConditionalPmf::Posterior`).
    fn posterior_pmf(&self, _p: Self::Params, _n: u64, _t: f64, _x: f64, _t_obs: f64) -> f64 {
        f64::NAN
    }
    /// P(n in the next m opportunities | x, t_x, T) (`ConditionalPmf::History`).
    fn history_pmf(&self, _p: Self::Params, _n: u64, _m: u64, _x: f64, _tx: f64, _t: f64) -> f64 {
        f64::NAN
    }
    /// Repeat purchase times in (0, t_end] of one simulated customer (first purchase at 0),
    /// floored to the `resolution` grid and merged per period when given.
    fn simulate(
        &self,
        p: Self::Params,
        t_end: f64,
        resolution: Option<f64>,
        rng: &mut Rng,
    ) -> Vec<f64>;
}

/// The parameter array of `m` from a slice, or an error naming the expected count.
pub fn params<M: BtydModel>(m: &M, p: &[f64]) -> PyResult<M::Params> {
    M::Params::try_from(p).map_err(|_| {
        core_err(format!(
            "expected {} parameters, got {}",
            m.n_params(),
            p.len()
        ))
    })
}
