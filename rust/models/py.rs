//! The Python-facing functions of the models: load the columns, look the kind up in
//! `MODELS` (one dynamic call per Python call), release the GIL and run the model's kernels.

use std::cell::RefCell;
use std::sync::Arc;

use arrow_array::{Array, Float64Array};
use arrow_data::ArrayData;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::DataType;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict};
use rayon::prelude::*;

use super::compress::compress;
use super::conditional::check_counts;
use super::fit::FitOut;
use super::gamma_gamma;
use super::kernels::{Cols, Kernels};
use super::model::ConditionalPmf;
use super::model_for;
use crate::arrow_io::f64_values;
use crate::error::core_err;

/// The parameter count `p4` used to demand, named as before.
fn check_params(m: &dyn Kernels, p: &[f64]) -> PyResult<()> {
    if p.len() != m.n_params() {
        return Err(core_err(format!(
            "expected {} parameters, got {}",
            m.n_params(),
            p.len()
        )));
    }
    Ok(())
}

pub(super) type Columns = (Vec<f64>, Vec<f64>, Vec<f64>);

pub(super) fn load(
    m: &dyn Kernels,
    x: &Bound<'_, PyAny>,
    tx: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
) -> PyResult<Columns> {
    let xv = f64_values(x, "frequency")?;
    let txv = f64_values(tx, m.second_column())?;
    let tv = f64_values(t, "T")?;
    if txv.len() != xv.len() || tv.len() != xv.len() {
        return Err(core_err("columns have different lengths"));
    }
    check_counts(&xv, "frequency")?;
    Ok((xv, txv, tv))
}

pub(super) fn cols(c: &Columns) -> Cols<'_> {
    Cols {
        x: &c.0,
        tx: &c.1,
        t: &c.2,
    }
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
    let m = model_for(model)?;
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
        Some(m.fit(&d, start, max_iter))
    });
    let out = out.ok_or_else(|| core_err("no rows with positive weight to fit"))?;
    fit_dict(py, out)
}

/// The result of a fit as the dict Python reads.
pub(crate) fn fit_dict(py: Python<'_>, out: FitOut) -> PyResult<Bound<'_, PyDict>> {
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
    dict.set_item("boundary", out.boundary)?;
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
    let m = model_for(model)?;
    check_params(m, &params)?;
    let (x, tx, tv) = load(m, frequency, second, t)?;
    let w = weights.map(|w| f64_values(w, "weights")).transpose()?;
    Ok(py.detach(|| {
        let d = compress(&x, &tx, &tv, w.as_deref());
        m.log_likelihood(&params, &d)
    }))
}

/// Log-likelihood of weighted patterns and its gradient in the log-parameters, at each of
/// `thetas`: one partition's share of a fit whose patterns do not fit on one machine
/// (`fit_external`; the patterns are compressed once for all points).
#[pyfunction]
#[pyo3(signature = (model, thetas, frequency, second, t, weights=None))]
fn ll_grad(
    py: Python<'_>,
    model: &str,
    thetas: Vec<Vec<f64>>,
    frequency: &Bound<'_, PyAny>,
    second: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<(f64, Vec<f64>)>> {
    let m = model_for(model)?;
    for th in &thetas {
        check_params(m, th)?;
    }
    let (x, tx, tv) = load(m, frequency, second, t)?;
    let w = weights.map(|w| f64_values(w, "weights")).transpose()?;
    Ok(py.detach(|| {
        let d = compress(&x, &tx, &tv, w.as_deref());
        thetas
            .iter()
            .map(|th| {
                if d.is_empty() {
                    (0.0, vec![0.0; th.len()])
                } else {
                    m.ll_grad_log(th, &d)
                }
            })
            .collect()
    }))
}

/// `fit` on patterns held elsewhere: `objective(thetas)` returns, for each log-parameter
/// vector of `thetas`, their total log-likelihood and its gradient in the log-parameters
/// (the sum of `ll_grad` over the parts); the `sample` columns (some of the patterns, with
/// the longest T) give the start values and boundary diagnoses; `n_observations` and
/// `n_patterns` describe the whole data.
#[pyfunction]
#[pyo3(signature = (
    model, objective, frequency, second, t, weights, n_observations, n_patterns,
    start=None, max_iter=500
))]
#[allow(clippy::too_many_arguments)]
fn fit_external<'py>(
    py: Python<'py>,
    model: &str,
    objective: &Bound<'py, PyAny>,
    frequency: &Bound<'py, PyAny>,
    second: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    weights: &Bound<'py, PyAny>,
    n_observations: f64,
    n_patterns: usize,
    start: Option<Vec<f64>>,
    max_iter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let m = model_for(model)?;
    let (x, tx, tv) = load(m, frequency, second, t)?;
    let w = f64_values(weights, "weights")?;
    if let Some(s) = &start {
        if s.len() != m.n_params() || s.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(core_err(
                "start values must be positive and one per parameter",
            ));
        }
    }
    if !(n_observations.is_finite() && n_observations > 0.0) {
        return Err(core_err("n_observations must be positive"));
    }
    let sample = compress(&x, &tx, &tv, Some(&w));
    if sample.is_empty() {
        return Err(core_err(
            "no sample rows with positive weight to start from",
        ));
    }
    // The first error of the objective ends the fit: later calls return NaN without calling
    // it again (each call may be a cluster job), and the error is raised afterwards.
    let failed: RefCell<Option<PyErr>> = RefCell::new(None);
    let total = |thetas: &[Vec<f64>]| -> Vec<(f64, Vec<f64>)> {
        if failed.borrow().is_some() {
            return Vec::new();
        }
        let got = objective
            .call1((thetas.to_vec(),))
            .and_then(|r| r.extract::<Vec<(f64, Vec<f64>)>>());
        match got {
            Ok(v) if v.len() == thetas.len() => v,
            Ok(_) => {
                *failed.borrow_mut() = Some(core_err(
                    "objective: expected one (log_likelihood, gradient) per parameter vector",
                ));
                Vec::new()
            }
            Err(e) => {
                *failed.borrow_mut() = Some(e);
                Vec::new()
            }
        }
    };
    let out = m.fit_external(&total, &sample, n_observations, n_patterns, start, max_iter);
    if let Some(e) = failed.into_inner() {
        return Err(e);
    }
    fit_dict(py, out)
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
    let m = model_for(model)?;
    let c = load(m, frequency, second, t)?;
    check_params(m, &params)?;
    let out = py.detach(|| m.predict(what, &params, cols(&c), horizon))?;
    Ok(F64Column::new(out))
}

/// Expected purchases per row over the row's own horizon (`horizon[i]` time units, whole
/// opportunities for BG/BB): the bracket once per distinct (frequency, T, horizon).
#[pyfunction]
fn expected_purchases_rows(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    frequency: &Bound<'_, PyAny>,
    recency: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    horizon: &Bound<'_, PyAny>,
) -> PyResult<F64Column> {
    let m = model_for(model)?;
    let c = load(m, frequency, recency, t)?;
    check_params(m, &params)?;
    let h = f64_values(horizon, "t")?;
    let out = py.detach(|| m.expected_purchases_rows(&params, cols(&c), &h))?;
    Ok(F64Column::new(out))
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
    let m = model_for(model)?;
    if m.conditional_pmf() == ConditionalPmf::Unavailable {
        return Err(core_err(format!(
            "conditional_p_purchases is not available for {model}"
        )));
    }
    check_params(m, &params)?;
    if !(horizon.is_finite() && horizon >= 0.0) {
        return Err(core_err(format!(
            "horizon must be a non-negative finite number, got {horizon}"
        )));
    }
    let c = load(m, frequency, recency, t)?;
    let out = py.detach(|| m.conditional_p_purchases(&params, cols(&c), n, horizon))?;
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
    let m = model_for(model)?;
    let c = load(m, frequency, recency, t)?;
    let sp = f64_values(spend, "expected_spend")?;
    if sp.len() != c.0.len() {
        return Err(core_err("spend column has a different length"));
    }
    let out = py.detach(|| {
        let times: Vec<f64> = (1..=steps).map(|i| i as f64 * step_length).collect();
        let disc: Vec<f64> = (1..=steps)
            .map(|i| (1.0 + discount_rate).powf(-(i as f64)))
            .collect();
        let mut v = m.discounted(&params, cols(&c), &times, &disc)?;
        v.par_iter_mut().zip(&sp).for_each(|(a, s)| *a *= s);
        Ok::<_, PyErr>(v)
    })?;
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
    model_for(model)?.predict_new(what, &params, &t, n)
}

/// A new customer's P(X(t_i) = n) for n = 0..=max_count: one row per horizon in t; with
/// `weights` (one per horizon), the one row Σ_i w_i P(X(t_i) = n) (expected customers per
/// count, without a Python object per horizon when the horizons are many).
#[pyfunction]
#[pyo3(signature = (model, params, t, max_count, weights=None))]
fn pmf_new(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    t: Vec<f64>,
    max_count: u64,
    weights: Option<Vec<f64>>,
) -> PyResult<Vec<Vec<f64>>> {
    let m = model_for(model)?;
    if weights.as_ref().is_some_and(|w| w.len() != t.len()) {
        return Err(core_err("pmf_new: weights and t have different lengths"));
    }
    // Rows of max_count + 1 values each: refuse sizes that would not fit in memory.
    if max_count > 100_000 || (t.len() as u64).saturating_mul(max_count + 1) > 100_000_000 {
        return Err(core_err(format!(
            "pmf_new: {} horizons x {} counts is too many values",
            t.len(),
            max_count.saturating_add(1)
        )));
    }
    py.detach(|| {
        let rows = m.pmf_new(&params, &t, max_count)?;
        Ok(match weights {
            None => rows,
            Some(w) => {
                let mut acc = vec![0.0; max_count as usize + 1];
                for (row, wi) in rows.iter().zip(&w) {
                    for (a, v) in acc.iter_mut().zip(row) {
                        *a += wi * v;
                    }
                }
                vec![acc]
            }
        })
    })
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
    let m = model_for(model)?;
    let tv = f64_values(t, "T")?;
    let (x, r) = py.detach(|| m.simulate_summary(&params, &tv, seed, resolution))?;
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
    let m = model_for(model)?;
    if birth.len() != t.len() {
        return Err(core_err("birth and t have different lengths"));
    }
    let (ids, times) = py.detach(|| {
        let per = m.simulate_times(&params, &t, seed, resolution)?;
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
        Ok::<_, PyErr>((ids, times))
    })?;
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
    let p: [f64; 3] = params
        .as_slice()
        .try_into()
        .map_err(|_| core_err("Gamma-Gamma has 3 parameters"))?;
    let x = f64_values(frequency, "frequency")?;
    check_counts(&x, "frequency")?;
    let out = py.detach(|| gamma_gamma::simulate_spend(p, &x, seed));
    Ok(F64Column::new(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<F64Column>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(log_likelihood, m)?)?;
    m.add_function(wrap_pyfunction!(ll_grad, m)?)?;
    m.add_function(wrap_pyfunction!(fit_external, m)?)?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(expected_purchases_rows, m)?)?;
    m.add_function(wrap_pyfunction!(predict_new, m)?)?;
    m.add_function(wrap_pyfunction!(pmf_new, m)?)?;
    m.add_function(wrap_pyfunction!(conditional_p_purchases, m)?)?;
    m.add_function(wrap_pyfunction!(clv, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_summary, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_transactions, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_spend, m)?)?;
    Ok(())
}
