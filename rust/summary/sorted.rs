//! The sorted path: input sorted by customer has each customer's rows in one run, so the log
//! is cut into windows at run boundaries, the windows are summarised on all threads, and their
//! customers, read window after window, are in key order (no hashing, no sort).
//!
//! The order is checked in the same pass that finds the runs, so sorted input is read once
//! and unsorted input stops at its first descent (in each window). Every adjacent pair of rows
//! is compared either inside a window or at a window boundary, which is chosen where the key
//! rises, so no customer is split between two windows whatever the input.

use rayon::prelude::*;

use super::customer::{entry, finish, Acc, Config, Customer, Entry};
use super::keys::KeyAccess;
use super::log::{Log, TimeAccess};
use super::pieces::{Customers, Summary};

/// Windows per thread. More windows than threads lets an idle thread take over the windows of
/// one that the (shared) machine has descheduled; each window costs a few boundary key reads
/// and one piece.
const WINDOWS_PER_THREAD: usize = 4;

/// Whether keys are non-decreasing (then customer runs are contiguous).
pub fn is_sorted<K: KeyAccess, T: TimeAccess>(log: &Log<'_, K, T>) -> bool {
    let within = log.keys.iter().all(|keys| {
        let n = keys.len();
        n < 2
            || (0..n - 1)
                .into_par_iter()
                .with_min_len(1 << 16)
                .all(|i| keys.key_cmp(i, i + 1) != std::cmp::Ordering::Greater)
    });
    let n = log.len();
    within
        && log
            .starts
            .iter()
            .filter(|&&s| s > 0 && s < n)
            .all(|&s| log.val(s - 1) <= log.val(s))
}

/// Summary of a log whose keys are sorted: runs are customers, output in key order.
pub fn summarize_sorted<'k, K: KeyAccess, T: TimeAccess>(
    log: &'k Log<'_, K, T>,
    cfg: &Config,
) -> Summary<K::Val<'k>> {
    try_summarize_sorted(log, cfg).expect("keys are sorted")
}

/// [`summarize_sorted`] if the keys are sorted, `None` otherwise.
pub(crate) fn try_summarize_sorted<'k, K: KeyAccess, T: TimeAccess>(
    log: &'k Log<'_, K, T>,
    cfg: &Config,
) -> Option<Summary<K::Val<'k>>> {
    let windows = rayon::current_num_threads().max(1) * WINDOWS_PER_THREAD;
    try_summarize_sorted_in(log, cfg, windows)
}

/// The first row at or after `b` (`1 <= b`) whose key is above row `b - 1`'s, or the row
/// count: the end of row `b - 1`'s run when the keys are sorted. Whatever the input, the
/// result `j` has `key(j - 1) < key(j)` or `j == n`, a boundary no run straddles. It gallops
/// (probes 1, 2, 4, ... rows ahead, then bisects), so a customer who owns most of the log
/// costs a few dozen key reads here, not a scan on one thread before the parallel work.
fn run_end<K: KeyAccess, T: TimeAccess>(log: &Log<'_, K, T>, b: usize) -> usize {
    let n = log.len();
    let v = log.val(b - 1);
    let above = |i: usize| i >= n || log.val(i) > v;
    // invariant: key(lo - 1) <= v
    let (mut lo, mut step) = (b, 1usize);
    loop {
        let hi = lo.saturating_add(step - 1);
        if above(hi) {
            // the first row above v in lo..=hi
            let (mut a, mut z) = (lo, hi);
            while a < z {
                let m = a + (z - a) / 2;
                if above(m) {
                    z = m;
                } else {
                    a = m + 1;
                }
            }
            return a.min(n);
        }
        lo = hi + 1;
        step = step.saturating_mul(2);
    }
}

/// Window bounds `0 = b0 < b1 < ... < bk = n`: about `windows` equal row ranges, each inner
/// bound moved forward to the end of the run it falls in (ranges that a long run swallows
/// disappear, so there are no empty windows).
fn window_bounds<K: KeyAccess, T: TimeAccess>(log: &Log<'_, K, T>, windows: usize) -> Vec<usize> {
    let n = log.len();
    let windows = windows.clamp(1, n.max(1));
    let mut bounds = vec![0usize];
    for c in 1..windows {
        let last = *bounds.last().expect("non-empty");
        let b = c * n / windows;
        if b <= last {
            continue;
        }
        let b = run_end(log, b);
        if b < n {
            bounds.push(b);
        }
    }
    if n > 0 {
        bounds.push(n);
    }
    bounds
}

/// One window's customers (in key order) with their keys; `None` at a descent.
struct Piece<V> {
    customers: Vec<Customer>,
    keys: Vec<V>,
    amounts_finite: bool,
    max_time: i64,
}

/// [`try_summarize_sorted`] with an explicit number of windows (tests put window bounds at
/// every row: inside runs, at their ends, and past the last row).
pub(crate) fn try_summarize_sorted_in<'k, K: KeyAccess, T: TimeAccess>(
    log: &'k Log<'_, K, T>,
    cfg: &Config,
    windows: usize,
) -> Option<Summary<K::Val<'k>>> {
    let bounds = window_bounds(log, windows);
    let pieces: Vec<Piece<K::Val<'k>>> = bounds
        .par_windows(2)
        .map(|w| summarize_window(log, cfg, w[0], w[1]))
        .collect::<Option<_>>()?;
    let mut out = Summary {
        customers: Customers {
            pieces: Vec::with_capacity(pieces.len()),
            amounts_finite: true,
            max_time: i64::MIN,
        },
        keys: Vec::with_capacity(pieces.len()),
    };
    for p in pieces {
        out.customers.pieces.push(p.customers);
        out.customers.amounts_finite &= p.amounts_finite;
        out.customers.max_time = out.customers.max_time.max(p.max_time);
        out.keys.push(p.keys);
    }
    Some(out)
}

/// Rows `a..b` (whole runs) summarised, or `None` at the first descent. Within a chunk, rows
/// of one run are told apart by [`KeyAccess::key_eq`] (raw views for strings); keys are built
/// and compared only where a run changes (a separate order check was a third of this path's
/// time on string keys). While a run's periods do not descend (input sorted by customer and
/// time) its rows go straight into an [`Acc`]; at a descent the run so far is re-read into
/// the scratch and [`finish`] sorts it, so either way the customer gets the same bits.
fn summarize_window<'k, K: KeyAccess, T: TimeAccess>(
    log: &'k Log<'_, K, T>,
    cfg: &Config,
    a: usize,
    b: usize,
) -> Option<Piece<K::Val<'k>>> {
    let mut p = Piece {
        customers: Vec::new(),
        keys: Vec::new(),
        amounts_finite: true,
        max_time: i64::MIN,
    };
    let mut run = Run {
        acc: Acc::new(),
        scratch: Vec::new(),
        streaming: true,
        last_period: i64::MIN,
        past_end: false,
        start: a,
    };
    let mut cur: Option<K::Val<'k>> = None;
    let mut sorted = true;
    log.for_spans(a, b, |c, lo, hi, base| {
        if !sorted {
            return;
        }
        let (keys, times, amounts) = (&log.keys[c], &log.times[c], log.amounts_of(c));
        // a local flag stays in a register (the piece's field was a store per row)
        let mut finite = true;
        for i in lo..hi {
            // a run may continue across chunks: there, compare the key values
            let same = if i > lo {
                keys.key_eq(i - 1, i)
            } else {
                cur == Some(keys.val(i))
            };
            if !same {
                let v = keys.val(i);
                if cur.is_some_and(|prev| prev > v) {
                    sorted = false;
                    return;
                }
                run.close(cur, &mut p, cfg, base + i);
                cur = Some(v);
            }
            let e = entry(times, amounts, cfg, i, base + i);
            finite &= e.amount.is_finite();
            if run.streaming {
                if e.period >= run.last_period {
                    run.last_period = e.period;
                    if !run.past_end {
                        run.past_end = !run.acc.add(&e, cfg);
                    }
                    continue;
                }
                // the run's periods descend: collect it from its first row, finish() sorts it
                run.streaming = false;
                run.scratch.clear();
                let scratch = &mut run.scratch;
                log.for_spans(run.start, base + i, |c, lo, hi, base| {
                    let (times, amounts) = (&log.times[c], log.amounts_of(c));
                    scratch.extend((lo..hi).map(|j| entry(times, amounts, cfg, j, base + j)));
                });
            }
            run.scratch.push(e);
        }
        p.amounts_finite &= finite;
    });
    if !sorted {
        return None;
    }
    run.close(cur, &mut p, cfg, b);
    Some(p)
}

/// The customer run being read: streamed into `acc` while its periods do not descend, else
/// collected in `scratch`.
struct Run {
    acc: Acc,
    scratch: Vec<Entry>,
    streaming: bool,
    last_period: i64,
    past_end: bool,
    /// Global row of the run's first row.
    start: usize,
}

impl Run {
    /// Ends the run: its customer (if it bought in the window) and key join the piece; the
    /// next run starts at global row `next`.
    fn close<V>(&mut self, key: Option<V>, p: &mut Piece<V>, cfg: &Config, next: usize) {
        let streamed = std::mem::replace(&mut self.acc, Acc::new());
        let cust = if self.streaming {
            streamed.done()
        } else {
            finish(&mut self.scratch, cfg)
        };
        if let (Some(cust), Some(k)) = (cust, key) {
            p.max_time = p.max_time.max(cust.last_time);
            p.customers.push(cust);
            p.keys.push(k);
        }
        self.scratch.clear();
        self.streaming = true;
        self.last_period = i64::MIN;
        self.past_end = false;
        self.start = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::kernel::{summarize, summarize_keyed};
    use crate::summary::partitioned::summarize_partitions;
    use crate::summary::partitioned::DEFAULT_SCRATCH_BYTES;
    use crate::summary::testutil::{cuts, day_cfg, random_log, sorted_by_key, split};
    use arrow_array::StringViewArray;

    use crate::summary::keys::StrKeys;

    /// Every window count from one window to more windows than rows gives the one-window
    /// result: bounds fall inside runs, exactly at run ends, and past the last row.
    fn check_windows<K: KeyAccess, T: TimeAccess>(log: &Log<'_, K, T>, cfg: &Config) {
        let n = log.len();
        let one = try_summarize_sorted_in(log, cfg, 1).expect("sorted");
        let (c1, k1) = one.into_flat();
        for w in [2, 3, 7, 64, n / 3 + 1, n, n + 5] {
            let bounds = window_bounds(log, w);
            assert!(
                bounds.windows(2).all(|b| b[0] < b[1]),
                "windows {w}: {bounds:?}"
            );
            assert!(bounds[1..bounds.len() - 1]
                .iter()
                .all(|&b| log.val(b - 1) < log.val(b)));
            let got = try_summarize_sorted_in(log, cfg, w).expect("sorted");
            let (finite, max_time) = (got.customers.amounts_finite, got.customers.max_time);
            let (c, k) = got.into_flat();
            assert_eq!(c, c1, "windows {w}");
            assert!(k == k1, "windows {w}: keys differ");
            assert!(finite);
            assert_eq!(
                max_time,
                c1.iter().map(|c| c.last_time).max().unwrap_or(i64::MIN)
            );
        }
    }

    #[test]
    fn window_bounds_inside_and_at_runs_give_the_same_summary() {
        // runs of 1..=9 rows and one long run, in two Arrow chunks split inside a run
        let mut k: Vec<i64> = Vec::new();
        for c in 0..300i64 {
            let len = if c == 150 {
                2_000
            } else {
                (c % 9 + 1) as usize
            };
            k.extend(std::iter::repeat_n(c * 3 - 400, len));
        }
        let n = k.len();
        let t: Vec<i32> = (0..n).map(|i| ((i * 7919) % 400) as i32).collect();
        let a: Vec<f64> = (0..n).map(|i| (i % 13) as f64 - 2.5).collect();
        // a holdout: customers first seen after day 200 are in no piece (empty windows' pieces)
        for cfg in [
            day_cfg(399, None),
            day_cfg(399, Some(200)),
            Config::open(1, 0),
        ] {
            check_windows(
                &Log::single(k.as_slice(), t.as_slice(), Some(&a)).expect("aligned"),
                &cfg,
            );
            let lens = [0, 1_000, 1, 0, n - 1_001];
            let log = Log::new(split(&k, &lens), split(&t, &lens), Some(split(&a, &lens)));
            check_windows(&log.expect("aligned"), &cfg);
        }
    }

    #[test]
    fn one_customer_in_any_number_of_windows() {
        let k = vec![42i64; 10_000];
        let t: Vec<i32> = (0..10_000).map(|i| i % 365).collect();
        let log = Log::single(k.as_slice(), t.as_slice(), None).expect("aligned");
        check_windows(&log, &day_cfg(400, None));
        for w in [1, 2, 8, 10_000] {
            assert_eq!(window_bounds(&log, w), vec![0, 10_000]);
        }
        let out = summarize(&log, &day_cfg(400, None), true);
        assert_eq!((out.len(), out[0].n_tx, out[0].periods), (1, 10_000, 365));
        let single = Log::single(&k[..1], &t[..1], None).expect("aligned");
        assert_eq!(window_bounds(&single, 8), vec![0, 1]);
        check_windows(&single, &day_cfg(400, None));
    }

    #[test]
    fn run_end_gallops_to_the_first_larger_key() {
        let k: Vec<i64> = [vec![1; 5], vec![2; 1000], vec![3]].concat();
        let t = vec![0i32; k.len()];
        let log = Log::single(k.as_slice(), t.as_slice(), None).expect("aligned");
        for b in 1..k.len() {
            let want = (b..k.len()).find(|&j| k[j] > k[b - 1]).unwrap_or(k.len());
            assert_eq!(run_end(&log, b), want, "from {b}");
        }
    }

    #[test]
    fn string_ids_in_windows_and_chunks() {
        let (k, t, a) = random_log(50_000, 4_000, 9);
        let names: Vec<String> = k.iter().map(|v| format!("customer-{v:+}")).collect();
        let (idx, _) = sorted_by_key(&names);
        let sorted: Vec<&str> = idx.iter().map(|&i| names[i].as_str()).collect();
        let ts: Vec<i32> = idx.iter().map(|&i| t[i]).collect();
        let am: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
        let arr = StringViewArray::from(sorted.clone());
        let cfg = day_cfg(399, Some(300));
        let log = Log::single(StrKeys(&arr), ts.as_slice(), Some(&am)).expect("aligned");
        check_windows(&log, &cfg);
        let lens = cuts(sorted.len());
        let mut off = 0;
        let parts: Vec<StringViewArray> = lens
            .iter()
            .map(|&l| {
                off += l;
                arr.slice(off - l, l)
            })
            .collect();
        let chunked = Log::new(
            parts.iter().map(StrKeys).collect(),
            split(&ts, &lens),
            Some(split(&am, &lens)),
        )
        .expect("aligned");
        check_windows(&chunked, &cfg);
        assert_eq!(summarize(&chunked, &cfg, true), summarize(&log, &cfg, true));
    }

    #[test]
    fn streamed_and_collected_runs_equal_the_hash_path_exactly() {
        // sorted by (key, time), except every 7th customer's run, whose times are reversed
        // (collected and sorted by finish; the others are streamed), in chunks cut inside
        // runs: the same bits as the hash path, which collects every run
        let (k, t, a) = random_log(60_000, 3_000, 21);
        let mut idx: Vec<usize> = (0..k.len()).collect();
        idx.sort_by_key(|&i| (k[i], t[i]));
        let ks: Vec<i64> = idx.iter().map(|&i| k[i]).collect();
        let mut ts: Vec<i32> = idx.iter().map(|&i| t[i]).collect();
        let am: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
        let (mut start, mut run) = (0, 0);
        for i in 1..=ks.len() {
            if i == ks.len() || ks[i] != ks[i - 1] {
                if run % 7 == 0 {
                    ts[start..i].reverse();
                }
                (start, run) = (i, run + 1);
            }
        }
        let lens = cuts(ks.len());
        for cfg in [
            day_cfg(399, None),
            day_cfg(300, Some(200)),
            day_cfg(150, None),
            Config::open(7, 3),
        ] {
            let log = Log::new(
                split(&ks, &lens),
                split(&ts, &lens),
                Some(split(&am, &lens)),
            )
            .expect("aligned");
            let (c, v, _, _) = summarize_partitions(&log, &cfg, DEFAULT_SCRATCH_BYTES);
            let hashed = crate::summary::kernel::sort_by_key(c, v);
            for w in [1, 3, 8, 64] {
                let got = try_summarize_sorted_in(&log, &cfg, w).expect("sorted");
                assert_eq!(got.into_flat(), hashed, "{cfg:?}, {w} windows");
            }
        }
    }

    #[test]
    fn non_finite_amounts_are_flagged_in_every_path() {
        let (k, t, mut a) = random_log(40_000, 3_000, 4);
        let (idx, _) = sorted_by_key(&k);
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            a[12_345] = bad;
            let ks: Vec<i64> = idx.iter().map(|&i| k[i]).collect();
            let ts: Vec<i32> = idx.iter().map(|&i| t[i]).collect();
            let am: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
            // past the observation end too: the flag covers every row read, not only summed ones
            let cfg = day_cfg(5, None);
            let sorted = Log::single(ks.as_slice(), ts.as_slice(), Some(&am)).expect("aligned");
            let unsorted = Log::single(k.as_slice(), t.as_slice(), Some(&a)).expect("aligned");
            assert!(
                !summarize_keyed(&sorted, &cfg, true)
                    .customers
                    .amounts_finite
            );
            assert!(
                !summarize_keyed(&unsorted, &cfg, true)
                    .customers
                    .amounts_finite
            );
            a[12_345] = 1.0;
        }
        let clean = Log::single(k.as_slice(), t.as_slice(), Some(&a)).expect("aligned");
        assert!(
            summarize_keyed(&clean, &day_cfg(5, None), true)
                .customers
                .amounts_finite
        );
    }

    #[test]
    fn one_descent_anywhere_leaves_the_sorted_path() {
        // a sorted, chunked log with one pair of rows swapped (inside a chunk, across a chunk
        // boundary, at the last row): the fused check must notice it, with any number of
        // windows, and the hash path give the summary of those rows
        let (k, t, a) = random_log(100_000, 10_000, 5);
        let cfg = day_cfg(350, None);
        let (idx, _) = sorted_by_key(&k);
        let lens = cuts(k.len());
        let mut at: Vec<usize> = vec![1, 50_001, k.len() - 1];
        at.push(lens[1]); // the first row of the chunk after the first non-empty one
        for &i in &at {
            let mut ks: Vec<i64> = idx.iter().map(|&r| k[r]).collect();
            let j = (i..ks.len()).find(|&j| ks[j] != ks[i - 1]).unwrap_or(i);
            ks.swap(i - 1, j);
            let ts: Vec<i32> = idx.iter().map(|&r| t[r]).collect();
            let am: Vec<f64> = idx.iter().map(|&r| a[r]).collect();
            let log = Log::new(
                split(&ks, &lens),
                split(&ts, &lens),
                Some(split(&am, &lens)),
            )
            .expect("aligned");
            for w in [1, 2, 8, 1_000, 100_000] {
                let got = try_summarize_sorted_in(&log, &cfg, w);
                assert_eq!(got.is_none(), !is_sorted(&log), "swap at {i}, {w} windows");
            }
            let (c, v, _, _) = summarize_partitions(&log, &cfg, DEFAULT_SCRATCH_BYTES);
            let hashed = crate::summary::kernel::sort_by_key(c, v).0;
            assert_eq!(summarize(&log, &cfg, true), hashed, "swap at {i}");
        }
    }
}
