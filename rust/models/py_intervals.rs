//! The Python functions of `intervals.rs`: parameter draws (asymptotic normal or bootstrap)
//! and per-row quantiles of a prediction over them.

use pyo3::prelude::*;
use rayon::prelude::*;

use super::compress::compress;
use super::intervals::{normal_draws, Quantity};
use super::model_for;
use super::py::{cols, load};
use crate::arrow_io::f64_values;
use crate::error::core_err;

/// `draws` parameter vectors exp(N(ln θ, Σ_log)) from estimates θ and their natural-scale
/// covariance (as `fit` returns it; Σ_log[i][j] = cov[i][j] / (θ_i θ_j)).
#[pyfunction]
fn param_draws(
    params: Vec<f64>,
    covariance: Vec<Vec<f64>>,
    draws: usize,
    seed: u64,
) -> PyResult<Vec<Vec<f64>>> {
    normal_draws(&params, &covariance, draws, seed).map_err(core_err)
}

/// Parameters refitted on `draws` resamples (with replacement) of the customers, each
/// started from `start`; None for a refit that did not converge.
#[pyfunction]
#[pyo3(signature = (model, frequency, second, t, weights, start, draws, seed, max_iter=500))]
#[allow(clippy::too_many_arguments)]
fn bootstrap_params(
    py: Python<'_>,
    model: &str,
    frequency: &Bound<'_, PyAny>,
    second: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    start: Vec<f64>,
    draws: usize,
    seed: u64,
    max_iter: usize,
) -> PyResult<Vec<Option<Vec<f64>>>> {
    let m = model_for(model)?;
    let c = load(m, frequency, second, t)?;
    let w = weights.map(|w| f64_values(w, "weights")).transpose()?;
    py.detach(|| {
        let d = compress(&c.0, &c.1, &c.2, w.as_deref());
        if d.is_empty() {
            return Err(core_err("no rows with positive weight to fit"));
        }
        m.bootstrap(&d, &start, draws, seed, max_iter)
    })
}

/// Per-row (lower, upper) bounds of the central `level` interval of a prediction over the
/// parameter draws: `what` in {p_alive, expected_purchases (over `horizon`),
/// conditional_p_purchases (of `n` over `horizon`), clv (`steps` of `step_length`,
/// discounted at `discount_rate` per step, times the row's `spend`)}.
#[pyfunction]
#[pyo3(signature = (
    model, what, draws, frequency, recency, t, level,
    horizon=0.0, n=0, steps=0, step_length=0.0, discount_rate=0.0, spend=None
))]
#[allow(clippy::too_many_arguments)]
fn interval(
    py: Python<'_>,
    model: &str,
    what: &str,
    draws: Vec<Vec<f64>>,
    frequency: &Bound<'_, PyAny>,
    recency: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
    level: f64,
    horizon: f64,
    n: u64,
    steps: usize,
    step_length: f64,
    discount_rate: f64,
    spend: Option<&Bound<'_, PyAny>>,
) -> PyResult<(super::py::F64Column, super::py::F64Column)> {
    let m = model_for(model)?;
    if !(level > 0.0 && level < 1.0) {
        return Err(core_err(format!(
            "interval level must be in (0, 1), got {level}"
        )));
    }
    let c = load(m, frequency, recency, t)?;
    let sp = spend.map(|s| f64_values(s, "spend")).transpose()?;
    if let Some(s) = &sp {
        if s.len() != c.0.len() {
            return Err(core_err("spend column has a different length"));
        }
        // Bounds scale with a non-negative factor only (a negative one swaps them).
        if let Some(i) = s.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(core_err(format!(
                "spend: row {}: expected a non-negative number, got {}",
                i + 1,
                s[i]
            )));
        }
    }
    let times: Vec<f64> = (1..=steps).map(|i| i as f64 * step_length).collect();
    let disc: Vec<f64> = (1..=steps)
        .map(|i| (1.0 + discount_rate).powf(-(i as f64)))
        .collect();
    let q = match what {
        "p_alive" => Quantity::PAlive,
        "expected_purchases" => Quantity::Discounted {
            times: std::slice::from_ref(&horizon),
            disc: &[1.0],
        },
        "conditional_p_purchases" => Quantity::Conditional { n, horizon },
        "clv" => Quantity::Discounted {
            times: &times,
            disc: &disc,
        },
        _ => return Err(core_err(format!("unknown prediction '{what}'"))),
    };
    let probs = [(1.0 - level) / 2.0, (1.0 + level) / 2.0];
    let (mut lo, mut hi) = py.detach(|| m.interval(q, &draws, cols(&c), probs))?;
    if let Some(s) = &sp {
        lo.par_iter_mut().zip(s).for_each(|(a, b)| *a *= b);
        hi.par_iter_mut().zip(s).for_each(|(a, b)| *a *= b);
    }
    Ok((super::py::F64Column::new(lo), super::py::F64Column::new(hi)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(param_draws, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_params, m)?)?;
    m.add_function(wrap_pyfunction!(interval, m)?)?;
    Ok(())
}
