//! BTYD models: likelihoods (generic over `dual::Real` for exact gradients), maximum
//! likelihood fitting on compressed patterns, vectorised predictions, CLV and simulators.
//! Python wraps these functions in `truenorth.clv` (validation and error messages there;
//! everything here still returns errors instead of panicking).

pub mod bgbb;
pub mod bgnbd;
pub mod compress;
pub mod conditional;
pub mod dual;
pub mod gamma_gamma;
pub mod optim;
pub mod pareto_nbd;
pub mod simulate;
pub mod special;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use arrow_array::{Array, Float64Array};
use arrow_data::ArrayData;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::DataType;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};
use rayon::prelude::*;

use crate::arrow_io::f64_values;
use crate::error::core_err;
use bgnbd::Variant;
use compress::{compress, Data};
use dual::{Dual, Real};

/// Model kinds understood by the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    BgNbd,
    MbgNbd,
    ParetoNbd,
    BgBb,
    GammaGamma,
}

impl Model {
    pub fn parse(s: &str) -> PyResult<Self> {
        Ok(match s {
            "bg_nbd" => Model::BgNbd,
            "mbg_nbd" => Model::MbgNbd,
            "pareto_nbd" => Model::ParetoNbd,
            "bg_bb" => Model::BgBb,
            "gamma_gamma" => Model::GammaGamma,
            _ => return Err(core_err(format!("unknown model kind '{s}'"))),
        })
    }
    pub fn n_params(self) -> usize {
        if self == Model::GammaGamma {
            3
        } else {
            4
        }
    }
}

fn p4(p: &[f64]) -> PyResult<[f64; 4]> {
    p.try_into()
        .map_err(|_| core_err(format!("expected 4 parameters, got {}", p.len())))
}

/// Weighted log-likelihood sum of `data` at natural-scale params, generic over Real.
fn ll_generic<R: Real>(m: Model, p: &[R], d: &Data) -> R {
    match m {
        Model::BgNbd => bgnbd::ll_sum([p[0], p[1], p[2], p[3]], d, Variant::Bg),
        Model::MbgNbd => bgnbd::ll_sum([p[0], p[1], p[2], p[3]], d, Variant::Mbg),
        Model::ParetoNbd => pareto_nbd::ll_sum([p[0], p[1], p[2], p[3]], d),
        Model::BgBb => bgbb::ll_sum([p[0], p[1], p[2], p[3]], d),
        Model::GammaGamma => gamma_gamma::ll_sum([p[0], p[1], p[2]], d),
    }
}

/// Mean negative log-likelihood and its gradient with respect to the log-parameters.
fn objective(m: Model, d: &Data, wsum: f64, theta: &[f64]) -> (f64, Vec<f64>) {
    macro_rules! run {
        ($n:literal) => {{
            let p: Vec<Dual<$n>> = (0..$n)
                .map(|i| Dual::<$n>::var(theta[i], i).exp())
                .collect();
            let ll = ll_generic(m, &p, d);
            (-ll.v / wsum, ll.d.iter().map(|g| -g / wsum).collect())
        }};
    }
    if theta.iter().any(|t| !t.is_finite() || t.abs() > 30.0) {
        return (f64::NAN, vec![f64::NAN; theta.len()]);
    }
    if let Some(v) = match m {
        Model::BgNbd => Some(Variant::Bg),
        Model::MbgNbd => Some(Variant::Mbg),
        _ => None,
    } {
        let p = [
            theta[0].exp(),
            theta[1].exp(),
            theta[2].exp(),
            theta[3].exp(),
        ];
        let (ll, g) = bgnbd::ll_grad(p, d, v);
        return (-ll / wsum, g.iter().map(|gi| -gi / wsum).collect());
    }
    if m.n_params() == 3 {
        run!(3)
    } else {
        run!(4)
    }
}

/// Start values from simple moments of the data.
fn start_values(m: Model, d: &Data) -> Vec<f64> {
    let w = d.total_weight();
    let mean = |v: &[f64]| v.iter().zip(&d.w).map(|(a, b)| a * b).sum::<f64>() / w;
    let mx = mean(&d.x).max(1e-3);
    let mt = mean(&d.t).max(1e-3);
    match m {
        Model::BgNbd | Model::MbgNbd => vec![1.0, mt / mx, 1.0, 3.0],
        Model::ParetoNbd => vec![1.0, mt / mx, 1.0, mt],
        Model::BgBb => vec![1.0, 1.0, 1.0, 1.0],
        Model::GammaGamma => {
            let mm = mean(&d.tx).max(1e-12);
            vec![2.0, 3.0, mm]
        }
    }
}

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
}

pub fn fit_data(m: Model, d: &Data, start: Option<Vec<f64>>, max_iter: usize) -> FitOut {
    let wsum = d.total_weight();
    let obj = |th: &[f64]| objective(m, d, wsum, th);
    let gtol = 1e-9;
    let mut starts = vec![start.unwrap_or_else(|| start_values(m, d))];
    // A second, lifetimes-like start (all parameters e^0.1 times the data scale) if needed.
    let mut alt = vec![1.1; m.n_params()];
    if m == Model::GammaGamma {
        alt[2] = starts[0][2];
    }
    starts.push(alt);
    let mut best: Option<optim::OptResult> = None;
    for s in starts {
        let th0: Vec<f64> = s.iter().map(|v| v.max(1e-8).ln()).collect();
        let res = optim::minimize_hybrid(&obj, &th0, gtol, max_iter);
        let better = match &best {
            None => true,
            Some(b) => res.f.is_finite() && (!b.f.is_finite() || res.f < b.f - 1e-12),
        };
        let conv = res.converged;
        if better {
            best = Some(res);
        }
        if conv {
            break;
        }
    }
    let res = best.expect("at least one start");
    let params: Vec<f64> = res.x.iter().map(|t| t.exp()).collect();
    // Covariance of log-params: inverse Hessian of the total negative log-likelihood;
    // delta method: se(θ) = θ · se(log θ).
    let h = optim::hessian(&obj, &res.x);
    let htot: Vec<Vec<f64>> = h
        .iter()
        .map(|row| row.iter().map(|v| v * wsum).collect())
        .collect();
    let cov_log = optim::spd_inverse(&htot);
    let (se, cov) = match cov_log {
        Some(c) => {
            let n = params.len();
            let cov: Vec<Vec<f64>> = (0..n)
                .map(|i| (0..n).map(|j| c[i][j] * params[i] * params[j]).collect())
                .collect();
            (Some((0..n).map(|i| cov[i][i].sqrt()).collect()), Some(cov))
        }
        None => (None, None),
    };
    FitOut {
        ll: -res.f * wsum,
        converged: res.converged && se.is_some(),
        message: if se.is_none() && res.converged {
            "Hessian is not positive definite at the optimum".into()
        } else {
            res.message.clone()
        },
        iterations: res.iterations,
        grad_norm: res.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs())),
        params,
        se,
        cov,
        n_patterns: d.len(),
        n_obs: wsum,
    }
}

/// Rows in messages count from 1 (the project's convention: row 1 is the first data row).
fn check_counts(x: &[f64], what: &str) -> PyResult<()> {
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

fn load(
    m: Model,
    x: &Bound<'_, PyAny>,
    tx: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
) -> PyResult<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let xv = f64_values(x, "frequency")?;
    let second = if m == Model::GammaGamma {
        "monetary_value"
    } else {
        "recency"
    };
    let txv = f64_values(tx, second)?;
    let tv = f64_values(t, "T")?;
    if txv.len() != xv.len() || tv.len() != xv.len() {
        return Err(core_err("columns have different lengths"));
    }
    check_counts(&xv, "frequency")?;
    Ok((xv, txv, tv))
}

/// Fit a model by maximum likelihood. Returns a dict of results.
#[pyfunction]
#[pyo3(signature = (model, frequency, second, t, weights=None, start=None, max_iter=500))]
#[allow(clippy::too_many_arguments)]
fn fit<'py>(
    py: Python<'py>,
    model: &str,
    frequency: &Bound<'py, PyAny>,
    second: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    start: Option<Vec<f64>>,
    max_iter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let m = Model::parse(model)?;
    let (x, tx, tv) = load(m, frequency, second, t)?;
    let w = weights.map(|w| f64_values(w, "weights")).transpose()?;
    if let Some(s) = &start {
        if s.len() != m.n_params() || s.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(core_err(
                "start values must be positive and one per parameter",
            ));
        }
    }
    let out = py.detach(|| {
        let d = compress(&x, &tx, &tv, w.as_deref());
        if d.is_empty() {
            return None;
        }
        Some(fit_data(m, &d, start, max_iter))
    });
    let out = out.ok_or_else(|| core_err("no rows with positive weight to fit"))?;
    let dict = PyDict::new(py);
    dict.set_item("params", out.params)?;
    dict.set_item("standard_errors", out.se)?;
    dict.set_item("covariance", out.cov)?;
    dict.set_item("log_likelihood", out.ll)?;
    dict.set_item("converged", out.converged)?;
    dict.set_item("n_iterations", out.iterations)?;
    dict.set_item("message", out.message)?;
    dict.set_item("n_patterns", out.n_patterns)?;
    dict.set_item("n_observations", out.n_obs)?;
    dict.set_item("gradient_max_abs", out.grad_norm)?;
    Ok(dict)
}

/// Total (weighted) log-likelihood at given parameters.
#[pyfunction]
#[pyo3(signature = (model, params, frequency, second, t, weights=None))]
fn log_likelihood(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    frequency: &Bound<'_, PyAny>,
    second: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    let m = Model::parse(model)?;
    if params.len() != m.n_params() {
        return Err(core_err("wrong number of parameters"));
    }
    let (x, tx, tv) = load(m, frequency, second, t)?;
    let w = weights.map(|w| f64_values(w, "weights")).transpose()?;
    Ok(py.detach(|| {
        let d = compress(&x, &tx, &tv, w.as_deref());
        ll_generic(m, &params, &d)
    }))
}

/// A Float64 column produced in Rust, handed to Polars through `__arrow_c_array__` without
/// a copy.
#[pyclass(module = "truenorth._core", frozen)]
pub struct F64Column {
    data: Arc<ArrayData>,
}

impl F64Column {
    pub fn new(v: Vec<f64>) -> Self {
        F64Column {
            data: Arc::new(Float64Array::from(v).into_data()),
        }
    }
}

#[pymethods]
impl F64Column {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let schema = FFI_ArrowSchema::try_from(&DataType::Float64)
            .map_err(|e| core_err(format!("arrow export: {e}")))?;
        let array = arrow_array::ffi::FFI_ArrowArray::new(&self.data);
        let s = PyCapsule::new_with_value(py, schema, c"arrow_schema")?;
        let a = PyCapsule::new_with_value(py, array, c"arrow_array")?;
        Ok((s, a))
    }
    fn __len__(&self) -> usize {
        self.data.len()
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<compress::FxHasher>>;

/// Row factor × bracket decomposition of E[Y(t) | x, t_x, T]: the bracket depends on (x, T)
/// and t only, so it is computed once per distinct (x, T) pair.
fn row_factor(m: Model, p: [f64; 4], x: f64, tx: f64, t: f64) -> f64 {
    match m {
        Model::BgNbd => bgnbd::p_alive(p, x, tx, t, Variant::Bg),
        Model::MbgNbd => bgnbd::p_alive(p, x, tx, t, Variant::Mbg),
        Model::ParetoNbd => pareto_nbd::p_alive(p, x, tx, t),
        Model::BgBb => {
            let [al, be, _, _] = p;
            (special::lbeta(al + x + 1.0, be + t - x)
                - special::lbeta(al, be)
                - bgbb::ll_generic(p, x, tx, t))
            .exp()
        }
        Model::GammaGamma => f64::NAN,
    }
}

fn bracket(m: Model, p: [f64; 4], x: f64, t_obs: f64, t: f64) -> f64 {
    match m {
        Model::BgNbd => bgnbd::bracket(p, x, t_obs, t, Variant::Bg),
        Model::MbgNbd => bgnbd::bracket(p, x, t_obs, t, Variant::Mbg),
        Model::ParetoNbd => {
            let [r, alpha, _, beta] = p;
            if t <= 0.0 {
                0.0
            } else {
                pareto_nbd::cond_expected([r, alpha, p[2], beta], x, t_obs, t_obs, t)
            }
        }
        Model::BgBb => {
            let [_, _, ga, de] = p;
            if t <= 0.0 {
                0.0
            } else {
                let n = t_obs;
                // survival_sum via cond_expected with unit row factor:
                let la = special::lgamma(1.0 + de + n) - special::lgamma(ga + de + n);
                let lb = special::lgamma(1.0 + de + n + t) - special::lgamma(ga + de + n + t);
                if (ga - 1.0).abs() < 1e-9 {
                    de * (special::digamma(1.0 + de + n + t) - special::digamma(1.0 + de + n))
                } else {
                    de / (ga - 1.0)
                        * (special::lgamma(ga + de) - special::lgamma(1.0 + de)).exp()
                        * la.exp()
                        * (-(lb - la).exp_m1())
                }
            }
        }
        Model::GammaGamma => f64::NAN,
    }
}

/// Σ_i weights_i · [bracket(t_i) − bracket(t_{i−1})] per row, times the row factor.
fn discounted(
    m: Model,
    p: [f64; 4],
    x: &[f64],
    tx: &[f64],
    tv: &[f64],
    times: &[f64],
    disc: &[f64],
) -> Vec<f64> {
    // For Pareto/NBD, bracket() includes P(alive) at tx = T (= 1): use it as a pure bracket.
    // The bracket depends on (x, T) only: once per distinct pair, then a parallel row pass.
    let pairs = compress::PairIndex::new(x, tv);
    let sum_over = |xi: f64, ti: f64| {
        let mut prev = 0.0;
        let mut acc = 0.0;
        for (t, d) in times.iter().zip(disc) {
            let cur = bracket(m, p, xi, ti, *t);
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
    let variant = match m {
        Model::BgNbd => Some(Variant::Bg),
        Model::MbgNbd => Some(Variant::Mbg),
        _ => None,
    };
    let tables = variant.and_then(|v| bgnbd::PAliveTables::new(p, x, tx, tv, v));
    (0..x.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let f = match (&tables, variant) {
                (Some(tab), Some(v)) => tab.get(p, x[i], tx[i], tv[i], v),
                _ if m == Model::ParetoNbd => pareto_nbd::p_alive(p, x[i], tx[i], tv[i]),
                _ => row_factor(m, p, x[i], tx[i], tv[i]),
            };
            // Every row's pair is in the index; the fallback only keeps this panic-free.
            f * pairs
                .get(x[i], tv[i])
                .map_or_else(|| sum_over(x[i], tv[i]), |j| k[j])
        })
        .collect()
}

/// Per-row predictions over a summary: `what` in {p_alive, expected_purchases, log_likelihood,
/// expected_spend}.
#[pyfunction]
#[pyo3(signature = (model, what, params, frequency, second, t, horizon=0.0))]
#[allow(clippy::too_many_arguments)]
fn predict(
    py: Python<'_>,
    model: &str,
    what: &str,
    params: Vec<f64>,
    frequency: &Bound<'_, PyAny>,
    second: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    horizon: f64,
) -> PyResult<F64Column> {
    let m = Model::parse(model)?;
    let (x, tx, tv) = load(m, frequency, second, t)?;
    if params.len() != m.n_params() {
        return Err(core_err("wrong number of parameters"));
    }
    let out: PyResult<Vec<f64>> = py.detach(|| {
        let n = x.len();
        let row = |f: &(dyn Fn(usize) -> f64 + Sync)| -> Vec<f64> {
            (0..n).into_par_iter().with_min_len(1024).map(f).collect()
        };
        Ok(match (m, what) {
            (Model::GammaGamma, "expected_spend") => {
                let p = [params[0], params[1], params[2]];
                row(&|i| gamma_gamma::expected_spend(p, x[i], tx[i]))
            }
            (Model::GammaGamma, _) => return Err(core_err(format!("unknown prediction '{what}'"))),
            (_, "p_alive") => {
                let p = p4(&params)?;
                row(&|i| match m {
                    Model::BgNbd => bgnbd::p_alive(p, x[i], tx[i], tv[i], Variant::Bg),
                    Model::MbgNbd => bgnbd::p_alive(p, x[i], tx[i], tv[i], Variant::Mbg),
                    Model::ParetoNbd => pareto_nbd::p_alive(p, x[i], tx[i], tv[i]),
                    _ => bgbb::p_alive(p, x[i], tx[i], tv[i]),
                })
            }
            (_, "expected_purchases") => {
                let p = p4(&params)?;
                discounted(m, p, &x, &tx, &tv, &[horizon], &[1.0])
            }
            (_, "log_likelihood") => {
                let p = p4(&params)?;
                row(&|i| match m {
                    Model::BgNbd => bgnbd::ll_row(p, x[i], tx[i], tv[i], Variant::Bg),
                    Model::MbgNbd => bgnbd::ll_row(p, x[i], tx[i], tv[i], Variant::Mbg),
                    Model::ParetoNbd => pareto_nbd::ll_row(p, x[i], tx[i], tv[i]),
                    _ => bgbb::ll_generic(p, x[i], tx[i], tv[i]),
                })
            }
            _ => return Err(core_err(format!("unknown prediction '{what}'"))),
        })
    });
    Ok(F64Column::new(out?))
}

/// P(X(T, T+t] = n | frequency, recency, T) per row (BG/NBD, MBG/NBD, Pareto/NBD: the
/// posterior PMF depends on (x, T) only and is computed once per distinct pair; BG/BB: `t` is
/// a whole number of future opportunities, once per distinct (x, t_x, n)).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn conditional_p_purchases(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    frequency: &Bound<'_, PyAny>,
    recency: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    n: u64,
    horizon: f64,
) -> PyResult<F64Column> {
    let m = Model::parse(model)?;
    if !matches!(
        m,
        Model::BgNbd | Model::MbgNbd | Model::ParetoNbd | Model::BgBb
    ) {
        return Err(core_err(format!(
            "conditional_p_purchases is not available for {model}"
        )));
    }
    let p = p4(&params)?;
    if !(horizon.is_finite() && horizon >= 0.0) {
        return Err(core_err(format!(
            "horizon must be a non-negative finite number, got {horizon}"
        )));
    }
    let (x, tx, tv) = load(m, frequency, recency, t)?;
    if m == Model::BgBb {
        // The cost per distinct history grows with the horizon (one term per opportunity).
        if horizon.fract() != 0.0 || horizon > 1e7 {
            return Err(core_err(format!(
                "horizon must be a whole number of opportunities (at most 1e7) for bg_bb, \
                 got {horizon}"
            )));
        }
        check_counts(&tx, "recency")?;
        check_counts(&tv, "T")?;
        let out = py.detach(|| {
            // The PMF depends on the whole history (x, t_x, n): once per distinct triple.
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
                .map(|&(xi, txi, ni)| bgbb::cond_p_purchases(p, n, horizon as u64, xi, txi, ni))
                .collect();
            idx.iter().map(|&j| pmf[j]).collect::<Vec<f64>>()
        });
        return Ok(F64Column::new(out));
    }
    let out = py.detach(|| {
        let pairs = compress::PairIndex::new(&x, &tv);
        let post = |xi: f64, ti: f64| {
            conditional::posterior_pmf(m, p, n, horizon, xi, ti).unwrap_or(f64::NAN)
        };
        let pmf: Vec<f64> = pairs
            .uniq
            .par_iter()
            .map(|&(xi, ti)| post(xi, ti))
            .collect();
        (0..x.len())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| {
                let pa = conditional::p_alive(m, p, x[i], tx[i], tv[i]).unwrap_or(f64::NAN);
                let q = pairs
                    .get(x[i], tv[i])
                    .map_or_else(|| post(x[i], tv[i]), |j| pmf[j]);
                conditional::combine(pa, q, n)
            })
            .collect::<Vec<f64>>()
    });
    Ok(F64Column::new(out))
}

/// Discounted CLV: Σ_{i=1..steps} spend · (E[Y(i·Δ)] − E[Y((i−1)·Δ)]) / (1+d)^i.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn clv(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    frequency: &Bound<'_, PyAny>,
    recency: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    spend: &Bound<'_, PyAny>,
    steps: usize,
    step_length: f64,
    discount_rate: f64,
) -> PyResult<F64Column> {
    let m = Model::parse(model)?;
    if m == Model::GammaGamma {
        return Err(core_err("CLV needs a purchase model"));
    }
    let p = p4(&params)?;
    let (x, tx, tv) = load(m, frequency, recency, t)?;
    let sp = f64_values(spend, "expected_spend")?;
    if sp.len() != x.len() {
        return Err(core_err("spend column has a different length"));
    }
    let out = py.detach(|| {
        let times: Vec<f64> = (1..=steps).map(|i| i as f64 * step_length).collect();
        let disc: Vec<f64> = (1..=steps)
            .map(|i| (1.0 + discount_rate).powf(-(i as f64)))
            .collect();
        let mut v = discounted(m, p, &x, &tx, &tv, &times, &disc);
        v.par_iter_mut().zip(&sp).for_each(|(a, s)| *a *= s);
        v
    });
    Ok(F64Column::new(out))
}

/// Predictions for a new customer over a list of horizons: `what` in {expected_purchases,
/// p_purchases} (the latter needs n).
#[pyfunction]
#[pyo3(signature = (model, what, params, t, n=0))]
fn predict_new(
    model: &str,
    what: &str,
    params: Vec<f64>,
    t: Vec<f64>,
    n: u64,
) -> PyResult<Vec<f64>> {
    let m = Model::parse(model)?;
    let p = p4(&params)?;
    t.iter()
        .map(|&ti| {
            Ok(match (m, what) {
                (Model::BgNbd, "expected_purchases") => bgnbd::uncond_expected(p, ti, Variant::Bg),
                (Model::MbgNbd, "expected_purchases") => {
                    bgnbd::uncond_expected(p, ti, Variant::Mbg)
                }
                (Model::ParetoNbd, "expected_purchases") => pareto_nbd::uncond_expected(p, ti),
                (Model::BgBb, "expected_purchases") => bgbb::uncond_expected(p, ti),
                (Model::BgNbd, "p_purchases") => bgnbd::p_purchases(p, n, ti, Variant::Bg),
                (Model::MbgNbd, "p_purchases") => bgnbd::p_purchases(p, n, ti, Variant::Mbg),
                (Model::BgBb, "p_purchases") => bgbb::p_purchases(p, n, ti as u64),
                (Model::ParetoNbd, "p_purchases") => pareto_nbd::p_purchases(p, n, ti),
                _ => return Err(core_err(format!("'{what}' is not available for {model}"))),
            })
        })
        .collect()
}

/// Simulate summaries (frequency, recency) for customers observed for `t[i]` from their first
/// purchase. `resolution`: purchase times are floored to this grid and same-period purchases
/// merged, as a summary with that period would do (None: continuous time).
#[pyfunction]
#[pyo3(signature = (model, params, t, seed, resolution=None))]
fn simulate_summary(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    t: &Bound<'_, PyAny>,
    seed: u64,
    resolution: Option<f64>,
) -> PyResult<(F64Column, F64Column)> {
    let kind = match Model::parse(model)? {
        Model::BgNbd => simulate::Kind::BgNbd,
        Model::MbgNbd => simulate::Kind::MbgNbd,
        Model::ParetoNbd => simulate::Kind::ParetoNbd,
        Model::BgBb => simulate::Kind::BgBb,
        Model::GammaGamma => return Err(core_err("use simulate_spend for Gamma-Gamma")),
    };
    let p = p4(&params)?;
    let tv = f64_values(t, "T")?;
    let (x, r) = py.detach(|| {
        let out: Vec<(f64, f64)> = tv
            .par_iter()
            .enumerate()
            .with_min_len(4096)
            .map(|(i, &te)| {
                let mut rng =
                    simulate::Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let times = simulate::customer_times(kind, p, te, resolution, &mut rng);
                (times.len() as f64, times.last().copied().unwrap_or(0.0))
            })
            .collect();
        out.into_iter().unzip::<f64, f64, Vec<f64>, Vec<f64>>()
    });
    Ok((F64Column::new(x), F64Column::new(r)))
}

/// Simulate transaction logs: customer index and time since the origin (birth[i] + purchase
/// times, the first purchase at birth[i]), for customers observed until birth[i] + t[i].
#[pyfunction]
#[pyo3(signature = (model, params, birth, t, seed, resolution=None))]
fn simulate_transactions(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    birth: Vec<f64>,
    t: Vec<f64>,
    seed: u64,
    resolution: Option<f64>,
) -> PyResult<(F64Column, F64Column)> {
    let kind = match Model::parse(model)? {
        Model::BgNbd => simulate::Kind::BgNbd,
        Model::MbgNbd => simulate::Kind::MbgNbd,
        Model::ParetoNbd => simulate::Kind::ParetoNbd,
        _ => {
            return Err(core_err(
                "transaction logs are simulated for continuous-time models",
            ))
        }
    };
    let p = p4(&params)?;
    if birth.len() != t.len() {
        return Err(core_err("birth and t have different lengths"));
    }
    let (ids, times) = py.detach(|| {
        let per: Vec<Vec<f64>> = t
            .par_iter()
            .enumerate()
            .map(|(i, &te)| {
                let mut rng =
                    simulate::Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                simulate::customer_times(kind, p, te, resolution, &mut rng)
            })
            .collect();
        let mut ids = Vec::new();
        let mut times = Vec::new();
        for (i, ts) in per.iter().enumerate() {
            ids.push(i as f64);
            times.push(birth[i]);
            for &s in ts {
                ids.push(i as f64);
                times.push(birth[i] + s);
            }
        }
        (ids, times)
    });
    Ok((F64Column::new(ids), F64Column::new(times)))
}

/// Gamma-Gamma: mean spend of `frequency[i]` transactions per customer (0 if none).
#[pyfunction]
fn simulate_spend(
    py: Python<'_>,
    params: Vec<f64>,
    frequency: &Bound<'_, PyAny>,
    seed: u64,
) -> PyResult<F64Column> {
    if params.len() != 3 {
        return Err(core_err("Gamma-Gamma has 3 parameters"));
    }
    let x = f64_values(frequency, "frequency")?;
    check_counts(&x, "frequency")?;
    let out = py.detach(|| {
        x.par_iter()
            .enumerate()
            .map(|(i, &xi)| {
                if xi == 0.0 {
                    return 0.0;
                }
                let mut rng =
                    simulate::Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let nu = rng.gamma(params[1], params[2]);
                // Sum of x Gamma(p, ν) draws is Gamma(p·x, ν).
                rng.gamma(params[0] * xi, nu) / xi
            })
            .collect()
    });
    Ok(F64Column::new(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<F64Column>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(log_likelihood, m)?)?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(predict_new, m)?)?;
    m.add_function(wrap_pyfunction!(conditional_p_purchases, m)?)?;
    m.add_function(wrap_pyfunction!(clv, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_summary, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_transactions, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_spend, m)?)?;
    Ok(())
}
