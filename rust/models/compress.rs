//! Rows with identical (frequency, recency, T) are merged into one weighted pattern: the
//! log-likelihood is a weighted sum, so fitting cost grows with distinct patterns, not rows.

use std::sync::OnceLock;

use rayon::prelude::*;

use super::distinct::sort_rows;

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

/// Packs three columns of non-negative whole numbers into one u64, x in the high bits, so
/// that key order is (x, tx, T) order.
struct IntCodec {
    sh_x: u32,
    sh_tx: u32,
    mask_tx: u64,
    mask_t: u64,
}

/// Largest value if every entry is a whole number in [0, 2^53) (−0.0 included), else None.
pub fn whole_max(v: &[f64]) -> Option<f64> {
    const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53: whole f64s are exact below it
    v.par_chunks(1 << 16)
        .map(|c| {
            let mut m = 0.0_f64;
            for &a in c {
                // NaN fails every comparison and lands in the None branch.
                if !((0.0..LIMIT).contains(&a) && a.trunc() == a) {
                    return None;
                }
                m = m.max(a);
            }
            Some(m)
        })
        .try_reduce(|| 0.0, |a, b| Some(a.max(b)))
}

fn bits_for(max: f64) -> u32 {
    64 - (max as u64).leading_zeros()
}

impl IntCodec {
    fn new(x: &[f64], tx: &[f64], t: &[f64]) -> Option<Self> {
        let (bx, btx, bt) = (
            bits_for(whole_max(x)?),
            bits_for(whole_max(tx)?),
            bits_for(whole_max(t)?),
        );
        (bx + btx + bt <= 64).then(|| IntCodec {
            sh_x: btx + bt,
            sh_tx: bt,
            mask_tx: low_mask(btx),
            mask_t: low_mask(bt),
        })
    }
    #[inline]
    fn encode(&self, x: f64, tx: f64, t: f64) -> u64 {
        // Shifts by 64 (a zero-width field above a full-width one) would overflow: use
        // checked shifts; a zero-width field only ever holds 0.
        (x as u64).checked_shl(self.sh_x).unwrap_or(0)
            | (tx as u64).checked_shl(self.sh_tx).unwrap_or(0)
            | t as u64
    }
    #[inline]
    fn decode(&self, k: u64) -> (f64, f64, f64) {
        (
            k.checked_shr(self.sh_x).unwrap_or(0) as f64,
            (k.checked_shr(self.sh_tx).unwrap_or(0) & self.mask_tx) as f64,
            (k & self.mask_t) as f64,
        )
    }
}

fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// A key with a well-mixed 64-bit hash (every bit depends on every input bit, so both the
/// partition bits and the table's own bits are usable).
trait PatternKey: Copy + Eq + Ord + Send + Sync {
    fn hash(&self) -> u64;
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0x243F_6A88_85A3_08D3;

impl PatternKey for u64 {
    #[inline]
    fn hash(&self) -> u64 {
        fold_mul(*self ^ K2, K1)
    }
}

impl PatternKey for [u64; 3] {
    #[inline]
    fn hash(&self) -> u64 {
        let h = fold_mul(self[0] ^ K2, K1);
        let h = fold_mul(h ^ self[1], K1);
        fold_mul(h ^ self[2], K1)
    }
}

impl PatternKey for [u64; 2] {
    #[inline]
    fn hash(&self) -> u64 {
        let h = fold_mul(self[0] ^ K2, K1);
        fold_mul(h ^ self[1], K1)
    }
}

/// Distinct (a, b) pairs of two columns (sorted) and a read-only lookup from a pair to its
/// index, so that per-row passes over them can run in parallel. Small whole numbers (x and
/// T of day-grained summaries) index a dense array; other values a hash table built from the
/// parallel dedupe.
pub struct PairIndex {
    pub uniq: Vec<(f64, f64)>,
    lookup: PairLookup,
}

enum PairLookup {
    /// Pair index at a·width + b (u32::MAX: absent).
    Dense {
        width: usize,
        slot: Vec<u32>,
    },
    Hashed(hashbrown::HashTable<([u64; 2], u32)>),
}

impl PairIndex {
    pub fn new(a: &[f64], b: &[f64]) -> Self {
        const DENSE_MAX: f64 = (1 << 20) as f64;
        if let (Some(ma), Some(mb)) = (whole_max(a), whole_max(b)) {
            if (ma + 1.0) * (mb + 1.0) <= DENSE_MAX {
                let width = mb as usize + 1;
                let mut slot = vec![u32::MAX; (ma as usize + 1) * width];
                for i in 0..a.len() {
                    slot[a[i] as usize * width + b[i] as usize] = 0;
                }
                let mut uniq = Vec::new();
                for (c, s) in slot.iter_mut().enumerate() {
                    if *s == 0 {
                        *s = uniq.len() as u32;
                        uniq.push(((c / width) as f64, (c % width) as f64));
                    }
                }
                return PairIndex {
                    uniq,
                    lookup: PairLookup::Dense { width, slot },
                };
            }
        }
        let key = |i: usize| [(a[i] + 0.0).to_bits(), (b[i] + 0.0).to_bits()];
        let pats = dedupe(a.len(), key, None);
        let mut table = hashbrown::HashTable::with_capacity(pats.len());
        let mut uniq = Vec::with_capacity(pats.len());
        for (j, (k, _)) in pats.into_iter().enumerate() {
            uniq.push((f64::from_bits(k[0]), f64::from_bits(k[1])));
            table.insert_unique(k.hash(), (k, j as u32), |e| e.0.hash());
        }
        PairIndex {
            uniq,
            lookup: PairLookup::Hashed(table),
        }
    }
    /// Index of (a, b) in `uniq` (None only for a pair that was not in the columns).
    #[inline]
    pub fn get(&self, a: f64, b: f64) -> Option<usize> {
        match &self.lookup {
            PairLookup::Dense { width, slot } => {
                if !(a >= 0.0 && b >= 0.0) || b as usize >= *width {
                    return None;
                }
                let j = *slot.get(a as usize * width + b as usize)?;
                (j != u32::MAX).then_some(j as usize)
            }
            PairLookup::Hashed(table) => {
                let k = [(a + 0.0).to_bits(), (b + 0.0).to_bits()];
                table.find(k.hash(), |e| e.0 == k).map(|e| e.1 as usize)
            }
        }
    }
}

/// Distinct (a, b, c) rows in (a, b, c) order and each row's index into them: a parallel
/// dedupe (as `compress`), then a parallel lookup of every row in a table of the distinct
/// rows (the rows are many, the distinct rows few).
pub fn row_patterns(a: &[f64], b: &[f64], c: &[f64]) -> (Vec<(f64, f64, f64)>, Vec<u32>) {
    let key = |i: usize| {
        [
            (a[i] + 0.0).to_bits(),
            (b[i] + 0.0).to_bits(),
            (c[i] + 0.0).to_bits(),
        ]
    };
    let pats = dedupe(a.len(), key, None);
    let mut table = hashbrown::HashTable::with_capacity(pats.len());
    let mut uniq = Vec::with_capacity(pats.len());
    for (j, (k, _)) in pats.into_iter().enumerate() {
        uniq.push((
            f64::from_bits(k[0]),
            f64::from_bits(k[1]),
            f64::from_bits(k[2]),
        ));
        table.insert_unique(k.hash(), (k, j as u32), |e| e.0.hash());
    }
    let idx = (0..a.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let k = key(i);
            // Every row's key is in the table: it was built from these rows.
            table.find(k.hash(), |e| e.0 == k).map_or(0, |e| e.1)
        })
        .collect();
    (uniq, idx)
}

/// Distinct keys of rows 0..n with summed weights (rows of weight 0 dropped), sorted by key.
fn dedupe<K: PatternKey>(
    n: usize,
    key: impl Fn(usize) -> K + Sync,
    w: Option<&[f64]>,
) -> Vec<(K, f64)> {
    use hashbrown::HashTable;
    // Partition by hash bits 32..38: hashbrown uses the low bits (bucket) and the top 7
    // (tag), so a partition's keys still spread over its table.
    const PBITS: u32 = 6;
    const P: usize = 1 << PBITS;
    const CHUNK: usize = 1 << 16;
    let part = |h: u64| ((h >> 32) as usize) & (P - 1);
    let scattered: Vec<Vec<Vec<(K, f64)>>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let rows = c * CHUNK..((c + 1) * CHUNK).min(n);
            let mut b: Vec<Vec<(K, f64)>> = (0..P)
                .map(|_| Vec::with_capacity(rows.len() / P + 64))
                .collect();
            for i in rows {
                let wi = w.map_or(1.0, |w| w[i]);
                if wi != 0.0 {
                    let k = key(i);
                    b[part(k.hash())].push((k, wi));
                }
            }
            b
        })
        .collect();
    let mut pats: Vec<(K, f64)> = (0..P)
        .into_par_iter()
        .flat_map_iter(|p| {
            let mut tab: HashTable<(K, f64)> = HashTable::new();
            // Chunks in row order: a pattern's weights are summed in row order.
            for chunk in &scattered {
                for &(k, wi) in &chunk[p] {
                    let h = k.hash();
                    match tab.find_mut(h, |e| e.0 == k) {
                        Some(e) => e.1 += wi,
                        None => {
                            tab.insert_unique(h, (k, wi), |e| e.0.hash());
                        }
                    }
                }
            }
            tab.into_iter()
        })
        .collect();
    pats.par_sort_unstable_by_key(|p| p.0);
    pats
}

/// A small multiplicative hasher (FxHash): keys here are bit patterns of floats.
#[derive(Default)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    /// Folded 128-bit product: a plain multiply only carries bits upwards, and whole-number
    /// floats have all-zero low mantissa bits, so without this every key of a day-grained
    /// summary landed in the same few buckets of the table (which indexes by low bits).
    fn finish(&self) -> u64 {
        fold_mul(self.0, K1)
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

/// Rows from which `index_columns` first estimates a column's distinct values from a sample.
const SAMPLE_FROM: usize = 1 << 17;

/// Estimated share of distinct keys among n rows (D/n) from a sample of about 16·√n rows
/// (at least 8192; one random row from each of that many equal strata, so a column's
/// periodicity cannot line up with the sample), or None below `SAMPLE_FROM` rows. Why:
/// building levels or pairs of a column where nearly every row differs (continuous times)
/// sorts or hashes every row only to find too many; this tells beforehand, for a few
/// thousand rows' work. Keys seen 3+ times in the sample are frequent values (x = 0's
/// t_x = 0) and count once each; among the rest (share ρ of the sample), c₂ keys seen twice
/// estimate their mean frequency f = 1 + 2·c₂·n/(L·m) (L rows, m sampled; exact in
/// expectation when those keys share one frequency), and D ≈ frequent + ρ·n/f. A wrong
/// estimate costs speed only: levels and pairs change how often a logarithm is taken, not its
/// value.
fn distinct_share(n: usize, key: impl Fn(usize) -> (u64, u64)) -> Option<f64> {
    if n < SAMPLE_FROM {
        return None;
    }
    let m = ((16.0 * (n as f64).sqrt()) as usize).max(8192).min(n);
    let stride = n / m;
    let mut s: u64 = 0x2545_F491_4F6C_DD1D;
    let mut keys: Vec<(u64, u64)> = (0..m)
        .map(|k| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            key(k * stride + (s % stride as u64) as usize)
        })
        .collect();
    keys.sort_unstable();
    let (mut frequent, mut light, mut twice) = (0.0, 0.0, 0.0);
    for run in keys.chunk_by(|a, b| a == b) {
        match run.len() {
            1 => light += 1.0,
            2 => {
                light += 2.0;
                twice += 1.0;
            }
            _ => frequent += 1.0,
        }
    }
    let (n, m) = (n as f64, m as f64);
    if light == 0.0 {
        return Some(frequent / n);
    }
    let f = 1.0 + 2.0 * twice * n / (light * m);
    Some((frequent + light / m * n / f) / n)
}

fn levels(v: &[f64]) -> Option<Levels> {
    // Levels need D <= n/4; the estimate's error is ~0.01 there.
    if distinct_share(v.len(), |i| ((v[i] + 0.0).to_bits(), 0)).is_some_and(|s| s > 0.3) {
        return None;
    }
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
    // Pairs need D <= n/2; a wrong guess just above that forgoes little.
    if distinct_share(x.len(), |i| (x[i].to_bits(), t[i].to_bits())).is_some_and(|s| s > 0.53) {
        return None;
    }
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
    fn pair_index_finds_every_pair_dense_or_hashed() {
        let a = [3.0, 0.0, 3.0, 1.0, 0.0];
        for b in [vec![7.0, 2.0, 7.0, 2.0, 5.0], vec![0.5, 2.0, 0.5, 2.0, 5.0]] {
            let ix = PairIndex::new(&a, &b);
            let mut expect: Vec<(f64, f64)> = a.iter().copied().zip(b.iter().copied()).collect();
            expect.sort_by(|p, q| p.partial_cmp(q).unwrap());
            expect.dedup();
            assert_eq!(ix.uniq, expect);
            for i in 0..a.len() {
                assert_eq!(ix.uniq[ix.get(a[i], b[i]).unwrap()], (a[i], b[i]));
            }
            assert_eq!(ix.get(2.0, 2.0), None);
            assert_eq!(ix.get(1.0, 9.0), None);
        }
    }

    #[test]
    fn a_sample_skips_levels_and_pairs_only_where_they_cannot_exist() {
        let n = 300_000;
        let mut s: u64 = 11;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let cont: Vec<f64> = (0..n).map(|_| 30.0 + 1000.0 * next()).collect();
        let x: Vec<f64> = (0..n).map(|i| (i % 5) as f64).collect();
        assert!(levels(&cont).is_none() && pairs(&x, &cont).is_none());
        // A value per 4 rows (the most levels allows), in an order that repeats with the
        // sampling stride: still found.
        let quarter: Vec<f64> = (0..n).map(|i| ((i * 7919) % (n / 4)) as f64).collect();
        assert_eq!(levels(&quarter).unwrap().values.len(), n / 4);
        let third: Vec<f64> = (0..n).map(|i| (i % (n / 3)) as f64).collect();
        let zeros = vec![0.0; n];
        assert_eq!(pairs(&zeros, &third).unwrap().0.len(), n / 3);
        // x = 0 rows (t_x = 0, nearly half) among continuous ones: no levels, no pairs.
        let tx: Vec<f64> = (0..n)
            .map(|i| if i % 9 < 4 { 0.0 } else { cont[i] })
            .collect();
        assert!(levels(&tx).is_none() && pairs(&x, &tx).is_none());
        let est = distinct_share(n, |i| (tx[i].to_bits(), 0)).unwrap();
        assert!((est - 5.0 / 9.0).abs() < 0.02, "{est}");
        let whole: Vec<f64> = (0..n).map(|i| 180.0 + (i % 91) as f64).collect();
        assert_eq!(levels(&whole).unwrap().values.len(), 91);
    }

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
