//! The summary's output columns, built from the kernel's customer pieces on all threads.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, UInt32Array};

use super::customer::{Config, Customer};
use super::pieces::Customers;

/// How the kernel's ticks and periods become the output's columns.
pub struct Shape {
    /// Times are 32-bit (dates): first/last ticks go back as Int32.
    pub narrow_times: bool,
    /// Period length in ticks.
    pub period: i64,
    /// The measuring unit in ticks.
    pub unit: f64,
    pub with_amount: bool,
    pub with_holdout: bool,
}

/// The summary columns, in the order Python exposes them (`key` first when given).
pub fn assemble(
    cust: &Customers,
    key: Option<ArrayRef>,
    cfg: &Config,
    shape: &Shape,
) -> Vec<(&'static str, ArrayRef)> {
    let (period, unit) = (shape.period, shape.unit);
    // (periods * period ticks) / unit ticks: exact integer span, one rounding (as lifetimes).
    // i64 when the product fits (i128 -> f64 is a slow library call; both round the same
    // integer to nearest, so the result is identical)
    let to_units = |d: i64| match d.checked_mul(period) {
        Some(x) => x as f64 / unit,
        None => (d as i128 * period as i128) as f64 / unit,
    };
    let f64col = |f: &(dyn Fn(&Customer) -> f64 + Sync)| -> ArrayRef {
        Arc::new(Float64Array::from(cust.column(f)))
    };
    let i64col = |f: &(dyn Fn(&Customer) -> i64 + Sync)| -> ArrayRef {
        Arc::new(Int64Array::from(cust.column(f)))
    };
    // first/last ticks at the time column's own width (Int32 for dates: Python reinterprets)
    let tickcol = |f: &(dyn Fn(&Customer) -> i64 + Sync)| -> ArrayRef {
        if shape.narrow_times {
            // narrow times are i32 values widened by the kernel: the cast back is exact
            Arc::new(Int32Array::from(cust.column(|c| f(c) as i32)))
        } else {
            i64col(f)
        }
    };
    let mut cols: Vec<(&'static str, ArrayRef)> = key.map(|k| ("key", k)).into_iter().collect();
    cols.push((
        "first_row",
        Arc::new(UInt32Array::from(cust.column(|c| c.first_row))),
    ));
    cols.push((
        "last_row",
        Arc::new(UInt32Array::from(cust.column(|c| c.last_row))),
    ));
    cols.push(("first_time", tickcol(&|c| c.first_time)));
    cols.push(("last_time", tickcol(&|c| c.last_time)));
    cols.push(("frequency", i64col(&|c| c.periods as i64 - 1)));
    cols.push((
        "recency",
        f64col(&|c| to_units(c.last_period(cfg) - c.first_period(cfg))),
    ));
    cols.push((
        "T",
        f64col(&|c| to_units(cfg.cal_period - c.first_period(cfg))),
    ));
    if shape.with_amount {
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
    if shape.with_amount {
        cols.push(("revenue", f64col(&|c| c.revenue)));
    }
    if shape.with_holdout {
        cols.push(("frequency_holdout", i64col(&|c| c.holdout_periods as i64)));
        if shape.with_amount {
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
