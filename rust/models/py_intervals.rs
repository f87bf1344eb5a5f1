//! The Python functions of `intervals.rs`: parameter draws (asymptotic normal or bootstrap)
//! and per-row quantiles of a prediction over them.

use pyo3::prelude::*;
use rayon::prelude::*;

use super::compress::compress;
use super::delta::{log_covariance, norm_quantile, SpendDelta};
use super::intervals::{normal_draws, Quantity, SpendDraws};
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

/// The checked level, fixed spend per row (non-negative) and the quantity's step times and
/// discounts of an interval call.
struct Request {
    probs: [f64; 2],
    spend: Option<Vec<f64>>,
    times: Vec<f64>,
    disc: Vec<f64>,
}

fn request(
    rows: usize,
    level: f64,
    steps: usize,
    step_length: f64,
    discount_rate: f64,
    spend: Option<&Bound<'_, PyAny>>,
) -> PyResult<Request> {
    if !(level > 0.0 && level < 1.0) {
        return Err(core_err(format!(
            "interval level must be in (0, 1), got {level}"
        )));
    }
    let sp = spend.map(|s| f64_values(s, "spend")).transpose()?;
    if let Some(s) = &sp {
        if s.len() != rows {
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
    Ok(Request {
        probs: [(1.0 - level) / 2.0, (1.0 + level) / 2.0],
        spend: sp,
        times: (1..=steps).map(|i| i as f64 * step_length).collect(),
        disc: (1..=steps)
            .map(|i| (1.0 + discount_rate).powf(-(i as f64)))
            .collect(),
    })
}

fn quantity<'a>(what: &str, horizon: &'a f64, n: u64, r: &'a Request) -> PyResult<Quantity<'a>> {
    Ok(match what {
        "p_alive" => Quantity::PAlive,
        "expected_purchases" => Quantity::Discounted {
            times: std::slice::from_ref(horizon),
            disc: &[1.0],
        },
        "conditional_p_purchases" => Quantity::Conditional {
            n,
            horizon: *horizon,
        },
        "clv" => Quantity::Discounted {
            times: &r.times,
            disc: &r.disc,
        },
        _ => return Err(core_err(format!("unknown prediction '{what}'"))),
    })
}

/// The monetary value column of a Gamma-Gamma spend interval (non-negative, one per row).
fn monetary_column(m: Option<&Bound<'_, PyAny>>, rows: usize) -> PyResult<Option<Vec<f64>>> {
    let Some(m) = m else { return Ok(None) };
    let v = f64_values(m, "monetary_value")?;
    if v.len() != rows {
        return Err(core_err("monetary_value column has a different length"));
    }
    if let Some(i) = v.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
        return Err(core_err(format!(
            "monetary_value: row {}: expected a non-negative number, got {}",
            i + 1,
            v[i]
        )));
    }
    Ok(Some(v))
}

fn scale(lo: &mut [f64], hi: &mut [f64], s: &Option<Vec<f64>>) {
    if let Some(s) = s {
        lo.par_iter_mut().zip(s).for_each(|(a, b)| *a *= b);
        hi.par_iter_mut().zip(s).for_each(|(a, b)| *a *= b);
    }
}

fn three(v: &[f64], what: &str) -> PyResult<[f64; 3]> {
    <[f64; 3]>::try_from(v)
        .map_err(|_| core_err(format!("{what}: expected 3 Gamma-Gamma parameters")))
}

/// Per-row (lower, upper) bounds of the central `level` interval of a prediction over the
/// parameter draws: `what` in {p_alive, expected_purchases (over `horizon`),
/// conditional_p_purchases (of `n` over `horizon`), clv (`steps` of `step_length`,
/// discounted at `discount_rate` per step, times the row's `spend`, or with `monetary` and
/// `spend_draws` times Gamma-Gamma's expected spend at draw k paired with purchase draw k)}.
#[pyfunction]
#[pyo3(signature = (
    model, what, draws, frequency, recency, t, level,
    horizon=0.0, n=0, steps=0, step_length=0.0, discount_rate=0.0, spend=None,
    monetary=None, spend_draws=None
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
    monetary: Option<&Bound<'_, PyAny>>,
    spend_draws: Option<Vec<Vec<f64>>>,
) -> PyResult<(super::py::F64Column, super::py::F64Column)> {
    let m = model_for(model)?;
    let c = load(m, frequency, recency, t)?;
    let r = request(c.0.len(), level, steps, step_length, discount_rate, spend)?;
    let q = quantity(what, &horizon, n, &r)?;
    let mv = monetary_column(monetary, c.0.len())?;
    let gg: Option<Vec<[f64; 3]>> = spend_draws
        .map(|d| d.iter().map(|v| three(v, "spend_draws")).collect())
        .transpose()?;
    let sd = match (&mv, &gg, what) {
        (Some(mv), Some(gg), "clv") => Some(SpendDraws {
            monetary: mv,
            draws: gg,
        }),
        (None, None, _) => None,
        _ => {
            return Err(core_err(
                "monetary and spend_draws go together, with what='clv'",
            ))
        }
    };
    let (mut lo, mut hi) = py.detach(|| m.interval(q, &draws, cols(&c), r.probs, sd))?;
    scale(&mut lo, &mut hi, &r.spend);
    Ok((super::py::F64Column::new(lo), super::py::F64Column::new(hi)))
}

/// Per-row (lower, upper) bounds of the central `level` interval of a prediction by the
/// delta method on the log-parameters (`delta.rs`), from the estimates and their
/// natural-scale covariance as `fit` returns them; `what` and the rest as `interval`, with
/// `monetary`, `spend_params` and `spend_covariance` for Gamma-Gamma's uncertainty in a CLV.
#[pyfunction]
#[pyo3(signature = (
    model, what, params, covariance, frequency, recency, t, level,
    horizon=0.0, n=0, steps=0, step_length=0.0, discount_rate=0.0, spend=None,
    monetary=None, spend_params=None, spend_covariance=None
))]
#[allow(clippy::too_many_arguments)]
fn delta_interval(
    py: Python<'_>,
    model: &str,
    what: &str,
    params: Vec<f64>,
    covariance: Vec<Vec<f64>>,
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
    monetary: Option<&Bound<'_, PyAny>>,
    spend_params: Option<Vec<f64>>,
    spend_covariance: Option<Vec<Vec<f64>>>,
) -> PyResult<(super::py::F64Column, super::py::F64Column)> {
    let m = model_for(model)?;
    let c = load(m, frequency, recency, t)?;
    let r = request(c.0.len(), level, steps, step_length, discount_rate, spend)?;
    let q = quantity(what, &horizon, n, &r)?;
    let cov_log = log_covariance(&params, &covariance).map_err(core_err)?;
    let mv = monetary_column(monetary, c.0.len())?;
    let sd = match (&mv, spend_params, spend_covariance, what) {
        (Some(mv), Some(sp), Some(sc), "clv") => {
            let theta = three(&sp, "spend_params")?;
            let cl = log_covariance(&theta, &sc).map_err(core_err)?;
            Some(SpendDelta {
                monetary: mv,
                theta,
                cov_log: [
                    three(&cl[0], "spend_covariance")?,
                    three(&cl[1], "spend_covariance")?,
                    three(&cl[2], "spend_covariance")?,
                ],
            })
        }
        (None, None, None, _) => None,
        _ => {
            return Err(core_err(
                "monetary, spend_params and spend_covariance go together, with what='clv'",
            ))
        }
    };
    let z = norm_quantile(r.probs[1]);
    let (mut lo, mut hi) = py.detach(|| m.delta_interval(q, &params, &cov_log, z, cols(&c), sd))?;
    scale(&mut lo, &mut hi, &r.spend);
    Ok((super::py::F64Column::new(lo), super::py::F64Column::new(hi)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(param_draws, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrap_params, m)?)?;
    m.add_function(wrap_pyfunction!(interval, m)?)?;
    m.add_function(wrap_pyfunction!(delta_interval, m)?)?;
    Ok(())
}
