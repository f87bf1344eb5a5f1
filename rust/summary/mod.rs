//! Customer summaries (frequency / recency / T / monetary value) from a transaction log.
//!
//! Python (`truenorth.clv.summarize`) resolves columns, casts times to their physical integer
//! and states the period arithmetic in the time column's ticks; this module checks the arrays,
//! releases the GIL and runs the fused kernel in [`kernel`].

pub mod kernel;
pub mod keys;

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, UInt32Array};
use arrow_schema::DataType;
use pyo3::prelude::*;

use crate::arrow_io::{reject_nulls, single_chunk, ArrowStream};
use crate::error::core_err;
use crate::with_keys;
use kernel::{Config, Customer};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrowStream>()?;
    m.add_function(wrap_pyfunction!(customer_summary, m)?)?;
    Ok(())
}

/// A primitive column's values (offset applied), for 32- or 64-bit integer-like layouts.
enum Times<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
}

fn times_of<'a>(data: &'a arrow_data::ArrayData, what: &str) -> PyResult<Times<'a>> {
    match data.data_type() {
        DataType::Int32 | DataType::Date32 => Ok(Times::I32(data.buffer::<i32>(0))),
        DataType::Int64 | DataType::Date64 | DataType::Timestamp(_, _) => {
            Ok(Times::I64(data.buffer::<i64>(0)))
        }
        t => Err(core_err(format!(
            "column '{what}': expected a date, datetime or integer time, got {t}"
        ))),
    }
}

/// The summary columns, in the order Python exposes them.
fn assemble(
    cust: &[Customer],
    cfg: &Config,
    period: i64,
    unit: f64,
    with_amount: bool,
    with_holdout: bool,
) -> Vec<(&'static str, ArrayRef)> {
    // (periods * period ticks) / unit ticks: exact integer span, one rounding (as lifetimes).
    let to_units = |d: i64| (d as i128 * period as i128) as f64 / unit;
    let f64col = |f: &dyn Fn(&Customer) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(cust.iter().map(f).collect::<Vec<_>>()))
    };
    let i64col = |f: &dyn Fn(&Customer) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from(cust.iter().map(f).collect::<Vec<_>>()))
    };
    let mut cols: Vec<(&'static str, ArrayRef)> = vec![
        (
            "first_row",
            Arc::new(UInt32Array::from(
                cust.iter().map(|c| c.first_row).collect::<Vec<_>>(),
            )),
        ),
        (
            "last_row",
            Arc::new(UInt32Array::from(
                cust.iter().map(|c| c.last_row).collect::<Vec<_>>(),
            )),
        ),
        ("frequency", i64col(&|c| c.periods as i64 - 1)),
        (
            "recency",
            f64col(&|c| to_units(c.last_period - c.first_period)),
        ),
        ("T", f64col(&|c| to_units(cfg.cal_period - c.first_period))),
    ];
    if with_amount {
        cols.push((
            "monetary_value",
            f64col(&|c| {
                if c.periods > 1 {
                    c.repeat_revenue / (c.periods - 1) as f64
                } else {
                    0.0
                }
            }),
        ));
    }
    cols.push(("n_transactions", i64col(&|c| c.n_tx as i64)));
    if with_amount {
        cols.push(("revenue", f64col(&|c| c.revenue)));
    }
    if with_holdout {
        cols.push(("frequency_holdout", i64col(&|c| c.holdout_periods as i64)));
        if with_amount {
            cols.push((
                "monetary_value_holdout",
                f64col(&|c| {
                    if c.holdout_periods > 0 {
                        c.holdout_revenue / c.holdout_periods as f64
                    } else {
                        0.0
                    }
                }),
            ));
        }
        let d = to_units(cfg.end_period - cfg.cal_period);
        cols.push(("duration_holdout", f64col(&|_| d)));
    }
    cols
}

/// Customer summary of a transaction log (see `truenorth.clv.summarize` for the semantics).
///
/// `keys`: Int64 or string (utf8 / large_utf8 / string_view) column; `times`: integer ticks
/// (Date32/Int32 days or Int64 datetime ticks); `amounts`: Float64 or None. Period `k` spans
/// `[offset + k*period, offset + (k+1)*period)` ticks; `unit` is the measuring unit in ticks
/// (fractional when finer than a tick, e.g. hours on a Date column).
/// `observation_end`/`calibration_end` are tick values (their periods are the last included);
/// the observation end defaults to the latest time. Returns an Arrow stream of columns
/// `first_row, last_row, frequency, recency, T, [monetary_value], n_transactions, [revenue]`
/// (+ holdout columns), one row per customer, sorted by key.
#[pyfunction]
#[pyo3(signature = (keys, times, amounts=None, *, period, offset, unit, observation_end=None,
    calibration_end=None, names=("customer".to_string(), "time".to_string(), "amount".to_string()), sort=true))]
#[allow(clippy::too_many_arguments)]
pub fn customer_summary(
    py: Python<'_>,
    keys: &Bound<'_, PyAny>,
    times: &Bound<'_, PyAny>,
    amounts: Option<&Bound<'_, PyAny>>,
    period: i64,
    offset: i64,
    unit: f64,
    observation_end: Option<i64>,
    calibration_end: Option<i64>,
    names: (String, String, String),
    sort: bool,
) -> PyResult<ArrowStream> {
    let (kname, tname, aname) = names;
    if period <= 0 || !(unit.is_finite() && unit > 0.0) {
        return Err(core_err(format!(
            "period and unit must be positive (got period={period}, unit={unit} ticks)"
        )));
    }
    let karr = single_chunk(keys, &kname)?;
    let tarr = single_chunk(times, &tname)?;
    let aarr = amounts.map(|a| single_chunk(a, &aname)).transpose()?;
    let n = karr.len();
    if n == 0 {
        return Err(core_err("the transaction log is empty"));
    }
    if n >= u32::MAX as usize {
        return Err(core_err(format!(
            "{n} rows: the summary kernel handles fewer than 2^32 rows per call"
        )));
    }
    if !keys::supported_key_type(&karr) {
        return Err(core_err(format!(
            "column '{kname}': expected integer or string customer ids, got {}",
            karr.data_type()
        )));
    }
    for (arr, what) in [(&tarr, &tname)] {
        if arr.len() != n {
            return Err(core_err(format!(
                "column '{what}': {} rows, but '{kname}' has {n}",
                arr.len()
            )));
        }
    }
    reject_nulls(karr.as_ref(), &kname)?;
    reject_nulls(tarr.as_ref(), &tname)?;
    let amount_values: Option<&[f64]> = match &aarr {
        None => None,
        Some(a) => {
            if a.len() != n {
                return Err(core_err(format!(
                    "column '{aname}': {} rows, but '{kname}' has {n}",
                    a.len()
                )));
            }
            reject_nulls(a.as_ref(), &aname)?;
            let f = a.as_any().downcast_ref::<Float64Array>().ok_or_else(|| {
                core_err(format!(
                    "column '{aname}': expected Float64 amounts, got {}",
                    a.data_type()
                ))
            })?;
            Some(f.values().as_ref())
        }
    };
    if let Some(vals) = amount_values {
        // sequential: a streaming scan is memory-bound, and on a busy machine a parallel split
        // mostly waits for the other worker to be scheduled
        if let Some(row) = py.detach(|| vals.iter().position(|v| !v.is_finite())) {
            return Err(core_err(format!(
                "column '{aname}': non-finite amount {} at row {row}; amounts must be finite numbers",
                vals[row]
            )));
        }
    }
    let tdata = tarr.to_data();
    let times = times_of(&tdata, &tname)?;
    let probe = Config {
        period,
        offset,
        end_period: 0,
        cal_period: 0,
    };
    let end_tick = match observation_end {
        Some(e) => e,
        None => py.detach(|| match &times {
            Times::I32(v) => v.iter().map(|&x| x as i64).max().unwrap_or(0),
            Times::I64(v) => v.iter().copied().max().unwrap_or(0),
        }),
    };
    let end_period = probe.period_of(end_tick);
    let cal_period = match calibration_end {
        Some(c) => {
            let cp = probe.period_of(c);
            if cp >= end_period {
                return Err(core_err(
                    "calibration_end must fall in a period before observation_end's",
                ));
            }
            cp
        }
        None => end_period,
    };
    let cfg = Config {
        period,
        offset,
        end_period,
        cal_period,
    };
    let customers: Vec<Customer> = py.detach(|| {
        with_keys!(
            &karr,
            k,
            match &times {
                Times::I32(t) => kernel::summarize(&k, t, amount_values, &cfg, sort),
                Times::I64(t) => kernel::summarize(&k, t, amount_values, &cfg, sort),
            },
            Vec::new()
        )
    });
    let cols = py.detach(|| {
        assemble(
            &customers,
            &cfg,
            period,
            unit,
            amount_values.is_some(),
            calibration_end.is_some(),
        )
    });
    ArrowStream::from_columns(cols)
}
