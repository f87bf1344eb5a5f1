//! `_core.row_patterns`: the distinct (frequency, recency, T) rows of a summary and each
//! row's index into them. Why: a backtest predicts with several models for the same
//! customers, and every prediction depends on a customer's (x, t_x, T) only (the holdout
//! length is one for all); deduplicating once lets each model predict per pattern (a
//! million day-grained customers are ~300k patterns) and rank the patterns instead of the
//! customers, where each native call deduplicated the million rows again.

use pyo3::prelude::*;

use super::compress::row_patterns as patterns;
use super::py::F64Column;
use crate::arrow_io::f64_values;
use crate::error::core_err;

/// (frequency, recency, T) of the distinct rows in that order, and each row's 0-based index
/// into them (as Float64: exact below 2^53).
#[pyfunction]
fn row_patterns(
    py: Python<'_>,
    frequency: &Bound<'_, PyAny>,
    recency: &Bound<'_, PyAny>,
    t: &Bound<'_, PyAny>,
) -> PyResult<(F64Column, F64Column, F64Column, F64Column)> {
    let x = f64_values(frequency, "frequency")?;
    let tx = f64_values(recency, "recency")?;
    let tt = f64_values(t, "T")?;
    if tx.len() != x.len() || tt.len() != x.len() {
        return Err(core_err("frequency, recency and T have different lengths"));
    }
    let (uniq, idx) = py.detach(|| patterns(&x, &tx, &tt));
    let col = |f: fn(&(f64, f64, f64)) -> f64| F64Column::new(uniq.iter().map(f).collect());
    Ok((
        col(|u| u.0),
        col(|u| u.1),
        col(|u| u.2),
        F64Column::new(idx.iter().map(|&i| f64::from(i)).collect()),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(row_patterns, m)?)
}
