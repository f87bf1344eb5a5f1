//! Python functions of the time-varying-covariate Pareto/NBD: data arrive as columns (one
//! value per customer, or per covariate piece) and are checked here, so a malformed path is
//! a clear error and never a NaN likelihood.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::super::py::spec;
use super::super::Spec;
use super::fit::{fit, free_spec, ll_grad_free};
use super::pmf::pmf;
use super::{predict, predict_steps, to_free, DynData};
use crate::arrow_io::f64_values;
use crate::error::core_err;
use crate::models::py::fit_dict;

fn finite(v: Vec<f64>, what: &str) -> PyResult<Vec<f64>> {
    if let Some(i) = v.iter().position(|a| !a.is_finite()) {
        return Err(core_err(format!("{what} is not finite at row {}", i + 1)));
    }
    Ok(v)
}

/// Columns as one row-major matrix with `n` rows.
fn matrix(columns: &[Bound<'_, PyAny>], n: usize, what: &str) -> PyResult<Vec<f64>> {
    let k = columns.len();
    let mut out = vec![0.0; n * k];
    for (j, c) in columns.iter().enumerate() {
        let v = finite(f64_values(c, what)?, &format!("{what} column {j}"))?;
        if v.len() != n {
            return Err(core_err(format!(
                "{what} column {j} has {} rows, expected {n}",
                v.len()
            )));
        }
        for (i, a) in v.into_iter().enumerate() {
            out[i * k + j] = a;
        }
    }
    Ok(out)
}

/// Piece offsets (n + 1 non-decreasing integers from 0) and lengths.
fn pieces(
    offsets: &Bound<'_, PyAny>,
    dur: &Bound<'_, PyAny>,
    n: usize,
) -> PyResult<(Vec<usize>, Vec<f64>)> {
    let dur = finite(f64_values(dur, "piece lengths")?, "piece length")?;
    if let Some(i) = dur.iter().position(|d| *d < 0.0) {
        return Err(core_err(format!(
            "piece length is negative at row {}",
            i + 1
        )));
    }
    let off = finite(f64_values(offsets, "piece offsets")?, "piece offset")?;
    if off.len() != n + 1
        || off[0] != 0.0
        || off.windows(2).any(|w| w[1] < w[0])
        || off.iter().any(|o| o.fract() != 0.0)
        || off[n] as usize != dur.len()
    {
        return Err(core_err(format!(
            "piece offsets: expected {} non-decreasing whole numbers from 0 to {}",
            n + 1,
            dur.len()
        )));
    }
    Ok((off.into_iter().map(|o| o as usize).collect(), dur))
}

#[allow(clippy::too_many_arguments)]
fn dyn_data(
    frequency: &Bound<'_, PyAny>,
    recency: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    trans_sum: Option<&[Bound<'_, PyAny>]>,
    offsets: &Bound<'_, PyAny>,
    dur: &Bound<'_, PyAny>,
    trans: &[Bound<'_, PyAny>],
    life: &[Bound<'_, PyAny>],
) -> PyResult<DynData> {
    let x = finite(f64_values(frequency, "frequency")?, "frequency")?;
    let tx = finite(f64_values(recency, "recency")?, "recency")?;
    let tv = finite(f64_values(t, "T")?, "T")?;
    let n = x.len();
    if tx.len() != n || tv.len() != n {
        return Err(core_err("frequency, recency and T must have equal lengths"));
    }
    for i in 0..n {
        if x[i] < 0.0 || tx[i] < 0.0 || tx[i] > tv[i] || (x[i] == 0.0 && tx[i] != 0.0) {
            return Err(core_err(format!(
                "row {}: expected frequency >= 0 and 0 <= recency <= T (recency 0 when \
                 frequency is 0), got ({}, {}, {})",
                i + 1,
                x[i],
                tx[i],
                tv[i]
            )));
        }
    }
    if trans_sum.is_some_and(|s| s.len() != trans.len()) {
        return Err(core_err(
            "one purchase-time sum per transaction covariate is needed",
        ));
    }
    let (off, dur) = pieces(offsets, dur, n)?;
    for i in 0..n {
        let total: f64 = dur[off[i]..off[i + 1]].iter().sum();
        if (total - tv[i]).abs() > 1e-9 * tv[i].max(1.0) {
            return Err(core_err(format!(
                "row {}: the covariate pieces cover {total} periods, but T is {}",
                i + 1,
                tv[i]
            )));
        }
    }
    let p = dur.len();
    Ok(DynData {
        // predictions do not use the purchase-time sums
        st: match trans_sum {
            Some(s) => matrix(s, n, "purchase-time covariate sum")?,
            None => vec![0.0; n * trans.len()],
        },
        zt: matrix(trans, p, "transaction covariate")?,
        zl: matrix(life, p, "lifetime covariate")?,
        kt: trans.len(),
        kl: life.len(),
        x,
        tx,
        t: tv,
        off,
        dur,
    }
    .merged())
}

fn check_params(p: &[f64], n_coef: usize) -> PyResult<()> {
    if p.len() != 4 + n_coef || p.iter().any(|v| !v.is_finite()) || p[..4].iter().any(|v| *v <= 0.0)
    {
        return Err(core_err(format!(
            "parameters: expected r, alpha, s, beta (positive) and {n_coef} coefficients"
        )));
    }
    Ok(())
}

/// The coefficient map: one free coefficient per column unless indices are given (as for
/// `cov_fit`: `trans_index[j]` / `life_index[j]` is the coefficient of column j, `l2` one
/// penalty per coefficient).
fn dyn_spec(
    d: &DynData,
    trans_index: Option<Vec<usize>>,
    life_index: Option<Vec<usize>>,
    l2: Option<Vec<f64>>,
) -> PyResult<Spec> {
    match (trans_index, life_index, l2) {
        (None, None, None) => Ok(free_spec(d.kt, d.kl)),
        (Some(t), Some(l), Some(p)) => spec(t, l, p, d.kt, d.kl),
        _ => Err(core_err(
            "trans_index, life_index and l2 are given together or not at all",
        )),
    }
}

/// Fit the Pareto/NBD with time-varying covariates. Per customer: frequency, recency, T (in
/// periods since the first purchase), `trans_sum` (per transaction covariate, its sum over the
/// repeat purchases); per piece of a customer's path (customer i owns pieces
/// `offsets[i]..offsets[i+1]`, lengths summing to T): `dur`, `trans`, `life` columns.
#[pyfunction]
#[pyo3(signature = (frequency, recency, t, trans_sum, offsets, dur, trans, life, start=None,
                    max_iter=500, trans_index=None, life_index=None, l2=None))]
#[allow(clippy::too_many_arguments)]
fn dyncov_fit<'py>(
    py: Python<'py>,
    frequency: &Bound<'py, PyAny>,
    recency: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    trans_sum: Vec<Bound<'py, PyAny>>,
    offsets: &Bound<'py, PyAny>,
    dur: &Bound<'py, PyAny>,
    trans: Vec<Bound<'py, PyAny>>,
    life: Vec<Bound<'py, PyAny>>,
    start: Option<Vec<f64>>,
    max_iter: usize,
    trans_index: Option<Vec<usize>>,
    life_index: Option<Vec<usize>>,
    l2: Option<Vec<f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = dyn_data(
        frequency,
        recency,
        t,
        Some(&trans_sum),
        offsets,
        dur,
        &trans,
        &life,
    )?;
    if d.is_empty() {
        return Err(core_err("no customers to fit"));
    }
    let sp = dyn_spec(&d, trans_index, life_index, l2)?;
    if let Some(s) = &start {
        check_params(s, sp.n_coef)?;
    }
    let out = py.detach(|| fit(&d, &sp, start, max_iter));
    fit_dict(py, out)
}

/// Log-likelihood at (r, alpha, s, beta, coefficients) and its gradient in (log r, log alpha,
/// log s, log beta, coefficients); data and coefficient map as for `dyncov_fit`.
#[pyfunction]
#[pyo3(signature = (params, frequency, recency, t, trans_sum, offsets, dur, trans, life,
                    trans_index=None, life_index=None))]
#[allow(clippy::too_many_arguments)]
fn dyncov_log_likelihood<'py>(
    py: Python<'py>,
    params: Vec<f64>,
    frequency: &Bound<'py, PyAny>,
    recency: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    trans_sum: Vec<Bound<'py, PyAny>>,
    offsets: &Bound<'py, PyAny>,
    dur: &Bound<'py, PyAny>,
    trans: Vec<Bound<'py, PyAny>>,
    life: Vec<Bound<'py, PyAny>>,
    trans_index: Option<Vec<usize>>,
    life_index: Option<Vec<usize>>,
) -> PyResult<(f64, Vec<f64>)> {
    let d = dyn_data(
        frequency,
        recency,
        t,
        Some(&trans_sum),
        offsets,
        dur,
        &trans,
        &life,
    )?;
    let n_coef = trans_index
        .iter()
        .chain(&life_index)
        .flatten()
        .map(|c| c + 1)
        .max()
        .unwrap_or(0);
    let l2 = trans_index.is_some().then(|| vec![0.0; n_coef]);
    let sp = dyn_spec(&d, trans_index, life_index, l2)?;
    check_params(&params, sp.n_coef)?;
    Ok(py.detach(|| ll_grad_free(&sp, &to_free(&params), &d)))
}

/// P(alive at T) and expected purchases over the future pieces (`f_offsets`, `f_dur`,
/// `f_trans`, `f_life`: each customer's path from T on, as the calibration path).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn dyncov_predict<'py>(
    py: Python<'py>,
    params: Vec<f64>,
    frequency: &Bound<'py, PyAny>,
    recency: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    dur: &Bound<'py, PyAny>,
    trans: Vec<Bound<'py, PyAny>>,
    life: Vec<Bound<'py, PyAny>>,
    f_offsets: &Bound<'py, PyAny>,
    f_dur: &Bound<'py, PyAny>,
    f_trans: Vec<Bound<'py, PyAny>>,
    f_life: Vec<Bound<'py, PyAny>>,
) -> PyResult<(Vec<f64>, Vec<f64>)> {
    let d = dyn_data(frequency, recency, t, None, offsets, dur, &trans, &life)?;
    check_params(&params, d.kt + d.kl)?;
    let future = future_data(&d, f_offsets, f_dur, &f_trans, &f_life)?;
    Ok(py.detach(|| predict(&params, &d, &future)))
}

/// P(alive at T) and, per customer, the expected purchases up to each step end of `ends`
/// (periods after T, non-decreasing), flattened customer-major (n × len(ends)); the future
/// path as for `dyncov_predict`, covering the last end.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn dyncov_predict_steps<'py>(
    py: Python<'py>,
    params: Vec<f64>,
    frequency: &Bound<'py, PyAny>,
    recency: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    dur: &Bound<'py, PyAny>,
    trans: Vec<Bound<'py, PyAny>>,
    life: Vec<Bound<'py, PyAny>>,
    f_offsets: &Bound<'py, PyAny>,
    f_dur: &Bound<'py, PyAny>,
    f_trans: Vec<Bound<'py, PyAny>>,
    f_life: Vec<Bound<'py, PyAny>>,
    ends: Vec<f64>,
) -> PyResult<(Vec<f64>, Vec<f64>)> {
    let d = dyn_data(frequency, recency, t, None, offsets, dur, &trans, &life)?;
    check_params(&params, d.kt + d.kl)?;
    if ends.iter().any(|e| !(e.is_finite() && *e >= 0.0)) || ends.windows(2).any(|w| w[1] < w[0]) {
        return Err(core_err(
            "step ends must be finite, non-negative and non-decreasing",
        ));
    }
    let future = future_data(&d, f_offsets, f_dur, &f_trans, &f_life)?;
    Ok(py.detach(|| predict_steps(&params, &d, &future, &ends)))
}

/// Each customer's path from T on, checked against the calibration data `d`.
fn future_data(
    d: &DynData,
    f_offsets: &Bound<'_, PyAny>,
    f_dur: &Bound<'_, PyAny>,
    f_trans: &[Bound<'_, PyAny>],
    f_life: &[Bound<'_, PyAny>],
) -> PyResult<DynData> {
    if f_trans.len() != d.kt || f_life.len() != d.kl {
        return Err(core_err("the future path needs the same covariate columns"));
    }
    let (off, fdur) = pieces(f_offsets, f_dur, d.len())?;
    let p = fdur.len();
    Ok(DynData {
        zt: matrix(f_trans, p, "future transaction covariate")?,
        zl: matrix(f_life, p, "future lifetime covariate")?,
        kt: d.kt,
        kl: d.kl,
        off,
        dur: fdur,
        ..Default::default()
    }
    .merged())
}

/// P(X = n) over each customer's future path (arguments as for `dyncov_predict`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn dyncov_pmf<'py>(
    py: Python<'py>,
    params: Vec<f64>,
    frequency: &Bound<'py, PyAny>,
    recency: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    dur: &Bound<'py, PyAny>,
    trans: Vec<Bound<'py, PyAny>>,
    life: Vec<Bound<'py, PyAny>>,
    f_offsets: &Bound<'py, PyAny>,
    f_dur: &Bound<'py, PyAny>,
    f_trans: Vec<Bound<'py, PyAny>>,
    f_life: Vec<Bound<'py, PyAny>>,
    n: usize,
) -> PyResult<Vec<f64>> {
    let d = dyn_data(frequency, recency, t, None, offsets, dur, &trans, &life)?;
    check_params(&params, d.kt + d.kl)?;
    let future = future_data(&d, f_offsets, f_dur, &f_trans, &f_life)?;
    Ok(py.detach(|| pmf(&params, &d, &future, n)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dyncov_fit, m)?)?;
    m.add_function(wrap_pyfunction!(dyncov_log_likelihood, m)?)?;
    m.add_function(wrap_pyfunction!(dyncov_predict, m)?)?;
    m.add_function(wrap_pyfunction!(dyncov_predict_steps, m)?)?;
    m.add_function(wrap_pyfunction!(dyncov_pmf, m)?)?;
    Ok(())
}
