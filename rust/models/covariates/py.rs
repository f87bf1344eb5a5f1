//! Python functions of the covariate models: the fit and log-likelihood on (x, t_x, T,
//! covariates), and the predictions of every purchase model with parameters per row (the
//! per-customer parameters a covariate model implies), computed once per distinct parameter
//! vector by the model's ordinary kernels.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use super::{compress_cov, CovData, CovKernels, Spec, COV_MODELS};
use crate::arrow_io::f64_values;
use crate::error::core_err;
use crate::models::kernels::{Cols, Kernels};
use crate::models::model::ConditionalPmf;
use crate::models::model_for;
use crate::models::py::{cols, fit_dict, load, Columns, F64Column};

fn cov_model(kind: &str) -> PyResult<&'static dyn CovKernels> {
    COV_MODELS
        .iter()
        .copied()
        .find(|m| m.kind() == kind)
        .ok_or_else(|| core_err(format!("covariates are not available for model '{kind}'")))
}

/// Columns as one row-major matrix (n rows).
fn matrix(columns: &[Bound<'_, PyAny>], n: usize, what: &str) -> PyResult<Vec<f64>> {
    let k = columns.len();
    let mut out = vec![0.0; n * k];
    for (j, c) in columns.iter().enumerate() {
        let v = f64_values(c, what)?;
        if v.len() != n {
            return Err(core_err(format!(
                "{what} column {j} has {} rows, expected {n}",
                v.len()
            )));
        }
        if let Some(i) = v.iter().position(|a| !a.is_finite()) {
            return Err(core_err(format!(
                "{what} column {j} is not finite at row {}",
                i + 1
            )));
        }
        for (i, a) in v.into_iter().enumerate() {
            out[i * k + j] = a;
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn cov_data(
    m: &dyn Kernels,
    frequency: &Bound<'_, PyAny>,
    second: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    trans: &[Bound<'_, PyAny>],
    life: &[Bound<'_, PyAny>],
    weights: Option<&Bound<'_, PyAny>>,
) -> PyResult<CovData> {
    let (x, tx, tv) = load(m, frequency, second, t)?;
    let n = x.len();
    let zt = matrix(trans, n, "transaction covariate")?;
    let zl = matrix(life, n, "lifetime covariate")?;
    let w = weights.map(|w| f64_values(w, "weights")).transpose()?;
    Ok(compress_cov(
        &x,
        &tx,
        &tv,
        w.as_deref(),
        &zt,
        trans.len(),
        &zl,
        life.len(),
    ))
}

pub(crate) fn spec(
    trans_index: Vec<usize>,
    life_index: Vec<usize>,
    l2: Vec<f64>,
    kt: usize,
    kl: usize,
) -> PyResult<Spec> {
    let n_coef = l2.len();
    if trans_index.len() != kt || life_index.len() != kl {
        return Err(core_err(
            "one coefficient index per covariate column is needed",
        ));
    }
    if trans_index.iter().chain(&life_index).any(|&c| c >= n_coef) {
        return Err(core_err(format!(
            "coefficient indices must be below {n_coef}"
        )));
    }
    if l2.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(core_err("L2 penalties must be finite and non-negative"));
    }
    Ok(Spec {
        tidx: trans_index,
        lidx: life_index,
        n_coef,
        l2,
    })
}

/// Fit a model with covariates: parameters are the base parameters (natural scale) followed
/// by the coefficients; `trans_index[j]` / `life_index[j]` is the coefficient of covariate
/// column j of each process; `l2` has one penalty per coefficient.
#[pyfunction]
#[pyo3(signature = (model, frequency, second, t, trans, life, trans_index, life_index, l2,
                    weights=None, start=None, max_iter=500))]
#[allow(clippy::too_many_arguments)]
fn cov_fit<'py>(
    py: Python<'py>,
    model: &str,
    frequency: &Bound<'py, PyAny>,
    second: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    trans: Vec<Bound<'py, PyAny>>,
    life: Vec<Bound<'py, PyAny>>,
    trans_index: Vec<usize>,
    life_index: Vec<usize>,
    l2: Vec<f64>,
    weights: Option<&Bound<'py, PyAny>>,
    start: Option<Vec<f64>>,
    max_iter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let cm = cov_model(model)?;
    let m = model_for(model)?;
    let sp = spec(trans_index, life_index, l2, trans.len(), life.len())?;
    let k = cm.links().len();
    if let Some(s) = &start {
        if s.len() != k + sp.n_coef
            || s.iter().any(|v| !v.is_finite())
            || s[..k].iter().any(|v| *v <= 0.0)
        {
            return Err(core_err(
                "start values: one per parameter and coefficient, base parameters positive",
            ));
        }
    }
    let d = cov_data(m, frequency, second, t, &trans, &life, weights)?;
    if d.is_empty() {
        return Err(core_err("no rows with positive weight to fit"));
    }
    let out = py.detach(|| cm.fit(&sp, &d, start, max_iter));
    fit_dict(py, out)
}

/// Log-likelihood of a covariate model at (base parameters, coefficients), and its gradient
/// in (log base parameters, coefficients).
#[pyfunction]
#[pyo3(signature = (model, params, frequency, second, t, trans, life, trans_index, life_index,
                    weights=None))]
#[allow(clippy::too_many_arguments)]
fn cov_log_likelihood<'py>(
    py: Python<'py>,
    model: &str,
    params: Vec<f64>,
    frequency: &Bound<'py, PyAny>,
    second: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    trans: Vec<Bound<'py, PyAny>>,
    life: Vec<Bound<'py, PyAny>>,
    trans_index: Vec<usize>,
    life_index: Vec<usize>,
    weights: Option<&Bound<'py, PyAny>>,
) -> PyResult<(f64, Vec<f64>)> {
    let cm = cov_model(model)?;
    let m = model_for(model)?;
    let k = cm.links().len();
    let n_coef = params.len().saturating_sub(k);
    let sp = spec(
        trans_index,
        life_index,
        vec![0.0; n_coef],
        trans.len(),
        life.len(),
    )?;
    if params.len() < k || params[..k].iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(core_err(
            "base parameters must be positive, one per parameter",
        ));
    }
    let d = cov_data(m, frequency, second, t, &trans, &life, weights)?;
    Ok(py.detach(|| cm.ll_grad(&sp, &params, &d)))
}

/// Rows grouped by their parameter vector: (parameters, row indices) per distinct vector.
fn groups(params: &[Vec<f64>], n: usize) -> Vec<(Vec<f64>, Vec<usize>)> {
    let mut map: HashMap<Vec<u64>, usize> = HashMap::new();
    let mut out: Vec<(Vec<f64>, Vec<usize>)> = Vec::new();
    for i in 0..n {
        let key: Vec<u64> = params.iter().map(|c| (c[i] + 0.0).to_bits()).collect();
        let g = *map.entry(key).or_insert_with(|| {
            out.push((params.iter().map(|c| c[i]).collect(), Vec::new()));
            out.len() - 1
        });
        out[g].1.push(i);
    }
    out
}

/// Run `f` on each group's rows and scatter the results back into row order.
fn per_group(
    c: &Columns,
    params: &[Vec<f64>],
    f: impl Fn(&[f64], Cols<'_>, &[usize]) -> PyResult<Vec<f64>> + Sync,
) -> PyResult<Vec<f64>> {
    let n = c.0.len();
    let gs = groups(params, n);
    let parts: Vec<PyResult<Vec<f64>>> = gs
        .par_iter()
        .map(|(p, idx)| {
            let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            let sub = (pick(&c.0), pick(&c.1), pick(&c.2));
            f(p, cols(&sub), idx)
        })
        .collect();
    let mut out = vec![f64::NAN; n];
    for ((_, idx), part) in gs.iter().zip(parts) {
        for (&i, v) in idx.iter().zip(part?) {
            out[i] = v;
        }
    }
    Ok(out)
}

fn param_columns(
    m: &dyn Kernels,
    params: &[Bound<'_, PyAny>],
    n: usize,
) -> PyResult<Vec<Vec<f64>>> {
    if params.len() != m.n_params() {
        return Err(core_err(format!(
            "expected {} parameter columns, got {}",
            m.n_params(),
            params.len()
        )));
    }
    params
        .iter()
        .map(|c| {
            let v = f64_values(c, "parameter")?;
            if v.len() != n {
                return Err(core_err("parameter columns have a different length"));
            }
            if let Some(i) = v.iter().position(|a| !(a.is_finite() && *a > 0.0)) {
                return Err(core_err(format!(
                    "per-row parameter is not positive and finite at row {}",
                    i + 1
                )));
            }
            Ok(v)
        })
        .collect()
}

/// Per-row predictions with per-row parameters (one column per model parameter): `what` in
/// {p_alive, expected_purchases, log_likelihood, dert, conditional_p_purchases (of n)}.
#[pyfunction]
#[pyo3(signature = (model, what, params, frequency, second, t, horizon=0.0, n=0))]
#[allow(clippy::too_many_arguments)]
fn predict_rows(
    py: Python<'_>,
    model: &str,
    what: &str,
    params: Vec<Bound<'_, PyAny>>,
    frequency: &Bound<'_, PyAny>,
    second: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    horizon: f64,
    n: u64,
) -> PyResult<F64Column> {
    let m = model_for(model)?;
    let c = load(m, frequency, second, t)?;
    let ps = param_columns(m, &params, c.0.len())?;
    if what == "conditional_p_purchases" {
        if m.conditional_pmf() == ConditionalPmf::Unavailable {
            return Err(core_err(format!(
                "conditional_p_purchases is not available for {model}"
            )));
        }
        if !(horizon.is_finite() && horizon >= 0.0) {
            return Err(core_err(format!(
                "horizon must be a non-negative finite number, got {horizon}"
            )));
        }
    }
    let out = py.detach(|| {
        per_group(&c, &ps, |p, sub, _| match what {
            "conditional_p_purchases" => m.conditional_p_purchases(p, sub, n, horizon),
            _ => m.predict(what, p, sub, horizon),
        })
    })?;
    Ok(F64Column::new(out))
}

/// Discounted CLV with per-row parameters (see `clv`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn clv_rows(
    py: Python<'_>,
    model: &str,
    params: Vec<Bound<'_, PyAny>>,
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
    let ps = param_columns(m, &params, c.0.len())?;
    let sp = f64_values(spend, "expected_spend")?;
    if sp.len() != c.0.len() {
        return Err(core_err("spend column has a different length"));
    }
    let times: Vec<f64> = (1..=steps).map(|i| i as f64 * step_length).collect();
    let disc: Vec<f64> = (1..=steps)
        .map(|i| (1.0 + discount_rate).powf(-(i as f64)))
        .collect();
    let out = py.detach(|| {
        per_group(&c, &ps, |p, sub, idx| {
            let v = m.discounted(p, sub, &times, &disc)?;
            Ok(v.iter().zip(idx).map(|(a, &i)| a * sp[i]).collect())
        })
    })?;
    Ok(F64Column::new(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cov_fit, m)?)?;
    m.add_function(wrap_pyfunction!(cov_log_likelihood, m)?)?;
    m.add_function(wrap_pyfunction!(predict_rows, m)?)?;
    m.add_function(wrap_pyfunction!(clv_rows, m)?)?;
    Ok(())
}
