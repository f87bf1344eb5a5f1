//! Per-column indexes that let a likelihood take a logarithm once per distinct value instead
//! of once per row: the distinct levels of recency and T, distinct (x, T) and (x, t_x) pairs,
//! and a sampled estimate of a column's distinct share that tells beforehand when building
//! them is wasted work (continuous times). Also the deterministic parallel sum every
//! likelihood uses.

use rayon::prelude::*;

use super::dedupe::FxHasher;

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
pub(crate) fn distinct_share(n: usize, key: impl Fn(usize) -> (u64, u64)) -> Option<f64> {
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

pub(crate) fn levels(v: &[f64]) -> Option<Levels> {
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

pub(crate) fn pairs(x: &[f64], t: &[f64]) -> Option<Pairs> {
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
}
