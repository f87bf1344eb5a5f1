//! Python-facing functions. Cohort data is small (counts per period), so it crosses as lists;
//! the fits release the GIL and `retention_fit_each` runs the cohorts in parallel.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::fit::{fit, fit_each, FitOut};
use super::likelihood::{ll, Cohort, Kind};
use super::value;
use crate::error::core_err;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(retention_fit, m)?)?;
    m.add_function(wrap_pyfunction!(retention_fit_each, m)?)?;
    m.add_function(wrap_pyfunction!(retention_log_likelihood, m)?)?;
    m.add_function(wrap_pyfunction!(retention_survival, m)?)?;
    m.add_function(wrap_pyfunction!(retention_rate, m)?)?;
    m.add_function(wrap_pyfunction!(retention_derl, m)?)?;
    m.add_function(wrap_pyfunction!(retention_elasticity, m)?)?;
    Ok(())
}

fn kind(name: &str) -> PyResult<Kind> {
    Kind::parse(name)
        .ok_or_else(|| core_err(format!("unknown retention model '{name}'; use sbg or bdw")))
}

fn check_params(k: Kind, p: &[f64]) -> PyResult<()> {
    if p.len() != k.n_params() || p.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(core_err(format!(
            "{} needs {} positive parameters ({}), got {p:?}",
            k.name(),
            k.n_params(),
            k.param_names().join(", ")
        )));
    }
    Ok(())
}

fn cohorts(lost: Vec<Vec<f64>>, censored: Vec<Vec<f64>>) -> PyResult<Vec<Cohort>> {
    if lost.len() != censored.len() {
        return Err(core_err(format!(
            "{} cohorts of lost counts but {} of censored counts",
            lost.len(),
            censored.len()
        )));
    }
    let mut out = Vec::with_capacity(lost.len());
    for (i, (l, c)) in lost.into_iter().zip(censored).enumerate() {
        if let Some(v) = l.iter().chain(&c).find(|v| !(v.is_finite() && **v >= 0.0)) {
            return Err(core_err(format!(
                "cohort {i}: counts must be finite and non-negative, got {v}"
            )));
        }
        out.push(Cohort {
            lost: l,
            censored: c,
        });
    }
    Ok(out)
}

fn whole(t: &[f64], what: &str) -> PyResult<()> {
    if let Some(v) = t
        .iter()
        .find(|v| !(v.is_finite() && **v >= 0.0 && v.fract() == 0.0))
    {
        return Err(core_err(format!(
            "{what} must be whole numbers >= 0, got {v}"
        )));
    }
    Ok(())
}

fn discount(d: f64) -> PyResult<()> {
    if !(d.is_finite() && d > 0.0) {
        return Err(core_err(format!(
            "discount rate must be a positive number per period, got {d}"
        )));
    }
    Ok(())
}

fn to_dict<'py>(py: Python<'py>, k: Kind, out: FitOut) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("model", k.name())?;
    d.set_item("param_names", k.param_names().to_vec())?;
    d.set_item("params", out.params)?;
    d.set_item("standard_errors", out.se)?;
    d.set_item("covariance", out.cov)?;
    d.set_item("log_likelihood", out.ll)?;
    d.set_item("converged", out.converged)?;
    d.set_item("identified", out.identified)?;
    d.set_item("n_iterations", out.iterations)?;
    d.set_item("message", out.message)?;
    d.set_item("n_customers", out.n_customers)?;
    d.set_item("gradient_max_abs", out.grad_max_abs)?;
    Ok(d)
}

/// Fit one parameter set to the pooled cohorts. lost[i][t-1]: customers of cohort i with
/// lifetime t; censored[i][t]: customers still active after t renewals at the end of data.
#[pyfunction]
#[pyo3(signature = (model, lost, censored, start=None, max_iter=200))]
fn retention_fit<'py>(
    py: Python<'py>,
    model: &str,
    lost: Vec<Vec<f64>>,
    censored: Vec<Vec<f64>>,
    start: Option<Vec<f64>>,
    max_iter: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let k = kind(model)?;
    if let Some(s) = &start {
        check_params(k, s)?;
    }
    let d = cohorts(lost, censored)?;
    if d.iter().map(|c| c.size()).sum::<f64>() <= 0.0 {
        return Err(core_err("no customers to fit"));
    }
    let out = py.detach(|| fit(k, &d, start, max_iter));
    to_dict(py, k, out)
}

/// Fit each cohort separately (in parallel); one result dict per cohort.
#[pyfunction]
#[pyo3(signature = (model, lost, censored, max_iter=200))]
fn retention_fit_each<'py>(
    py: Python<'py>,
    model: &str,
    lost: Vec<Vec<f64>>,
    censored: Vec<Vec<f64>>,
    max_iter: usize,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let k = kind(model)?;
    let d = cohorts(lost, censored)?;
    if let Some(i) = d.iter().position(|c| c.size() <= 0.0) {
        return Err(core_err(format!("cohort {i} has no customers")));
    }
    let outs = py.detach(|| fit_each(k, &d, max_iter));
    outs.into_iter().map(|o| to_dict(py, k, o)).collect()
}

/// Total log-likelihood of the cohorts at the given parameters.
#[pyfunction]
fn retention_log_likelihood(
    model: &str,
    params: Vec<f64>,
    lost: Vec<Vec<f64>>,
    censored: Vec<Vec<f64>>,
) -> PyResult<f64> {
    let k = kind(model)?;
    check_params(k, &params)?;
    let d = cohorts(lost, censored)?;
    Ok(ll(k, &params, &d))
}

/// S(t) at each whole t >= 0.
#[pyfunction]
fn retention_survival(model: &str, params: Vec<f64>, t: Vec<f64>) -> PyResult<Vec<f64>> {
    let k = kind(model)?;
    check_params(k, &params)?;
    whole(&t, "periods")?;
    Ok(value::survival(k, &params, &t))
}

/// r(t) = S(t)/S(t-1) at each whole t >= 1.
#[pyfunction]
fn retention_rate(model: &str, params: Vec<f64>, t: Vec<f64>) -> PyResult<Vec<f64>> {
    let k = kind(model)?;
    check_params(k, &params)?;
    whole(&t, "periods")?;
    if t.contains(&0.0) {
        return Err(core_err("the retention rate starts at period 1"));
    }
    Ok(value::retention(k, &params, &t))
}

/// DERL(d | k renewals) per k: the closed form for sBG unless `closed_form=False`.
#[pyfunction]
#[pyo3(signature = (model, params, renewals, discount_rate, closed_form=true))]
fn retention_derl(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    renewals: Vec<f64>,
    discount_rate: f64,
    closed_form: bool,
) -> PyResult<Vec<f64>> {
    let k = kind(model)?;
    check_params(k, &params)?;
    whole(&renewals, "renewals")?;
    discount(discount_rate)?;
    py.detach(|| {
        renewals
            .iter()
            .map(|&r| {
                if closed_form {
                    value::derl(k, &params, r, discount_rate)
                } else {
                    value::derl_sum(k, &params, r, discount_rate)
                }
            })
            .collect::<Result<Vec<f64>, String>>()
    })
    .map_err(core_err)
}

/// Retention elasticity of DERL per k (see `value::elasticity`).
#[pyfunction]
fn retention_elasticity(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    renewals: Vec<f64>,
    discount_rate: f64,
) -> PyResult<Vec<f64>> {
    let k = kind(model)?;
    check_params(k, &params)?;
    whole(&renewals, "renewals")?;
    discount(discount_rate)?;
    py.detach(|| {
        renewals
            .iter()
            .map(|&r| value::elasticity(k, &params, r, discount_rate))
            .collect::<Result<Vec<f64>, String>>()
    })
    .map_err(core_err)
}
