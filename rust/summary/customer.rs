//! One customer's summary: the period arithmetic ([`Config`]), the summary record
//! ([`Customer`], 64 bytes) and the per-customer scan ([`finish`]) that both kernel paths end
//! in, so they agree bit for bit (same rows, same summation order).

use super::log::TimeAccess;

/// Period arithmetic, all in the time column's ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Length of a purchase period, in ticks (> 0).
    pub period: i64,
    /// Periods start at `offset + k * period` (e.g. Mondays for weeks).
    pub offset: i64,
    /// Last period included (the observation end's period).
    pub end_period: i64,
    /// Last calibration period; equal to `end_period` when there is no holdout.
    pub cal_period: i64,
}

impl Config {
    /// A window that includes every row (no observation end, no holdout): the kernel can run
    /// before the latest time is known, so the default end costs no pass over the times (the
    /// caller takes it from the customers' latest ticks, which are then every row's).
    pub fn open(period: i64, offset: i64) -> Self {
        Config {
            period,
            offset,
            end_period: i64::MAX,
            cal_period: i64::MAX,
        }
    }

    #[inline]
    pub fn period_of(&self, t: i64) -> i64 {
        // i64 fast path (128-bit division is a slow library call); i128 only on overflow
        match t.checked_sub(self.offset) {
            Some(d) if self.period == 1 => d,
            Some(d) => d.div_euclid(self.period),
            None => (t as i128 - self.offset as i128).div_euclid(self.period as i128) as i64,
        }
    }
}

/// One customer's summary, in ticks, periods and row indices (the caller converts to units; it
/// may gather the key and original timestamps from the input rows, or use the ticks directly
/// when they are the column's own values).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Customer {
    /// Row of the earliest (calibration) purchase; also identifies the customer's key.
    pub first_row: u32,
    /// Row of the latest (calibration) purchase.
    pub last_row: u32,
    /// Earliest calibration tick (its period is the first period). Ticks rather than periods
    /// keep the struct at 64 bytes while sparing the caller a gather of the time column.
    pub first_time: i64,
    /// Latest calibration tick.
    pub last_time: i64,
    /// Distinct purchase periods in the calibration window (frequency + 1).
    pub periods: u32,
    /// Rows (transactions) in the calibration window.
    pub n_tx: u32,
    pub revenue: f64,
    /// Sum of amounts outside the first period (the repeat periods' totals).
    pub repeat_revenue: f64,
    pub holdout_periods: u32,
    pub holdout_revenue: f64,
}

impl Customer {
    /// The first (calibration) purchase period.
    #[inline]
    pub fn first_period(&self, cfg: &Config) -> i64 {
        cfg.period_of(self.first_time)
    }
    /// The last (calibration) purchase period.
    #[inline]
    pub fn last_period(&self, cfg: &Config) -> i64 {
        cfg.period_of(self.last_time)
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) period: i64,
    pub(crate) time: i64,
    pub(crate) amount: f64,
    pub(crate) row: u32,
}

/// Summarise one customer's rows (any order). `None` when no row is in the calibration window.
pub(crate) fn finish(entries: &mut [Entry], cfg: &Config) -> Option<Customer> {
    if !entries.windows(2).all(|w| w[0].period <= w[1].period) {
        // tiny slices (a customer's rows): insertion sort inside sort_unstable, cheap key
        entries.sort_unstable_by_key(|e| e.period);
    }
    let mut acc = Acc::new();
    for e in entries.iter() {
        if !acc.add(e, cfg) {
            break; // sorted: everything after is past the observation end
        }
    }
    acc.done()
}

/// One customer's summary built entry by entry in period order: the body of [`finish`], also
/// fed directly by the sorted path while a customer's rows come in period order (a log sorted
/// by customer and time), so those rows are never collected. The same entries in the same
/// order give the same bits either way.
pub(crate) struct Acc {
    c: Customer,
    min_t: i64,
    max_t: i64,
    first_period: i64,
    prev: i64,
    prev_h: i64,
}

impl Acc {
    #[inline]
    pub(crate) fn new() -> Self {
        Acc {
            c: Customer::default(),
            min_t: i64::MAX,
            max_t: i64::MIN,
            first_period: i64::MIN,
            prev: i64::MIN,
            prev_h: i64::MIN,
        }
    }

    /// Adds an entry whose period is at least the previous entry's; `false` (and nothing
    /// added) when it is past the observation end, as every later entry then is.
    #[inline]
    pub(crate) fn add(&mut self, e: &Entry, cfg: &Config) -> bool {
        if e.period > cfg.end_period {
            return false;
        }
        let c = &mut self.c;
        if e.period <= cfg.cal_period {
            if c.n_tx == 0 {
                self.first_period = e.period;
            }
            c.n_tx += 1;
            c.revenue += e.amount;
            if e.period != self.prev {
                c.periods += 1;
                self.prev = e.period;
            }
            if e.period != self.first_period {
                c.repeat_revenue += e.amount;
            }
            if e.time < self.min_t || (e.time == self.min_t && e.row < c.first_row) {
                self.min_t = e.time;
                c.first_row = e.row;
            }
            if e.time > self.max_t || (e.time == self.max_t && e.row < c.last_row) {
                self.max_t = e.time;
                c.last_row = e.row;
            }
        } else {
            if e.period != self.prev_h {
                c.holdout_periods += 1;
                self.prev_h = e.period;
            }
            c.holdout_revenue += e.amount;
        }
        true
    }

    /// The customer, or `None` when no entry was in the calibration window.
    #[inline]
    pub(crate) fn done(self) -> Option<Customer> {
        let mut c = self.c;
        c.first_time = self.min_t;
        c.last_time = self.max_t;
        (c.n_tx > 0).then_some(c)
    }
}

#[inline]
pub(crate) fn entry<T: TimeAccess>(
    times: &T,
    amounts: Option<&[f64]>,
    cfg: &Config,
    i: usize,
    row: usize,
) -> Entry {
    let time = times.at(i);
    Entry {
        period: cfg.period_of(time),
        time,
        amount: amounts.map_or(0.0, |a| a[i]),
        row: row as u32,
    }
}
