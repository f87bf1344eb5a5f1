//! The fused customer-summary kernel: one pass over the transaction log builds every
//! customer's summary (distinct purchase periods, first/last period, totals, holdout counts).
//!
//! Layout, for speed on unsorted input (the common case):
//! 1. hash every key (parallel chunks) and count rows per hash partition (at most 256);
//! 2. scatter `(key, amount, time, row)` into partition order (stable: rows stay ascending),
//!    24 bytes per row for integer keys and dates, so later passes never go back to the input;
//! 3. per partition, in parallel: a small open-addressing table maps keys to dense local ids
//!    (it fits in cache because a partition holds a few thousand customers), a counting sort
//!    groups the partition's rows by customer, and each customer's handful of rows is sorted by
//!    period and scanned once.
//!
//! Input sorted by customer (detected in one cheap pass) skips hashing entirely: customer runs
//! are contiguous, chunks are split at run boundaries and processed in parallel, and the output is
//! already in key order.

use std::cmp::Ordering;

use hashbrown::HashTable;
use rayon::prelude::*;

use super::keys::KeyAccess;

/// Timestamps as integers (days for dates, the datetime's own tick otherwise).
pub trait TimeAccess: Sync {
    /// The stored value (kept at its own width when rows are scattered: 4 bytes for dates).
    type Raw: Copy + Send + Sync + Into<i64>;
    fn raw(&self, i: usize) -> Self::Raw;
    #[inline]
    fn at(&self, i: usize) -> i64 {
        self.raw(i).into()
    }
}
impl TimeAccess for &[i64] {
    type Raw = i64;
    #[inline]
    fn raw(&self, i: usize) -> i64 {
        self[i]
    }
}
impl TimeAccess for &[i32] {
    type Raw = i32;
    #[inline]
    fn raw(&self, i: usize) -> i32 {
        self[i]
    }
}

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

/// One customer's summary, in periods and row indices (the caller converts to units and gathers
/// the key and timestamps from the input rows).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Customer {
    /// Row of the earliest (calibration) purchase; also identifies the customer's key.
    pub first_row: u32,
    /// Row of the latest (calibration) purchase.
    pub last_row: u32,
    pub first_period: i64,
    pub last_period: i64,
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

#[derive(Clone, Copy, Debug)]
struct Entry {
    period: i64,
    time: i64,
    amount: f64,
    row: u32,
}

/// Summarise one customer's rows (any order). `None` when no row is in the calibration window.
fn finish(entries: &mut [Entry], cfg: &Config) -> Option<Customer> {
    if !entries.windows(2).all(|w| w[0].period <= w[1].period) {
        // tiny slices (a customer's rows): insertion sort inside sort_unstable, cheap key
        entries.sort_unstable_by_key(|e| e.period);
    }
    let mut c = Customer::default();
    let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
    let mut prev = i64::MIN;
    let mut prev_h = i64::MIN;
    for e in entries.iter() {
        if e.period > cfg.end_period {
            break; // sorted: everything after is past the observation end
        }
        if e.period <= cfg.cal_period {
            if c.n_tx == 0 {
                c.first_period = e.period;
            }
            c.n_tx += 1;
            c.revenue += e.amount;
            if e.period != prev {
                c.periods += 1;
                prev = e.period;
            }
            if e.period != c.first_period {
                c.repeat_revenue += e.amount;
            }
            c.last_period = e.period;
            if e.time < min_t || (e.time == min_t && e.row < c.first_row) {
                min_t = e.time;
                c.first_row = e.row;
            }
            if e.time > max_t || (e.time == max_t && e.row < c.last_row) {
                max_t = e.time;
                c.last_row = e.row;
            }
        } else {
            if e.period != prev_h {
                c.holdout_periods += 1;
                prev_h = e.period;
            }
            c.holdout_revenue += e.amount;
        }
    }
    (c.n_tx > 0).then_some(c)
}

#[inline]
fn entry<T: TimeAccess>(times: &T, amounts: Option<&[f64]>, cfg: &Config, row: usize) -> Entry {
    let time = times.at(row);
    Entry {
        period: cfg.period_of(time),
        time,
        amount: amounts.map_or(0.0, |a| a[row]),
        row: row as u32,
    }
}

/// Whether keys are non-decreasing (then customer runs are contiguous).
pub fn is_sorted<K: KeyAccess>(keys: &K) -> bool {
    let n = keys.len();
    if n < 2 {
        return true;
    }
    (0..n - 1)
        .into_par_iter()
        .with_min_len(1 << 16)
        .all(|i| keys.key_cmp(i, i + 1) != Ordering::Greater)
}

/// Summary of a log whose keys are sorted: runs are customers, output in key order.
pub fn summarize_sorted<K: KeyAccess, T: TimeAccess>(
    keys: &K,
    times: &T,
    amounts: Option<&[f64]>,
    cfg: &Config,
) -> Vec<Customer> {
    let n = keys.len();
    let nchunks = (rayon::current_num_threads() * 4).clamp(1, n.max(1));
    let mut bounds = vec![0usize];
    for c in 1..nchunks {
        let mut b = (c * n / nchunks).max(*bounds.last().expect("non-empty"));
        while b > 0 && b < n && keys.key_eq(b - 1, b) {
            b += 1;
        }
        if b < n && b > *bounds.last().expect("non-empty") {
            bounds.push(b);
        }
    }
    bounds.push(n);
    let parts: Vec<Vec<Customer>> = bounds
        .par_windows(2)
        .map(|w| {
            let (mut i, end) = (w[0], w[1]);
            let mut out = Vec::new();
            let mut scratch = Vec::new();
            while i < end {
                let mut j = i + 1;
                while j < end && keys.key_eq(i, j) {
                    j += 1;
                }
                scratch.clear();
                scratch.extend((i..j).map(|r| entry(times, amounts, cfg, r)));
                if let Some(c) = finish(&mut scratch, cfg) {
                    out.push(c);
                }
                i = j;
            }
            out
        })
        .collect();
    parts.concat()
}

/// Number of hash-partition bits: about 32k rows per partition, at most 2^8 partitions (more
/// scatter targets measured slower at 10M rows: write streams thrash cache and TLB).
fn partition_bits(n: usize) -> u32 {
    let mut bits = 0;
    while bits < 8 && (n >> bits) > (1 << 15) {
        bits += 1;
    }
    bits
}

struct SyncPtr<T>(*mut T);
unsafe impl<T> Sync for SyncPtr<T> {}
unsafe impl<T> Send for SyncPtr<T> {}

#[derive(Clone, Copy)]
struct Scattered<V, R> {
    val: V,
    amount: f64,
    time: R,
    row: u32,
}

/// Summary of a log in any order (hash-partitioned). Output order is arbitrary; see
/// [`sort_by_key`].
///
/// Rows are scattered *with their values* into partition order, so every later read is
/// sequential or cache-resident: a partition's rows are spread over the whole input, and reading
/// the columns at those rows costs a cache and TLB miss per column per row (measured ~10x slower).
pub fn summarize_unsorted<K: KeyAccess, T: TimeAccess>(
    keys: &K,
    times: &T,
    amounts: Option<&[f64]>,
    cfg: &Config,
) -> Vec<Customer> {
    summarize_partitions(keys, times, amounts, cfg).concat()
}

/// The hash-partitioned kernel; one vector of customers per partition.
fn summarize_partitions<K: KeyAccess, T: TimeAccess>(
    keys: &K,
    times: &T,
    amounts: Option<&[f64]>,
    cfg: &Config,
) -> Vec<Vec<Customer>> {
    let n = keys.len();
    if n == 0 {
        return Vec::new();
    }
    let bits = partition_bits(n);
    let nparts = 1usize << bits;
    let part_of = |h: u32| {
        if bits == 0 {
            0
        } else {
            (h >> (32 - bits)) as usize
        }
    };
    let nchunks = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(nchunks);
    let ranges: Vec<(usize, usize)> = (0..nchunks)
        .map(|c| (c * chunk, ((c + 1) * chunk).min(n)))
        .filter(|(a, b)| a < b)
        .collect();

    // 1. per-chunk partition histograms
    let hists: Vec<Vec<usize>> = ranges
        .par_iter()
        .map(|&(a, b)| {
            let mut hist = vec![0usize; nparts];
            for i in a..b {
                hist[part_of(K::val_hash(keys.val(i)) as u32)] += 1;
            }
            hist
        })
        .collect();

    // 2. stable scatter of (key, time, amount, row); chunk c writes partition p at offs[c][p]
    let mut part_start = vec![0usize; nparts + 1];
    let mut offs = vec![vec![0usize; nparts]; hists.len()];
    let mut acc = 0;
    for p in 0..nparts {
        part_start[p] = acc;
        for (c, h) in hists.iter().enumerate() {
            offs[c][p] = acc;
            acc += h[p];
        }
    }
    part_start[nparts] = acc;
    // 24 bytes per row for integer keys and dates (32 with datetimes): the hash is recomputed
    // from the key value later rather than stored
    let mut scat: Vec<Scattered<K::Val<'_>, T::Raw>> = Vec::with_capacity(n);
    let dst = SyncPtr(scat.as_mut_ptr());
    ranges
        .par_iter()
        .zip(offs.into_par_iter())
        .for_each(|(&(a, b), mut off)| {
            let dst = &dst;
            for i in a..b {
                let val = keys.val(i);
                let p = part_of(K::val_hash(val) as u32);
                let s = Scattered {
                    val,
                    time: times.raw(i),
                    amount: amounts.map_or(0.0, |x| x[i]),
                    row: i as u32,
                };
                // SAFETY: offsets are disjoint per (chunk, partition) and cover exactly 0..n.
                unsafe { dst.0.add(off[p]).write(s) };
                off[p] += 1;
            }
        });
    // SAFETY: every slot 0..n was written exactly once above.
    unsafe { scat.set_len(n) };

    // 3. per partition: dense local ids, counting sort, per-customer scan
    let parts: Vec<Vec<Customer>> = (0..nparts)
        .into_par_iter()
        .map(|p| {
            let rows = &scat[part_start[p]..part_start[p + 1]];
            let m = rows.len();
            let mut table: HashTable<u32> = HashTable::with_capacity(m / 4 + 16);
            let mut gid_val: Vec<K::Val<'_>> = Vec::new();
            let mut gid_hash: Vec<u64> = Vec::new();
            let mut gids: Vec<u32> = Vec::with_capacity(m);
            for s in rows {
                // partition bits are 24..31; the table uses the low bits and the top 7 bits
                let h = K::val_hash(s.val);
                let g = match table.find(h, |&g| gid_val[g as usize] == s.val) {
                    Some(&g) => g,
                    None => {
                        let g = gid_val.len() as u32;
                        gid_val.push(s.val);
                        gid_hash.push(h);
                        table.insert_unique(h, g, |&g| gid_hash[g as usize]);
                        g
                    }
                };
                gids.push(g);
            }
            drop(table);
            let ng = gid_val.len();
            drop(gid_val);
            let mut start = vec![0u32; ng + 1];
            for &g in &gids {
                start[g as usize + 1] += 1;
            }
            for g in 0..ng {
                start[g + 1] += start[g];
            }
            let mut fill = start.clone();
            let mut entries: Vec<Entry> = Vec::with_capacity(m);
            let dst = entries.as_mut_ptr();
            for (s, &g) in rows.iter().zip(&gids) {
                let slot = &mut fill[g as usize];
                let time: i64 = s.time.into();
                let e = Entry {
                    period: cfg.period_of(time),
                    time,
                    amount: s.amount,
                    row: s.row,
                };
                // SAFETY: counting-sort slots are a permutation of 0..m.
                unsafe { dst.add(*slot as usize).write(e) };
                *slot += 1;
            }
            // SAFETY: all m slots written above.
            unsafe { entries.set_len(m) };
            let mut out = Vec::with_capacity(ng);
            for g in 0..ng {
                let s = &mut entries[start[g] as usize..start[g + 1] as usize];
                if let Some(c) = finish(s, cfg) {
                    out.push(c);
                }
            }
            out
        })
        .collect();
    parts
}

/// Sort customers by key. Keys are extracted once (no random reads inside the comparator for
/// integer keys).
pub fn sort_by_key<K: KeyAccess>(keys: &K, customers: &mut Vec<Customer>) {
    let perm = keys.order(&customers.iter().map(|c| c.first_row).collect::<Vec<_>>());
    *customers = perm.into_iter().map(|i| customers[i as usize]).collect();
}

/// All partitions' customers in key order, gathered straight from the partitions (one copy).
fn sorted_from_partitions<K: KeyAccess>(keys: &K, parts: Vec<Vec<Customer>>) -> Vec<Customer> {
    let index: Vec<(u32, u32)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, v)| (0..v.len() as u32).map(move |i| (p as u32, i)))
        .collect();
    let rows: Vec<u32> = parts.iter().flatten().map(|c| c.first_row).collect();
    let perm = keys.order(&rows);
    drop(rows);
    perm.into_iter()
        .map(|j| {
            let (p, i) = index[j as usize];
            parts[p as usize][i as usize]
        })
        .collect()
}

/// Summary of a transaction log: sorted fast path when keys are sorted, hash-partitioned
/// otherwise. Output sorted by key.
pub fn summarize<K: KeyAccess, T: TimeAccess>(
    keys: &K,
    times: &T,
    amounts: Option<&[f64]>,
    cfg: &Config,
    sort_output: bool,
) -> Vec<Customer> {
    if is_sorted(keys) {
        summarize_sorted(keys, times, amounts, cfg)
    } else {
        let parts = summarize_partitions(keys, times, amounts, cfg);
        if sort_output {
            sorted_from_partitions(keys, parts)
        } else {
            parts.concat()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::keys::StrKeys;
    use arrow_array::StringViewArray;

    fn day_cfg(end: i64, cal: Option<i64>) -> Config {
        Config {
            period: 1,
            offset: 0,
            end_period: end,
            cal_period: cal.unwrap_or(end),
        }
    }

    /// Customer 1: days 0 (10), 0 (5), 3 (7), 10 (1) -> periods {0,3,10}: freq 2,
    /// repeat totals 7 and 1 -> mean 4; revenue 23. Customer 2: day 5 only (4).
    /// Customer 3: only after the end (day 40) -> absent.
    fn log() -> (Vec<i64>, Vec<i64>, Vec<f64>) {
        (
            vec![2, 1, 1, 3, 1, 1],
            vec![5, 10, 0, 40, 3, 0],
            vec![4.0, 1.0, 10.0, 9.0, 7.0, 5.0],
        )
    }

    fn check_basic(out: &[Customer]) {
        assert_eq!(out.len(), 2);
        let c1 = out[0];
        assert_eq!((c1.periods, c1.n_tx), (3, 4));
        assert_eq!((c1.first_period, c1.last_period), (0, 10));
        assert_eq!(c1.revenue, 23.0);
        assert_eq!(c1.repeat_revenue, 8.0);
        assert_eq!((c1.first_row, c1.last_row), (2, 1)); // tie at day 0: lowest row
        let c2 = out[1];
        assert_eq!((c2.periods, c2.n_tx, c2.first_row), (1, 1, 0));
        assert_eq!(c2.repeat_revenue, 0.0);
    }

    #[test]
    fn unsorted_hand_computed() {
        let (k, t, a) = log();
        let out = summarize(
            &k.as_slice(),
            &t.as_slice(),
            Some(&a),
            &day_cfg(30, None),
            true,
        );
        check_basic(&out);
    }

    #[test]
    fn sorted_fast_path_agrees() {
        let (k, t, a) = log();
        let mut idx: Vec<usize> = (0..k.len()).collect();
        idx.sort_by_key(|&i| k[i]);
        let ks: Vec<i64> = idx.iter().map(|&i| k[i]).collect();
        let ts: Vec<i64> = idx.iter().map(|&i| t[i]).collect();
        let am: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
        assert!(is_sorted(&ks.as_slice()));
        let out = summarize(
            &ks.as_slice(),
            &ts.as_slice(),
            Some(&am),
            &day_cfg(30, None),
            true,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].periods, out[0].revenue, out[0].repeat_revenue),
            (3, 23.0, 8.0)
        );
        assert_eq!((out[1].periods, out[1].revenue), (1, 4.0));
    }

    #[test]
    fn calibration_and_holdout() {
        // calibration up to day 3: customer 1 has periods {0, 3}; holdout day 10 (1.0)
        let (k, t, a) = log();
        let out = summarize(
            &k.as_slice(),
            &t.as_slice(),
            Some(&a),
            &day_cfg(30, Some(3)),
            true,
        );
        assert_eq!(out.len(), 1); // customer 2 first bought on day 5: holdout only
        let c = out[0];
        assert_eq!((c.periods, c.last_period, c.n_tx), (2, 3, 3));
        assert_eq!((c.holdout_periods, c.holdout_revenue), (1, 1.0));
        assert_eq!(c.repeat_revenue, 7.0);
    }

    #[test]
    fn weekly_periods_with_offset_and_negative_times() {
        // weeks starting on day -3 (a Monday for the Unix epoch); days -3..3 are one period
        let cfg = Config {
            period: 7,
            offset: -3,
            end_period: 10,
            cal_period: 10,
        };
        assert_eq!(cfg.period_of(-3), 0);
        assert_eq!(cfg.period_of(3), 0);
        assert_eq!(cfg.period_of(4), 1);
        assert_eq!(cfg.period_of(-4), -1);
        let k: Vec<i64> = vec![7, 7, 7];
        let t: Vec<i64> = vec![-3, 3, 4];
        let out = summarize(&k.as_slice(), &t.as_slice(), None, &cfg, true);
        assert_eq!((out[0].periods, out[0].n_tx), (2, 3));
    }

    #[test]
    fn many_customers_partitioned_equals_sorted() {
        // enough rows to use several partitions; compare hash path with sorted path
        let n = 200_000usize;
        let mut state = 12345u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let k: Vec<i64> = (0..n).map(|_| (rnd() % 20_000) as i64 - 10_000).collect();
        let t: Vec<i32> = (0..n).map(|_| (rnd() % 400) as i32).collect();
        let a: Vec<f64> = (0..n).map(|_| (rnd() % 1000) as f64 / 8.0).collect();
        let cfg = day_cfg(350, Some(200));
        let un = summarize(&k.as_slice(), &t.as_slice(), Some(&a), &cfg, true);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by_key(|&i| k[i]);
        let ks: Vec<i64> = idx.iter().map(|&i| k[i]).collect();
        let ts: Vec<i32> = idx.iter().map(|&i| t[i]).collect();
        let am: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
        let so = summarize_sorted(&ks.as_slice(), &ts.as_slice(), Some(&am), &cfg);
        assert_eq!(un.len(), so.len());
        for (u, s) in un.iter().zip(&so) {
            assert_eq!(k[u.first_row as usize], ks[s.first_row as usize]);
            assert_eq!(
                (u.periods, u.n_tx, u.holdout_periods),
                (s.periods, s.n_tx, s.holdout_periods)
            );
            assert_eq!(
                (u.first_period, u.last_period),
                (s.first_period, s.last_period)
            );
            assert!((u.revenue - s.revenue).abs() < 1e-9);
            assert!((u.repeat_revenue - s.repeat_revenue).abs() < 1e-9);
            assert!((u.holdout_revenue - s.holdout_revenue).abs() < 1e-9);
        }
        assert!(un
            .windows(2)
            .all(|w| k[w[0].first_row as usize] < k[w[1].first_row as usize]));
    }

    #[test]
    fn string_keys_sorted_bytewise() {
        let keys = StringViewArray::from(vec!["bob", "alice", "bob", "a much longer customer id"]);
        let k = StrKeys(&keys);
        let t: Vec<i64> = vec![1, 2, 3, 4];
        let out = summarize(&k, &t.as_slice(), None, &day_cfg(10, None), true);
        let names: Vec<&str> = out
            .iter()
            .map(|c| keys.value(c.first_row as usize))
            .collect();
        assert_eq!(names, ["a much longer customer id", "alice", "bob"]);
        assert_eq!(out[2].periods, 2);
    }
}
