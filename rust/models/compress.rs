//! Rows with identical (frequency, recency, T) are merged into one weighted pattern: the
//! log-likelihood is a weighted sum, so fitting cost grows with distinct patterns, not rows.

use std::sync::OnceLock;

use super::dedupe::{dedupe, IntCodec};
use super::distinct::sort_rows;
use super::levels::{distinct_share, levels, pairs};

// The keying and the per-column indexes live in their own rooms; callers keep reaching them
// through `compress`, where `Data` is.
pub use super::dedupe::{row_patterns, whole_max, FxHasher, PairIndex};
pub use super::levels::{log_shift, par_sum, Levels, LogCol, Pairs};

/// Columns of a (possibly compressed) summary. For Gamma-Gamma, `tx` holds monetary value.
#[derive(Debug, Clone, Default)]
pub struct Data {
    pub x: Vec<f64>,
    pub tx: Vec<f64>,
    pub t: Vec<f64>,
    pub w: Vec<f64>,
    pub tx_levels: Option<Levels>,
    pub t_levels: Option<Levels>,
    /// Distinct (x, T) pairs and each row's index into them (when there are few), built on
    /// first use (`pairs_xt`): only Pareto/NBD reads them, and on a million rows building
    /// them costs as much as a few likelihood evaluations of the other models.
    pub xt_pairs: OnceLock<Option<Pairs>>,
    /// Distinct (x, t_x) pairs likewise (Pareto/NBD's per-row series depends on them only).
    pub xtx_pairs: OnceLock<Option<Pairs>>,
    /// Set by `index_columns`: pairs are built for indexed data only (a one-row `Data` that
    /// a caller refills row by row must not keep the pairs of its first row).
    pub paired: bool,
}

static NO_PAIRS: Option<Pairs> = None;

impl Data {
    pub fn len(&self) -> usize {
        self.x.len()
    }
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
    pub fn total_weight(&self) -> f64 {
        self.w.iter().sum()
    }
    pub fn max_x(&self) -> usize {
        self.x.iter().fold(0.0_f64, |m, &v| m.max(v)) as usize
    }
    /// One unweighted row (per-row predictions through a model's `ll_sum`).
    pub fn row(x: f64, tx: f64, t: f64) -> Self {
        Data {
            x: vec![x],
            tx: vec![tx],
            t: vec![t],
            w: vec![1.0],
            ..Default::default()
        }
    }
    /// Weighted mean of a column of the patterns.
    pub fn mean(&self, v: &[f64]) -> f64 {
        v.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>() / self.total_weight()
    }
    /// Mean frequency and mean T, at least 1e-3 (start values of purchase models).
    pub fn mean_x_t(&self) -> (f64, f64) {
        (self.mean(&self.x).max(1e-3), self.mean(&self.t).max(1e-3))
    }
}

/// Merge identical rows, summing weights. Rows with weight 0 are dropped. Output is sorted
/// by (x, tx, T) (nearly distinct rows: (x, T, tx), see `distinct`) so results do not depend
/// on input order.
///
/// Day-grained summaries hold whole numbers: then the three columns are packed into one u64
/// (a cheaper key to hash and compare). Rows are scattered into hash partitions per chunk in
/// parallel, each partition is deduplicated in its own small table (cache-resident, in
/// parallel), and only the distinct patterns are sorted. The previous design (one map per
/// chunk, merged serially into one large map) spent half the BG/NBD 1M-row fit in the merge.
pub fn compress(x: &[f64], tx: &[f64], t: &[f64], w: Option<&[f64]>) -> Data {
    let mut out = Data::default();
    if let Some(c) = IntCodec::new(x, tx, t) {
        let pats = dedupe(x.len(), |i| c.encode(x[i], tx[i], t[i]), w);
        out.x.reserve(pats.len());
        out.tx.reserve(pats.len());
        out.t.reserve(pats.len());
        for (k, wi) in pats {
            let (a, b, d) = c.decode(k);
            out.x.push(a);
            out.tx.push(b);
            out.t.push(d);
            out.w.push(wi);
        }
    } else {
        // +0.0 turns -0.0 into +0.0 so that equal values share a key; non-negative floats
        // order like their bit patterns, so the sort is by (x, tx, T).
        let key = |i: usize| {
            [
                (x[i] + 0.0).to_bits(),
                (tx[i] + 0.0).to_bits(),
                (t[i] + 0.0).to_bits(),
            ]
        };
        // Nearly every row its own pattern (continuous times): sorting the rows is the whole
        // job (`distinct`), and hashing them into partitions first only moves them around
        // twice more. That sort orders by (x, T, t_x).
        let fold = |i: usize| {
            let [a, b, d] = key(i);
            (a.rotate_left(32) ^ b, d)
        };
        if distinct_share(x.len(), fold).is_some_and(|s| s > 0.9) {
            if let Some((a, b, c, d)) = whole_max(x).and_then(|m| sort_rows(x, tx, t, w, m)) {
                (out.x, out.tx, out.t, out.w) = (a, b, c, d);
                out.index_columns();
                return out;
            }
        }
        let pats = dedupe(x.len(), key, w);
        for ([a, b, d], wi) in pats {
            out.x.push(f64::from_bits(a));
            out.tx.push(f64::from_bits(b));
            out.t.push(f64::from_bits(d));
            out.w.push(wi);
        }
    }
    out.index_columns();
    out
}

impl Data {
    /// Precompute distinct levels of recency and T (day-grained summaries have few), so
    /// per-evaluation logarithms are taken once per level instead of once per row; pairs
    /// are (re)built on first use.
    pub fn index_columns(&mut self) {
        self.tx_levels = levels(&self.tx);
        self.t_levels = levels(&self.t);
        self.xt_pairs = OnceLock::new();
        self.xtx_pairs = OnceLock::new();
        self.paired = true;
    }
    /// Distinct (x, T) pairs and each row's index into them, if there are few (and the
    /// columns were indexed).
    pub fn pairs_xt(&self) -> &Option<Pairs> {
        if !self.paired {
            return &NO_PAIRS;
        }
        self.xt_pairs.get_or_init(|| pairs(&self.x, &self.t))
    }
    /// Distinct (x, t_x) pairs and each row's index into them, likewise.
    pub fn pairs_xtx(&self) -> &Option<Pairs> {
        if !self.paired {
            return &NO_PAIRS;
        }
        self.xtx_pairs.get_or_init(|| pairs(&self.x, &self.tx))
    }
}

/// The three columns of a summary: frequency, recency (or monetary value), T.
#[derive(Clone, Copy)]
pub struct Cols<'a> {
    pub x: &'a [f64],
    pub tx: &'a [f64],
    pub t: &'a [f64],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_identical_rows_and_sums_weights() {
        let x = [1.0, 0.0, 1.0, 1.0];
        let tx = [2.0, 0.0, 2.0, 3.0];
        let t = [5.0, 5.0, 5.0, 5.0];
        let d = compress(&x, &tx, &t, None);
        assert_eq!(d.len(), 3);
        assert_eq!(d.total_weight(), 4.0);
        assert_eq!((d.x[1], d.tx[1], d.w[1]), (1.0, 2.0, 2.0));
        let w = [0.5, 0.0, 2.0, 1.0];
        let d = compress(&x, &tx, &t, Some(&w));
        assert_eq!(d.len(), 2);
        assert_eq!(d.w, vec![2.5, 1.0]);
    }

    /// Reference: a BTreeMap over bit patterns (ordered like the values for x, tx, T >= 0).
    fn reference(x: &[f64], tx: &[f64], t: &[f64], w: &[f64]) -> Vec<(f64, f64, f64, f64)> {
        let mut m = std::collections::BTreeMap::new();
        for i in 0..x.len() {
            if w[i] != 0.0 {
                let k = (
                    (x[i] + 0.0).to_bits(),
                    (tx[i] + 0.0).to_bits(),
                    (t[i] + 0.0).to_bits(),
                );
                *m.entry(k).or_insert(0.0) += w[i];
            }
        }
        m.into_iter()
            .map(|((a, b, c), v)| (f64::from_bits(a), f64::from_bits(b), f64::from_bits(c), v))
            .collect()
    }

    #[test]
    fn matches_a_reference_on_whole_and_fractional_data() {
        // Enough rows for several chunks and partitions; a small LCG keeps it deterministic.
        let n = 300_000;
        let mut s: u64 = 7;
        let mut next = |m: u64| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) % m
        };
        let x: Vec<f64> = (0..n).map(|_| next(6) as f64).collect();
        let t: Vec<f64> = (0..n).map(|_| 180.0 + next(91) as f64).collect();
        let tx: Vec<f64> = (0..n)
            .map(|i| {
                if x[i] == 0.0 {
                    0.0
                } else {
                    next(t[i] as u64) as f64
                }
            })
            .collect();
        let w: Vec<f64> = (0..n).map(|_| [0.0, 1.0, 2.5][next(3) as usize]).collect();
        let ones = vec![1.0; n];
        let week = |v: &[f64]| v.iter().map(|a| a / 7.0).collect::<Vec<_>>();
        let neg0: Vec<f64> = x.iter().map(|&a| if a == 0.0 { -0.0 } else { a }).collect();
        for (x, tx, t) in [
            (x.clone(), tx.clone(), t.clone()),
            (x.clone(), week(&tx), week(&t)),
            (neg0, tx.clone(), t.clone()),
            (vec![0.0; n], vec![0.0; n], vec![9.0e15; n]),
        ] {
            for (wv, wo) in [(&ones, None), (&w, Some(&w[..]))] {
                let d = compress(&x, &tx, &t, wo);
                let got: Vec<_> = (0..d.len())
                    .map(|i| (d.x[i], d.tx[i], d.t[i], d.w[i]))
                    .collect();
                assert_eq!(got, reference(&x, &tx, &t, wv));
            }
        }
        // Continuous values, nearly all distinct (the sorting path), with repeated rows.
        let cont: Vec<f64> = (0..n).map(|_| next(1 << 40) as f64 / 1024.0).collect();
        let rep = |i: usize| i % (n - 5000);
        let t: Vec<f64> = (0..n).map(|i| cont[rep(i)]).collect();
        let tx: Vec<f64> = (0..n).map(|i| cont[rep(i)] * 0.5).collect();
        let x: Vec<f64> = (0..n).map(|i| (rep(i) % 7) as f64).collect();
        for (wv, wo) in [(&ones, None), (&w, Some(&w[..]))] {
            let d = compress(&x, &tx, &t, wo);
            let got: Vec<_> = (0..d.len())
                .map(|i| (d.x[i], d.tx[i], d.t[i], d.w[i]))
                .collect();
            assert_eq!(got, reference(&x, &tx, &t, wv));
        }
        // t_x not ordered like T, and rows sharing T (one in a hundred): that path's order
        // is (x, T, t_x).
        let tx: Vec<f64> = (0..n).map(|i| cont[(rep(i) * 31 + 5) % n] * 0.25).collect();
        let t: Vec<f64> = (0..n)
            .map(|i| if i % 100 == 0 { 500.0 } else { t[i] })
            .collect();
        for (wv, wo) in [(&ones, None), (&w, Some(&w[..]))] {
            let d = compress(&x, &tx, &t, wo);
            assert!(d.len() < n - 4000);
            let got: Vec<_> = (0..d.len())
                .map(|i| (d.x[i], d.tx[i], d.t[i], d.w[i]))
                .collect();
            let mut want = reference(&x, &tx, &t, wv);
            want.sort_by(|a, b| (a.0, a.2, a.1).partial_cmp(&(b.0, b.2, b.1)).unwrap());
            assert_eq!(got, want);
        }
        // Whole numbers too wide to pack together take the general path.
        let big = vec![4.0e15, 1.0, 2.0e15];
        let d = compress(&big, &big, &big, None);
        assert_eq!(d.x, vec![1.0, 2.0e15, 4.0e15]);
    }
}
