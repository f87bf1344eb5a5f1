//! The hash-partitioned path, for unsorted input (the layout and its measured trade-offs are
//! in the kernel's module comment, [`super::kernel`]): rows are hashed into at most 256
//! partitions, scattered group by group into a bounded buffer, and each partition's customers
//! are found with a small hash table and a counting sort.

use hashbrown::HashTable;
use rayon::prelude::*;

use super::customer::{finish, Config, Customer, Entry};
use super::keys::KeyAccess;
use super::log::{Log, TimeAccess};

/// Scratch budget of the hash-partitioned path: the scattered rows of one group of partitions.
/// 64 MiB is about the customer state at 1M customers (64 bytes each), and keeps the scratch
/// from scaling with the number of rows; at 10M rows it means 4 passes.
pub const DEFAULT_SCRATCH_BYTES: usize = 64 << 20;

/// Number of hash-partition bits: about 32k rows per partition, at most 2^8 partitions (more
/// scatter targets measured slower at 10M rows: write streams thrash cache and TLB).
pub(crate) fn partition_bits(n: usize) -> u32 {
    let mut bits = 0;
    while bits < 8 && (n >> bits) > (1 << 15) {
        bits += 1;
    }
    bits
}

struct SyncPtr<T>(*mut T);
// SAFETY: the pointer is only used for writes to disjoint slots (see the scatter below).
unsafe impl<T> Sync for SyncPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Send for SyncPtr<T> {}

#[derive(Clone, Copy)]
struct Scattered<V, R> {
    val: V,
    amount: f64,
    time: R,
    row: u32,
}

/// One hash partition's rows (in row order) -> its customers and their keys, in first-seen
/// order.
fn summarize_partition<V: Eq + Copy, R: Copy + Into<i64>>(
    rows: &[Scattered<V, R>],
    hash: impl Fn(V) -> u64,
    cfg: &Config,
) -> (Vec<Customer>, Vec<V>, i64) {
    let m = rows.len();
    let mut table: HashTable<u32> = HashTable::with_capacity(m / 4 + 16);
    let mut gid_val: Vec<V> = Vec::new();
    let mut gid_hash: Vec<u64> = Vec::new();
    let mut gids: Vec<u32> = Vec::with_capacity(m);
    for s in rows {
        // partition bits are 24..31; the table uses the low bits and the top 7 bits
        let h = hash(s.val);
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
    drop(gid_hash);
    let ng = gid_val.len();
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
        // SAFETY: counting-sort slots are a permutation of 0..m, within the capacity m.
        unsafe { dst.add(*slot as usize).write(e) };
        *slot += 1;
    }
    // SAFETY: all m slots written above.
    unsafe { entries.set_len(m) };
    drop(gids);
    let mut out = Vec::with_capacity(ng);
    let mut keys = Vec::with_capacity(ng);
    let mut max_time = i64::MIN;
    for g in 0..ng {
        let s = &mut entries[start[g] as usize..start[g + 1] as usize];
        if let Some(c) = finish(s, cfg) {
            max_time = max_time.max(c.last_time);
            out.push(c);
            keys.push(gid_val[g]);
        }
    }
    (out, keys, max_time)
}

/// The hash-partitioned kernel, scattering one group of partitions at a time into a buffer of
/// about `scratch_bytes` (see the kernel's module doc). Customers come back grouped by
/// partition, with their keys, whether every amount was finite, and the latest `last_time`.
pub(crate) fn summarize_partitions<'k, K: KeyAccess, T: TimeAccess>(
    log: &'k Log<'_, K, T>,
    cfg: &Config,
    scratch_bytes: usize,
) -> (Vec<Customer>, Vec<K::Val<'k>>, bool, i64) {
    let n = log.len();
    if n == 0 {
        return (Vec::new(), Vec::new(), true, i64::MIN);
    }
    let bits = partition_bits(n);
    let nparts = 1usize << bits;
    let part_of = |h: u64| {
        if bits == 0 {
            0
        } else {
            ((h as u32) >> (32 - bits)) as usize
        }
    };
    let nranges = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(nranges);
    let ranges: Vec<(usize, usize)> = (0..nranges)
        .map(|c| (c * chunk, ((c + 1) * chunk).min(n)))
        .filter(|(a, b)| a < b)
        .collect();

    // 1. every row's partition (1 byte) and per-range partition histograms
    let mut pid = vec![0u8; n];
    let mut pid_parts: Vec<&mut [u8]> = Vec::with_capacity(ranges.len());
    let mut rest: &mut [u8] = &mut pid;
    for &(a, b) in &ranges {
        let (head, tail) = rest.split_at_mut(b - a);
        pid_parts.push(head);
        rest = tail;
    }
    let hists: Vec<Vec<usize>> = ranges
        .par_iter()
        .zip(pid_parts.into_par_iter())
        .map(|(&(a, b), out)| {
            let mut hist = vec![0usize; nparts];
            log.for_spans(a, b, |c, lo, hi, base| {
                let keys = &log.keys[c];
                let out = &mut out[base + lo - a..base + hi - a];
                for (i, o) in (lo..hi).zip(out.iter_mut()) {
                    let p = part_of(K::val_hash(keys.val(i)));
                    *o = p as u8;
                    hist[p] += 1;
                }
            });
            hist
        })
        .collect();
    let pid = pid;

    // 2. groups of consecutive partitions whose rows fit the budget (at least one partition)
    let counts: Vec<usize> = (0..nparts)
        .map(|p| hists.iter().map(|h| h[p]).sum())
        .collect();
    let budget_rows = (scratch_bytes / std::mem::size_of::<Scattered<K::Val<'k>, T::Raw>>()).max(1);
    let mut groups: Vec<(usize, usize, usize)> = Vec::new();
    let mut p0 = 0;
    while p0 < nparts {
        let (mut p1, mut rows) = (p0 + 1, counts[p0]);
        while p1 < nparts && rows + counts[p1] <= budget_rows {
            rows += counts[p1];
            p1 += 1;
        }
        groups.push((p0, p1, rows));
        p0 = p1;
    }
    let cap = groups.iter().map(|g| g.2).max().unwrap_or(0);
    let mut scat: Vec<Scattered<K::Val<'k>, T::Raw>> = Vec::with_capacity(cap);
    let mut customers: Vec<Customer> = Vec::new();
    let mut keys_out: Vec<K::Val<'k>> = Vec::new();
    let (mut finite, mut max_time) = (true, i64::MIN);

    for &(p0, p1, rows) in &groups {
        let glen = p1 - p0;
        // stable scatter; range r writes partition p0 + q at offs[r][q]
        let mut part_start = vec![0usize; glen + 1];
        let mut offs = vec![vec![0usize; glen]; hists.len()];
        let mut acc = 0;
        for q in 0..glen {
            part_start[q] = acc;
            for (r, h) in hists.iter().enumerate() {
                offs[r][q] = acc;
                acc += h[p0 + q];
            }
        }
        part_start[glen] = acc;
        debug_assert_eq!(acc, rows);
        scat.clear();
        let dst = SyncPtr(scat.as_mut_ptr());
        let pid = &pid;
        // each row is scattered in exactly one group: its amount is checked there
        finite &= ranges
            .par_iter()
            .zip(offs.into_par_iter())
            .map(|(&(a, b), mut off)| {
                let dst = &dst;
                let mut finite = true;
                log.for_spans(a, b, |c, lo, hi, base| {
                    let (keys, times, amounts) = (&log.keys[c], &log.times[c], log.amounts_of(c));
                    // a local flag stays in a register (the captured one was a store per row)
                    let mut ok = true;
                    for (i, &p) in (lo..hi).zip(&pid[base + lo..base + hi]) {
                        let q = (p as usize).wrapping_sub(p0);
                        if q >= glen {
                            continue;
                        }
                        let s = Scattered {
                            val: keys.val(i),
                            time: times.raw(i),
                            amount: amounts.map_or(0.0, |x| x[i]),
                            row: (base + i) as u32,
                        };
                        ok &= s.amount.is_finite();
                        // SAFETY: offsets are disjoint per (range, partition) and cover exactly
                        // 0..rows <= cap, the buffer's capacity.
                        unsafe { dst.0.add(off[q]).write(s) };
                        off[q] += 1;
                    }
                    finite &= ok;
                });
                finite
            })
            .reduce(|| true, |a, b| a && b);
        // SAFETY: every slot 0..rows was written exactly once above (Scattered is Copy, so the
        // previous group's contents need no drop).
        unsafe { scat.set_len(rows) };

        // 3. per partition of the group: dense local ids, counting sort, per-customer scan
        let parts: Vec<(Vec<Customer>, Vec<K::Val<'k>>, i64)> = (0..glen)
            .into_par_iter()
            .map(|q| {
                summarize_partition(
                    &scat[part_start[q]..part_start[q + 1]],
                    |v| K::val_hash(v),
                    cfg,
                )
            })
            .collect();
        for (c, k, m) in parts {
            customers.extend_from_slice(&c);
            keys_out.extend_from_slice(&k);
            max_time = max_time.max(m);
        }
    }
    (customers, keys_out, finite, max_time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::kernel::summarize_with_budget;
    use crate::summary::keys::StrKeys;
    use crate::summary::testutil::{cuts, day_cfg, random_log, run, split};
    use arrow_array::StringViewArray;

    #[test]
    fn grouped_passes_equal_one_pass_exactly() {
        // 400k rows: 16 hash partitions; budgets from "one group" down to "one partition per
        // pass" must give bit-identical customers (same rows, same summation order)
        let (k, t, a) = random_log(400_000, 50_000, 7);
        assert_eq!(partition_bits(k.len()), 4);
        let cfg = day_cfg(350, Some(200));
        let log = Log::single(k.as_slice(), t.as_slice(), Some(&a)).expect("aligned");
        let one = summarize_with_budget(&log, &cfg, true, usize::MAX);
        for budget in [1usize, 24, 24 * 30_000, 24 * 100_000, 24 * 399_999] {
            let got = summarize_with_budget(&log, &cfg, true, budget);
            assert_eq!(got, one, "budget {budget}");
        }
        // unsorted output: the same customers, in partition order
        let mut raw = summarize_with_budget(&log, &cfg, false, 1);
        raw.sort_by_key(|c| k[c.first_row as usize]);
        assert_eq!(raw, one);
    }

    #[test]
    fn grouped_passes_equal_sorted_path() {
        let (k, t, a) = random_log(300_000, 30_000, 11);
        let cfg = day_cfg(380, None);
        let un = summarize_with_budget(
            &Log::single(k.as_slice(), t.as_slice(), Some(&a)).expect("aligned"),
            &cfg,
            true,
            24 * 20_000,
        );
        // stable sort by key keeps rows ascending within a customer, so row numbers map back
        let mut idx: Vec<usize> = (0..k.len()).collect();
        idx.sort_by_key(|&i| k[i]);
        let ks: Vec<i64> = idx.iter().map(|&i| k[i]).collect();
        let ts: Vec<i32> = idx.iter().map(|&i| t[i]).collect();
        let am: Vec<f64> = idx.iter().map(|&i| a[i]).collect();
        let so = run(ks.as_slice(), ts.as_slice(), Some(&am), &cfg);
        assert_eq!(un.len(), so.len());
        for (u, s) in un.iter().zip(&so) {
            assert_eq!(u.first_row as usize, idx[s.first_row as usize]);
            assert_eq!(u.last_row as usize, idx[s.last_row as usize]);
            assert_eq!(
                (u.periods, u.n_tx, u.first_time, u.last_time),
                (s.periods, s.n_tx, s.first_time, s.last_time)
            );
            assert!((u.revenue - s.revenue).abs() < 1e-9);
            assert!((u.repeat_revenue - s.repeat_revenue).abs() < 1e-9);
        }
    }

    #[test]
    fn string_keys_grouped_and_chunked() {
        let (k, t, _) = random_log(100_000, 8_000, 5);
        let names: Vec<String> = k.iter().map(|v| format!("customer-{v:+}")).collect();
        let arr = StringViewArray::from(names.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        let cfg = day_cfg(399, None);
        let whole = summarize_with_budget(
            &Log::single(StrKeys(&arr), t.as_slice(), None).expect("aligned"),
            &cfg,
            true,
            usize::MAX,
        );
        let lens = cuts(k.len());
        let mut off = 0;
        let parts: Vec<StringViewArray> = lens
            .iter()
            .map(|&l| {
                let p = arr.slice(off, l);
                off += l;
                p
            })
            .collect();
        let log =
            Log::new(parts.iter().map(StrKeys).collect(), split(&t, &lens), None).expect("aligned");
        let got = summarize_with_budget(&log, &cfg, true, 1000);
        assert_eq!(got, whole);
        let mut expect: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        expect.sort_unstable();
        expect.dedup();
        let order: Vec<&str> = got
            .iter()
            .map(|c| names[c.first_row as usize].as_str())
            .collect();
        assert_eq!(order, expect);
    }
}
