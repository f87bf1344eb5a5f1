//! The fused customer-summary kernel: one pass over the transaction log builds every
//! customer's summary (distinct purchase periods, first/last period, totals, holdout counts).
//!
//! The log arrives as aligned column chunks ([`Log`]): chunk `c` of every column covers the same
//! rows, so a chunked Polars frame (e.g. read from Parquet) is summarised without first copying it
//! into one contiguous buffer. Rows are numbered globally across chunks.
//!
//! Layout, for speed on unsorted input (the common case), and its memory:
//! 1. hash every key once (parallel ranges), store its hash partition (at most 256) as one byte
//!    per row, and count rows per (range, partition). Extra memory: **1 byte per row**.
//! 2. cut the partitions into *groups* whose rows fit a scratch budget
//!    ([`DEFAULT_SCRATCH_BYTES`], 64 MiB); for each group, one pass over the partition bytes
//!    scatters the group's rows as `(key, amount, time, row)` (24 bytes for integer keys and
//!    dates) into one reused buffer, stably, so later steps read it sequentially instead of
//!    reading the columns at scattered rows (a cache and TLB miss per column per row, measured
//!    ~10x slower). The buffer is bounded by the budget (or by the largest single partition, if
//!    one customer-heavy partition exceeds it), not by the number of rows; at 10M rows the
//!    default gives 4 passes. Rescanning costs little: each pass reads the 1-byte partition ids
//!    and only the group's rows, fewer scatter targets are live at once, and the reused buffer
//!    is page-faulted in once (at 10M rows, CPU time measured level with one unbounded pass at
//!    64 MiB, +8% at 32 MiB, +30% at 16 MiB).
//! 3. per partition of the group, in parallel: a small open-addressing table maps keys to dense
//!    local ids (it fits in cache: a partition holds a few thousand customers), a counting sort
//!    groups the partition's rows by customer, and each customer's handful of rows is sorted by
//!    period and scanned once. Customers (64 bytes each) and their keys are appended to flat
//!    vectors; these grow with customers, not transactions.
//! 4. sorting `(key, index)` pairs gives the key order; the customers are gathered into it
//!    after the scatter buffer is freed, so the copy stays under the scatter phase's peak.
//!
//! Peak extra memory of the unsorted path is thus about `n` bytes + the scratch budget + 2 x 64
//! bytes per customer (+ the sort pairs), e.g. ~150 MiB at 10M rows / 1M customers, where the
//! previous one-pass layout needed 24 bytes per row (229 MiB) for its scatter alone.
//!
//! Input sorted by customer skips hashing entirely ([`super::sorted`]): customer runs are
//! contiguous, so the rows are cut into about four windows per thread at run boundaries (found
//! by galloping from an even split: one customer owning most of the log costs a few key reads,
//! not a scan), the windows are summarised on all threads, and their customers, read window
//! after window, are already in key order. The order is checked in that same pass (unsorted
//! input gives up at its first descent), so sorted input is read once: 10M sorted string ids,
//! summary CPU 0.28 -> 0.21 s. The windows' customers are never concatenated: the output
//! columns are written from the pieces on all threads ([`super::pieces`]). The default
//! observation end and the check that amounts are finite cost no pass of their own: without an
//! observation or calibration end the kernel runs on an open window ([`Config::open`]) and
//! reports the latest tick and whether every amount it read was finite; the offending row is
//! looked for only then. Within a window, a run whose periods come in order (input sorted by
//! customer and time) is fed straight into the customer's accumulator; a run whose periods
//! descend is collected and sorted as on the hash path, so both give the same bits. The kernel
//! and the output columns run in one hand-over to the thread pool (a dozen separate parallel
//! calls each waited for a worker to wake, which on a busy machine cost more than a 1M-row
//! summary). Measured on 10M rows / ~1M "C<id>" customers sorted by (customer, time), 2 cores
//! shared with other jobs (load 15-20), CPU of `summarize`, before -> after in one process:
//! 0.20 -> 0.15 s, 0.23 -> 0.16 s, 0.28 -> 0.20 s in three runs (-25 to -30%); the
//! calling thread's share of the samples fell from 65% (concatenating the windows' customers,
//! the finite check, the output columns one after the other, with their page faults) to ~8%,
//! the two pool threads sharing the rest evenly, where before the path kept ~1.3 cores busy.
//!
//! Keys: integers are themselves; strings are read in place from the Arrow buffers (no `String`
//! per row). Polars hands strings over as string *views* (16 bytes a row); when every id is at
//! most 12 bytes (ids such as "C1234567", order numbers, short codes) the view holds the whole
//! string, and [`super::keys::InlineViews`] turns it into one `u128` whose integer order is the
//! bytewise string order, so the kernel runs exactly as on integers (a 16-byte key instead of
//! 8 in the scatter). Measured on 10M rows / ~1M customers ("C<id>" keys, unsorted, CPU
//! seconds of the kernel, 2-core box at load ~20): 2.75 s with a `&[u8]` slice per row (hash
//! bytes, compare and sort through pointers into the views) vs 0.77 s inline; the summary as a
//! whole went from ~1.7x to ~5x less CPU than the best Polars (two-level group-by) and DuckDB
//! formulations. Longer ids (UUIDs, hex digests) take the slice path, hashing the bytes and
//! comparing through pointers; the key sort compares an 8-byte big-endian prefix first
//! (`memcmp` was a fifth of the samples): 10M rows of ~30-byte ids, kernel CPU 4.27 -> 3.27 s,
//! ~2.4x less CPU than the two-level Polars group-by. A prefix-plus-hash key in the scatter
//! and the per-partition tables is the next step for them.
//!
//! Files: [`super::log`] (the chunked log), [`super::customer`] (one customer's record and
//! scan, shared by both paths so they agree bit for bit), [`super::sorted`] and
//! [`super::partitioned`] (the two paths), [`super::pieces`] (the result and the parallel
//! column fill), this module (the choice between the paths and the key order).

use rayon::prelude::*;

pub use super::customer::{Config, Customer};
use super::keys::KeyAccess;
pub use super::log::{Log, TimeAccess};
use super::partitioned::summarize_partitions;
pub use super::partitioned::DEFAULT_SCRATCH_BYTES;
pub use super::pieces::{Customers, Summary};
use super::sorted::try_summarize_sorted;

/// Customers in the ascending order of their (distinct) keys, with the keys in that order. The
/// gathered copy is made after the scatter buffer is freed, so it does not raise the peak;
/// reading the output columns from it sequentially measured faster than assembling them
/// through a permutation.
pub(crate) fn sort_by_key<V: Ord + Copy + Send + Sync>(
    customers: Vec<Customer>,
    keys: Vec<V>,
) -> (Vec<Customer>, Vec<V>) {
    let mut v: Vec<(V, u32)> = keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k, i as u32))
        .collect();
    v.par_sort_unstable();
    let sorted = v.par_iter().map(|x| customers[x.1 as usize]).collect();
    (sorted, v.into_iter().map(|x| x.0).collect())
}

/// [`sort_by_key`] for keys compared through pointers (byte slices): sorting by (8-byte
/// prefix, key) settles most comparisons on the inline prefix (at 10M rows / 1M long string
/// ids, `memcmp` through the pointers was a fifth of the kernel's samples).
fn sort_by_prefixed_key<V: Ord + Copy + Send + Sync>(
    customers: Vec<Customer>,
    keys: Vec<V>,
    prefix: impl Fn(V) -> u64 + Sync,
) -> (Vec<Customer>, Vec<V>) {
    let mut v: Vec<(u64, V, u32)> = keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| (prefix(k), k, i as u32))
        .collect();
    v.par_sort_unstable();
    let sorted = v.par_iter().map(|x| customers[x.2 as usize]).collect();
    (sorted, v.into_iter().map(|x| x.1).collect())
}

/// Summary of a transaction log: sorted fast path when keys are sorted, hash-partitioned
/// otherwise. Output sorted by key when `sort_output` (sorted input always is).
pub fn summarize<K: KeyAccess, T: TimeAccess>(
    log: &Log<'_, K, T>,
    cfg: &Config,
    sort_output: bool,
) -> Vec<Customer> {
    summarize_with_budget(log, cfg, sort_output, DEFAULT_SCRATCH_BYTES)
}

/// [`summarize`] with each customer's key alongside (the kernel holds the values anyway, so the
/// caller need not gather them from the input rows).
pub fn summarize_keyed<'k, K: KeyAccess, T: TimeAccess>(
    log: &'k Log<'_, K, T>,
    cfg: &Config,
    sort_output: bool,
) -> Summary<K::Val<'k>> {
    summarize_keyed_with_budget(log, cfg, sort_output, DEFAULT_SCRATCH_BYTES)
}

/// [`summarize`] with an explicit scratch budget for the hash-partitioned path (tests use tiny
/// budgets to force many passes).
pub fn summarize_with_budget<K: KeyAccess, T: TimeAccess>(
    log: &Log<'_, K, T>,
    cfg: &Config,
    sort_output: bool,
    scratch_bytes: usize,
) -> Vec<Customer> {
    summarize_keyed_with_budget(log, cfg, sort_output, scratch_bytes)
        .into_flat()
        .0
}

fn summarize_keyed_with_budget<'k, K: KeyAccess, T: TimeAccess>(
    log: &'k Log<'_, K, T>,
    cfg: &Config,
    sort_output: bool,
    scratch_bytes: usize,
) -> Summary<K::Val<'k>> {
    if let Some(sorted) = try_summarize_sorted(log, cfg) {
        return sorted;
    }
    let (customers, keys, finite, max_time) = summarize_partitions(log, cfg, scratch_bytes);
    let (customers, keys) = if sort_output && K::PREFIXED {
        sort_by_prefixed_key(customers, keys, |v| K::val_prefix(v))
    } else if sort_output {
        sort_by_key(customers, keys)
    } else {
        (customers, keys)
    };
    Summary::whole(customers, keys, finite, max_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::keys::StrKeys;
    use crate::summary::sorted::{is_sorted, summarize_sorted};
    use crate::summary::testutil::{cuts, day_cfg, random_log, run, split};
    use arrow_array::StringViewArray;
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
        assert_eq!((c1.first_time, c1.last_time), (0, 10));
        assert_eq!(
            (
                c1.first_period(&day_cfg(30, None)),
                c1.last_period(&day_cfg(30, None))
            ),
            (0, 10)
        );
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
        let out = run(k.as_slice(), t.as_slice(), Some(&a), &day_cfg(30, None));
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
        assert!(is_sorted(
            &Log::single(ks.as_slice(), ts.as_slice(), None).expect("aligned")
        ));
        let out = run(ks.as_slice(), ts.as_slice(), Some(&am), &day_cfg(30, None));
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
        let out = run(k.as_slice(), t.as_slice(), Some(&a), &day_cfg(30, Some(3)));
        assert_eq!(out.len(), 1); // customer 2 first bought on day 5: holdout only
        let c = out[0];
        assert_eq!((c.periods, c.last_time, c.n_tx), (2, 3, 3));
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
        let out = run(k.as_slice(), t.as_slice(), None, &cfg);
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
        let un = run(k.as_slice(), t.as_slice(), Some(&a), &cfg);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by_key(|&i| k[i]);
        let ks: Vec<i64> = idx.iter().map(|&i| k[i]).collect();
        let ts: Vec<i32> = idx.iter().map(|&i| t[i]).collect();
        let am: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
        let slog = Log::single(ks.as_slice(), ts.as_slice(), Some(&am)).expect("aligned");
        let (so, so_keys) = summarize_sorted(&slog, &cfg).into_flat();
        let (un_k, un_keys) = summarize_keyed(
            &Log::single(k.as_slice(), t.as_slice(), Some(&a)).expect("aligned"),
            &cfg,
            true,
        )
        .into_flat();
        assert_eq!(un_k, un);
        assert_eq!(un_keys, so_keys);
        assert!(so
            .iter()
            .zip(&so_keys)
            .all(|(c, &key)| ks[c.first_row as usize] == key));
        assert_eq!(un.len(), so.len());
        for (u, s) in un.iter().zip(&so) {
            assert_eq!(k[u.first_row as usize], ks[s.first_row as usize]);
            assert_eq!(
                (u.periods, u.n_tx, u.holdout_periods),
                (s.periods, s.n_tx, s.holdout_periods)
            );
            assert_eq!((u.first_time, u.last_time), (s.first_time, s.last_time));
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
        let out = run(k, t.as_slice(), None, &day_cfg(10, None));
        let names: Vec<&str> = out
            .iter()
            .map(|c| keys.value(c.first_row as usize))
            .collect();
        assert_eq!(names, ["a much longer customer id", "alice", "bob"]);
        assert_eq!(out[2].periods, 2);
    }

    #[test]
    fn chunked_input_equals_one_chunk() {
        let (k, t, a) = random_log(200_000, 20_000, 3);
        let cfg = day_cfg(350, Some(250));
        let lens = cuts(k.len());
        let whole = run(k.as_slice(), t.as_slice(), Some(&a), &cfg);
        let log =
            Log::new(split(&k, &lens), split(&t, &lens), Some(split(&a, &lens))).expect("aligned");
        for budget in [usize::MAX, 24 * 10_000] {
            assert_eq!(summarize_with_budget(&log, &cfg, true, budget), whole);
        }
        // sorted and chunked: runs continue across chunk boundaries
        let mut idx: Vec<usize> = (0..k.len()).collect();
        idx.sort_by_key(|&i| k[i]);
        let ks: Vec<i64> = idx.iter().map(|&i| k[i]).collect();
        let ts: Vec<i32> = idx.iter().map(|&i| t[i]).collect();
        let am: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
        let sorted_whole = run(ks.as_slice(), ts.as_slice(), Some(&am), &cfg);
        let slog = Log::new(
            split(&ks, &lens),
            split(&ts, &lens),
            Some(split(&am, &lens)),
        )
        .expect("aligned");
        assert!(is_sorted(&slog));
        assert_eq!(summarize(&slog, &cfg, true), sorted_whole);
        // a boundary between two chunks that breaks the order is noticed
        let swapped: Vec<i64> = ks.iter().rev().copied().collect();
        let rlog = Log::new(split(&swapped, &lens), split(&ts, &lens), None).expect("aligned");
        assert!(!is_sorted(&rlog));
    }

    #[test]
    fn empty_logs_summarise_to_nothing() {
        let (k, t): (Vec<i64>, Vec<i32>) = (vec![], vec![]);
        let none = Log::<&[i64], &[i32]>::new(vec![], vec![], None).expect("aligned");
        assert!(is_sorted(&none) && summarize(&none, &day_cfg(1, None), true).is_empty());
        let empty_chunks = Log::new(vec![&k[..], &k[..]], vec![&t[..], &t[..]], None);
        let empty_chunks = empty_chunks.expect("aligned");
        assert!(summarize_with_budget(&empty_chunks, &day_cfg(1, None), true, 1).is_empty());
    }

    #[test]
    fn misaligned_chunks_are_refused() {
        let k: Vec<i64> = vec![1, 2, 3];
        let t: Vec<i32> = vec![1, 2, 3];
        assert!(Log::new(vec![&k[..1], &k[1..]], vec![&t[..2], &t[2..]], None).is_none());
        assert!(Log::new(vec![&k[..]], vec![&t[..]], Some(vec![])).is_none());
        assert!(Log::single(&k[..], &t[..2], None).is_none());
    }
}
