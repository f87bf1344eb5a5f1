//! Rows with identical (frequency, recency, T) are merged into one weighted pattern: the
//! log-likelihood is a weighted sum, so fitting cost grows with distinct patterns, not rows.

use rayon::prelude::*;

/// Columns of a (possibly compressed) summary. For Gamma-Gamma, `tx` holds monetary value.
#[derive(Debug, Clone, Default)]
pub struct Data {
    pub x: Vec<f64>,
    pub tx: Vec<f64>,
    pub t: Vec<f64>,
    pub w: Vec<f64>,
    pub tx_levels: Option<Levels>,
    pub t_levels: Option<Levels>,
    /// Distinct (x, T) pairs and each row's index into them (when there are few).
    pub xt_pairs: Option<Pairs>,
}

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
}

/// Merge identical rows, summing weights. Rows with weight 0 are dropped. Output is sorted
/// by (x, tx, T) so results do not depend on input order. One hash pass over the rows, then a
/// sort of the distinct patterns only.
pub fn compress(x: &[f64], tx: &[f64], t: &[f64], w: Option<&[f64]>) -> Data {
    use std::collections::HashMap;
    type Key = (u64, u64, u64);
    type Map = HashMap<Key, f64, std::hash::BuildHasherDefault<FxHasher>>;
    let n = x.len();
    // +0.0 turns -0.0 into +0.0 so that equal values share a key.
    let key = |i: usize| {
        (
            (x[i] + 0.0).to_bits(),
            (tx[i] + 0.0).to_bits(),
            (t[i] + 0.0).to_bits(),
        )
    };
    // One hash map per chunk of rows, in parallel, then merged.
    const CHUNK: usize = 1 << 17;
    let maps: Vec<Map> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut m = Map::with_capacity_and_hasher(4096, Default::default());
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                let wi = w.map_or(1.0, |w| w[i]);
                if wi != 0.0 {
                    *m.entry(key(i)).or_insert(0.0) += wi;
                }
            }
            m
        })
        .collect();
    let mut it = maps.into_iter();
    let mut all = it.next().unwrap_or_default();
    for m in it {
        for (k, v) in m {
            *all.entry(k).or_insert(0.0) += v;
        }
    }
    let mut pats: Vec<(Key, f64)> = all.into_iter().collect();
    // Non-negative floats order like their bit patterns: sorted by (x, tx, T).
    pats.par_sort_unstable_by_key(|p| p.0);
    let mut out = Data::default();
    for ((a, b, c), wi) in pats {
        out.x.push(f64::from_bits(a));
        out.tx.push(f64::from_bits(b));
        out.t.push(f64::from_bits(c));
        out.w.push(wi);
    }
    out.index_columns();
    out
}

/// A small multiplicative hasher (FxHash): keys here are bit patterns of floats.
#[derive(Default)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Distinct values of a column and each row's index into them (when there are few).
#[derive(Debug, Clone, Default)]
pub struct Levels {
    pub values: Vec<f64>,
    pub index: Vec<u32>,
}

fn levels(v: &[f64]) -> Option<Levels> {
    let mut u: Vec<f64> = v.to_vec();
    u.sort_unstable_by(|a, b| a.total_cmp(b));
    u.dedup();
    if u.len() * 4 > v.len() {
        return None;
    }
    let index = v
        .iter()
        .map(|x| u.binary_search_by(|p| p.total_cmp(x)).unwrap_or(0) as u32)
        .collect();
    Some(Levels { values: u, index })
}

/// Distinct (x, T) pairs and each row's index into them.
pub type Pairs = (Vec<(f64, f64)>, Vec<u32>);

fn pairs(x: &[f64], t: &[f64]) -> Option<Pairs> {
    use std::collections::HashMap;
    let mut map: HashMap<(u64, u64), u32, std::hash::BuildHasherDefault<FxHasher>> =
        HashMap::default();
    let mut uniq = Vec::new();
    let mut index = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        let k = (x[i].to_bits(), t[i].to_bits());
        let j = *map.entry(k).or_insert_with(|| {
            uniq.push((x[i], t[i]));
            (uniq.len() - 1) as u32
        });
        index.push(j);
        if uniq.len() * 2 > x.len() + 64 {
            return None;
        }
    }
    Some((uniq, index))
}

impl Data {
    /// Precompute distinct levels of recency and T (day-grained summaries have few), so
    /// per-evaluation logarithms are taken once per level instead of once per row.
    pub fn index_columns(&mut self) {
        self.tx_levels = levels(&self.tx);
        self.t_levels = levels(&self.t);
        self.xt_pairs = pairs(&self.x, &self.t);
    }
}

/// ln(c + column[i]) for every row, through the column's levels when available.
pub fn log_shift<R: super::dual::Real>(c: R, lv: &Option<Levels>) -> LogCol<R> {
    match lv {
        Some(l) => LogCol::Levels(l.values.iter().map(|v| (c + *v).ln()).collect()),
        None => LogCol::Direct(c),
    }
}

pub enum LogCol<R> {
    Levels(Vec<R>),
    Direct(R),
}

impl<R: super::dual::Real> LogCol<R> {
    #[inline]
    pub fn get(&self, i: usize, col: &[f64], lv: &Option<Levels>) -> R {
        match self {
            LogCol::Levels(v) => v[lv.as_ref().map_or(0, |l| l.index[i] as usize)],
            LogCol::Direct(c) => (*c + col[i]).ln(),
        }
    }
}

/// Deterministic parallel sum of `f(i)` over 0..n (fixed chunking, sequential combine).
pub fn par_sum<R, F>(n: usize, f: F) -> R
where
    R: super::dual::Real,
    F: Fn(usize) -> R + Sync,
{
    const CHUNK: usize = 8192;
    if n <= CHUNK {
        let mut acc = R::cst(0.0);
        for i in 0..n {
            acc += f(i);
        }
        return acc;
    }
    let parts: Vec<R> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut acc = R::cst(0.0);
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                acc += f(i);
            }
            acc
        })
        .collect();
    let mut acc = R::cst(0.0);
    for p in parts {
        acc += p;
    }
    acc
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
}
