//! Keys for merging identical rows: three whole-number columns packed into one u64 (`IntCodec`),
//! or the columns' bit patterns; a well-mixed hash of either; and the parallel dedupe that
//! `compress`, `row_patterns` and `PairIndex` share (scatter rows into hash partitions per
//! chunk, then deduplicate each partition in its own cache-resident table).

use rayon::prelude::*;

/// Packs three columns of non-negative whole numbers into one u64, x in the high bits, so
/// that key order is (x, tx, T) order.
pub(crate) struct IntCodec {
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
    pub(crate) fn new(x: &[f64], tx: &[f64], t: &[f64]) -> Option<Self> {
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
    pub(crate) fn encode(&self, x: f64, tx: f64, t: f64) -> u64 {
        // Shifts by 64 (a zero-width field above a full-width one) would overflow: use
        // checked shifts; a zero-width field only ever holds 0.
        (x as u64).checked_shl(self.sh_x).unwrap_or(0)
            | (tx as u64).checked_shl(self.sh_tx).unwrap_or(0)
            | t as u64
    }
    #[inline]
    pub(crate) fn decode(&self, k: u64) -> (f64, f64, f64) {
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
pub(crate) trait PatternKey: Copy + Eq + Ord + Send + Sync {
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
pub(crate) fn dedupe<K: PatternKey>(
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
}
