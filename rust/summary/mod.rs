//! Customer summaries (frequency / recency / T / monetary value) from a transaction log.
//!
//! Python (`truenorth.clv.summarize`) resolves columns, casts times to their physical integer
//! and states the period arithmetic in the time column's ticks; this module checks the arrays
//! (chunked columns are read in place, not concatenated), releases the GIL and runs the fused
//! kernel in [`kernel`]. Error messages name 1-based data rows (row 1 is the first row).

mod columns;
pub mod customer;
pub mod dispatch;
mod fill;
pub mod kernel;
pub mod keys;
pub mod log;
mod partitioned;
pub mod pieces;
pub mod sorted;
#[cfg(test)]
mod testutil;

use arrow_array::{Array, ArrayRef, Float64Array};
use arrow_schema::DataType;
use pyo3::prelude::*;

use crate::arrow_io::{import_chunks, ArrowStream};
use crate::error::core_err;
use crate::with_key_chunks;
use columns::{assemble, Shape};
use kernel::{Config, Customers, Log};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrowStream>()?;
    m.add_function(wrap_pyfunction!(customer_summary, m)?)?;
    Ok(())
}

/// A time column's chunks as primitive values (offsets applied), 32- or 64-bit integer-like.
enum Times<'a> {
    I32(Vec<&'a [i32]>),
    I64(Vec<&'a [i64]>),
}

fn times_of<'a>(data: &'a [arrow_data::ArrayData], what: &str) -> PyResult<Times<'a>> {
    let err = |t: &DataType| {
        core_err(format!(
            "column '{what}': expected a date, datetime or integer time, got {t}"
        ))
    };
    let first = data
        .first()
        .map(|d| d.data_type())
        .unwrap_or(&DataType::Int64);
    let wide = match first {
        DataType::Int32 | DataType::Date32 => false,
        DataType::Int64 | DataType::Date64 | DataType::Timestamp(_, _) => true,
        t => return Err(err(t)),
    };
    if let Some(d) = data.iter().find(|d| d.data_type() != first) {
        return Err(err(d.data_type()));
    }
    Ok(if wide {
        Times::I64(data.iter().map(|d| d.buffer::<i64>(0)).collect())
    } else {
        Times::I32(data.iter().map(|d| d.buffer::<i32>(0)).collect())
    })
}

/// Reject any null in a chunked column, naming the first null's 1-based data row.
fn reject_nulls(chunks: &[ArrayRef], what: &str) -> PyResult<()> {
    let mut base = 0;
    for arr in chunks {
        if arr.null_count() > 0 {
            let i = (0..arr.len()).find(|&i| arr.is_null(i)).unwrap_or(0);
            return Err(core_err(format!(
                "column '{what}': null at row {}; nulls are not allowed here",
                base + i + 1
            )));
        }
        base += arr.len();
    }
    Ok(())
}

/// The kernel's customers and, when the key type offers one, their key column.
fn run<K: keys::KeyAccess, T: kernel::TimeAccess>(
    log: &Log<'_, K, T>,
    cfg: &Config,
    sort: bool,
) -> (Customers, Option<ArrayRef>) {
    let summary = kernel::summarize_keyed(log, cfg, sort);
    let key = K::key_array(summary.keys);
    (summary.customers, key)
}

/// The first non-finite amount and its 0-based global row (a sequential scan: it runs only
/// when the kernel's pass has seen one, or to order two errors as before).
fn first_non_finite(vals: &[&[f64]]) -> Option<(usize, f64)> {
    let mut base = 0;
    for v in vals {
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Some((base + i, v[i]));
        }
        base += v.len();
    }
    None
}

/// Customer summary of a transaction log (see `truenorth.clv.summarize` for the semantics).
///
/// `keys`: Int64 or string (utf8 / large_utf8 / string_view) column; `times`: integer ticks
/// (Date32/Int32 days or Int64 datetime ticks); `amounts`: Float64 or None. The columns may come
/// in several chunks (no copy is made) if their chunk lengths agree. Period `k` spans
/// `[offset + k*period, offset + (k+1)*period)` ticks; `unit` is the measuring unit in ticks
/// (fractional when finer than a tick, e.g. hours on a Date column).
/// `observation_end`/`calibration_end` are tick values (their periods are the last included);
/// the observation end defaults to the latest time. Returns an Arrow stream of columns
/// `[key], first_row, last_row, first_time, last_time, frequency, recency, T, [monetary_value], n_transactions, [revenue]`
/// (+ holdout columns), one row per customer, sorted by key; rows are 0-based over all chunks.
/// `key` (Int64) is present for integer keys; `first_time`/`last_time` are the earliest/latest
/// calibration ticks as given (Int32 for 32-bit times, else Int64).
/// Error messages name 1-based data rows.
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
    let kch = import_chunks(keys, &kname)?;
    let tch = import_chunks(times, &tname)?;
    let ach = amounts.map(|a| import_chunks(a, &aname)).transpose()?;
    let total = |chunks: &[ArrayRef]| chunks.iter().map(|a| a.len()).sum::<usize>();
    let n = total(&kch);
    if n == 0 {
        return Err(core_err("the transaction log is empty"));
    }
    if n >= u32::MAX as usize {
        return Err(core_err(format!(
            "{n} rows: the summary kernel handles fewer than 2^32 rows per call"
        )));
    }
    if let Some(bad) = kch.iter().find(|a| !keys::supported_key_type(a)) {
        return Err(core_err(format!(
            "column '{kname}': expected integer or string customer ids, got {}",
            bad.data_type()
        )));
    }
    if kch.iter().any(|a| a.data_type() != kch[0].data_type()) {
        return Err(core_err(format!(
            "column '{kname}': chunks of different types"
        )));
    }
    let mut others: Vec<(&Vec<ArrayRef>, &String)> = vec![(&tch, &tname)];
    if let Some(a) = &ach {
        others.push((a, &aname));
    }
    for (chunks, what) in &others {
        let m = total(chunks);
        if m != n {
            return Err(core_err(format!(
                "column '{what}': {m} rows, but '{kname}' has {n}"
            )));
        }
        if chunks.len() != kch.len() || chunks.iter().zip(&kch).any(|(a, k)| a.len() != k.len()) {
            return Err(core_err(format!(
                "column '{what}': its chunks do not line up with those of '{kname}' (rechunk first)"
            )));
        }
    }
    reject_nulls(&kch, &kname)?;
    reject_nulls(&tch, &tname)?;
    let amount_values: Option<Vec<&[f64]>> = match &ach {
        None => None,
        Some(chunks) => {
            reject_nulls(chunks, &aname)?;
            let mut vals = Vec::with_capacity(chunks.len());
            for a in chunks {
                let f = a.as_any().downcast_ref::<Float64Array>().ok_or_else(|| {
                    core_err(format!(
                        "column '{aname}': expected Float64 amounts, got {}",
                        a.data_type()
                    ))
                })?;
                vals.push(f.values().as_ref());
            }
            Some(vals)
        }
    };
    let non_finite_err = |(row, v): (usize, f64)| {
        core_err(format!(
            "column '{aname}': non-finite amount {v} at row {}; amounts must be finite numbers",
            row + 1
        ))
    };
    let tdata: Vec<arrow_data::ArrayData> = tch.iter().map(|a| a.to_data()).collect();
    let times = times_of(&tdata, &tname)?;
    let probe = Config::open(period, offset);
    // The default observation end is the latest time. With no calibration end either, every
    // row is in the window: the kernel runs with an open one and the latest time comes back
    // with the customers, sparing a pass over the times (and amounts are checked for finite
    // values in the kernel's own pass). Otherwise the window is needed first.
    let open = observation_end.is_none() && calibration_end.is_none();
    let end_tick = match observation_end {
        Some(e) => Some(e),
        None if open => None,
        // per-chunk max over a plain slice: a flat_map over chunks would not vectorise
        None => py.detach(|| match &times {
            Times::I32(c) => c
                .iter()
                .filter_map(|v| v.iter().max())
                .max()
                .map(|&x| x as i64),
            Times::I64(c) => c.iter().filter_map(|v| v.iter().max()).max().copied(),
        }),
    };
    let end_period = end_tick.map(|e| probe.period_of(e));
    let cal_period = match (calibration_end, end_period) {
        (Some(c), Some(end)) => {
            let cp = probe.period_of(c);
            if cp >= end {
                // a non-finite amount was reported before this, when it was checked first
                if let Some(bad) = amount_values.as_deref().and_then(first_non_finite) {
                    return Err(non_finite_err(bad));
                }
                return Err(core_err(
                    "calibration_end must fall in a period before observation_end's",
                ));
            }
            Some(cp)
        }
        _ => end_period,
    };
    let kernel_cfg = match (end_period, cal_period) {
        (Some(end_period), Some(cal_period)) => Config {
            period,
            offset,
            end_period,
            cal_period,
        },
        _ => probe,
    };
    let shape = Shape {
        narrow_times: matches!(times, Times::I32(_)),
        period,
        unit,
        with_amount: amount_values.is_some(),
        with_holdout: calibration_end.is_some(),
    };
    // Kernel and output columns in one hand-over to the thread pool: every parallel call made
    // from outside the pool waits for a worker to wake, and on a busy machine a dozen such
    // waits (kernel, key column, each output column) cost more than a 1M-row summary.
    let done: Option<(Vec<(&'static str, ArrayRef)>, bool)> = py.detach(|| {
        rayon::scope(|_| {
            let ran: Option<(Customers, Option<ArrayRef>)> =
                with_key_chunks!(
                    &kch,
                    k,
                    match &times {
                        Times::I32(t) => Log::new(k, t.clone(), amount_values.clone())
                            .map(|log| run(&log, &kernel_cfg, sort)),
                        Times::I64(t) => Log::new(k, t.clone(), amount_values.clone())
                            .map(|log| run(&log, &kernel_cfg, sort)),
                    },
                    None
                );
            ran.map(|(summary, key)| {
                let cfg = if open {
                    // every row was in the window: the latest customer tick is the latest time
                    let end = probe.period_of(summary.max_time);
                    Config {
                        period,
                        offset,
                        end_period: end,
                        cal_period: end,
                    }
                } else {
                    kernel_cfg
                };
                let cols = assemble(&summary, key, &cfg, &shape);
                (cols, summary.amounts_finite)
            })
        })
    });
    let (cols, amounts_finite) = done.ok_or_else(|| {
        core_err(format!(
            "columns '{kname}', '{tname}', '{aname}': chunk layouts do not line up"
        ))
    })?;
    if !amounts_finite {
        // the kernel saw a non-finite amount: find the first one (sequentially, only now)
        if let Some(bad) = amount_values.as_deref().and_then(first_non_finite) {
            return Err(non_finite_err(bad));
        }
    }
    ArrowStream::from_columns(cols)
}
