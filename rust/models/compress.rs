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
/// by (x, tx, T) so results do not depend on input order.
pub fn compress(x: &[f64], tx: &[f64], t: &[f64], w: Option<&[f64]>) -> Data {
    let n = x.len();
    let mut idx: Vec<u32> = (0..n as u32).collect();
    let key = |i: u32| {
        let i = i as usize;
        (
            x[i].to_bits(),
            // Order-preserving for non-negative floats, which is all we see here.
            tx[i].to_bits(),
            t[i].to_bits(),
        )
    };
    idx.par_sort_unstable_by_key(|&i| key(i));
    let mut out = Data::default();
    let mut last: Option<(u64, u64, u64)> = None;
    for &i in &idx {
        let wi = w.map_or(1.0, |w| w[i as usize]);
        if wi == 0.0 {
            continue;
        }
        let k = key(i);
        if last == Some(k) {
            *out.w.last_mut().unwrap() += wi;
        } else {
            out.x.push(x[i as usize]);
            out.tx.push(tx[i as usize]);
            out.t.push(t[i as usize]);
            out.w.push(wi);
            last = Some(k);
        }
    }
    out
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
