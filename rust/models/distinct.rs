//! Compression of rows that are nearly all distinct (continuous purchase times: a pattern per
//! customer), by sorting them. Why not a comparison sort of (x, t_x, T) keys: on a million
//! rows it cost more than the BG/NBD fit it prepares. Here x, a count, is sorted by counting
//! (one pass), and each x's rows by the bits of T with a least-significant-digit radix sort
//! (a handful of passes over 12-byte items, the x groups in parallel); only rows with equal
//! x and T, rare in such data, are compared on t_x. The output order is (x, T, t_x): like
//! `compress`'s (x, t_x, T) it does not depend on the input order, and it groups rows by x,
//! which the likelihood kernels read in runs.

use rayon::prelude::*;

/// Merged rows: (x, t_x, T, weight) columns.
pub type Columns = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// Distinct (x, t_x, T) rows with summed weights (rows of weight 0 dropped, equal rows summed
/// in row order), sorted by (x, T, t_x); None unless x holds whole numbers up to `x_max` and
/// there are fewer than 2^32 rows (then `compress` takes its general path).
pub fn sort_rows(
    x: &[f64],
    tx: &[f64],
    t: &[f64],
    w: Option<&[f64]>,
    x_max: f64,
) -> Option<Columns> {
    let n = x.len();
    if n >= u32::MAX as usize || x_max as usize > n {
        return None;
    }
    let weight = |i: usize| w.map_or(1.0, |w| w[i]);
    // Counting sort by x: group starts, then (T bits, row) scattered in row order.
    let mut start = vec![0usize; x_max as usize + 2];
    for i in 0..n {
        if weight(i) != 0.0 {
            start[x[i] as usize + 1] += 1;
        }
    }
    for k in 0..start.len() - 1 {
        start[k + 1] += start[k];
    }
    let m = start[start.len() - 1];
    let mut keys = vec![0u64; m];
    let mut rows = vec![0u32; m];
    let mut at = start.clone();
    for i in 0..n {
        if weight(i) != 0.0 {
            let s = &mut at[x[i] as usize];
            // +0.0 turns −0.0 into +0.0; non-negative floats order like their bits.
            keys[*s] = (t[i] + 0.0).to_bits();
            rows[*s] = i as u32;
            *s += 1;
        }
    }
    // Each x group sorted by T (stable: equal T stay in row order), in parallel.
    let mut groups = Vec::new();
    let (mut kr, mut rr) = (&mut keys[..], &mut rows[..]);
    for g in start.windows(2) {
        let (k, krest) = kr.split_at_mut(g[1] - g[0]);
        let (r, rrest) = rr.split_at_mut(g[1] - g[0]);
        if k.len() > 1 {
            groups.push((k, r));
        }
        (kr, rr) = (krest, rrest);
    }
    groups.into_par_iter().for_each(|(k, r)| radix_sort(k, r));
    let txk = |i: u32| (tx[i as usize] + 0.0).to_bits();
    // Rows with equal x and T (rare here) ordered by t_x, then row.
    let mut ties = false;
    for g in start.windows(2) {
        let (k, r) = (&keys[g[0]..g[1]], &mut rows[g[0]..g[1]]);
        let mut a = 0;
        while a < k.len() {
            let b = a + k[a..].iter().take_while(|&&v| v == k[a]).count();
            if b - a > 1 {
                r[a..b].sort_unstable_by_key(|&i| (txk(i), i));
                ties = true;
            }
            a = b;
        }
    }
    // Gathers in a loop of their own (independent loads overlap), in parallel.
    let otx: Vec<f64> = rows
        .par_iter()
        .with_min_len(1 << 14)
        .map(|&i| f64::from_bits(txk(i)))
        .collect();
    let ow: Vec<f64> = rows
        .par_iter()
        .with_min_len(1 << 14)
        .map(|&i| weight(i as usize))
        .collect();
    let mut ox = vec![0.0; m];
    for (xv, g) in start.windows(2).enumerate() {
        ox[g[0]..g[1]].fill(xv as f64);
    }
    let ot: Vec<f64> = keys.into_iter().map(f64::from_bits).collect();
    let cols = (ox, otx, ot, ow);
    Some(if ties { merge_equal(cols) } else { cols })
}

/// Adjacent equal rows merged into one, weights summed in order.
fn merge_equal((x, tx, t, w): Columns) -> Columns {
    let mut out: Columns = Default::default();
    for j in 0..x.len() {
        if j > 0 && (x[j], tx[j], t[j]) == (x[j - 1], tx[j - 1], t[j - 1]) {
            *out.3.last_mut().expect("a row before") += w[j];
        } else {
            out.0.push(x[j]);
            out.1.push(tx[j]);
            out.2.push(t[j]);
            out.3.push(w[j]);
        }
    }
    out
}

/// Stable least-significant-digit radix sort of `keys`, carrying `rows`, 11 bits per pass;
/// digits that are the same in every key (the sign and most exponent bits of times in one
/// range) cost no pass.
fn radix_sort(keys: &mut [u64], rows: &mut [u32]) {
    const BITS: usize = 11;
    const B: usize = 1 << BITS;
    const DIGITS: usize = 64usize.div_ceil(BITS);
    let n = keys.len();
    let mut hist = vec![[0u32; B]; DIGITS];
    for &k in keys.iter() {
        for (d, h) in hist.iter_mut().enumerate() {
            h[((k >> (BITS * d)) as usize) & (B - 1)] += 1;
        }
    }
    let (mut k2, mut r2) = (vec![0u64; n], vec![0u32; n]);
    let mut in_place = true;
    for (d, h) in hist.iter_mut().enumerate() {
        if h.iter().any(|&c| c as usize == n) {
            continue;
        }
        let mut s = 0u32;
        for c in h.iter_mut() {
            (*c, s) = (s, s + *c);
        }
        let (src_k, src_r, dst_k, dst_r): (&[u64], &[u32], &mut [u64], &mut [u32]) = if in_place {
            (keys, rows, &mut k2, &mut r2)
        } else {
            (&k2, &r2, keys, rows)
        };
        for j in 0..n {
            let k = src_k[j];
            let b = ((k >> (BITS * d)) as usize) & (B - 1);
            let p = h[b] as usize;
            h[b] += 1;
            dst_k[p] = k;
            dst_r[p] = src_r[j];
        }
        in_place = !in_place;
    }
    if !in_place {
        keys.copy_from_slice(&k2);
        rows.copy_from_slice(&r2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_is_a_stable_sort() {
        let mut s: u64 = 11;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s
        };
        for n in [0, 1, 2, 5, 1000, 70_000] {
            // few distinct high parts (ties), full-width low parts, one constant digit
            let keys: Vec<u64> = (0..n)
                .map(|_| {
                    let v = next();
                    ((v >> 60) << 50) | (v & 0xffff) | (1 << 63)
                })
                .collect();
            let (mut k, mut r): (Vec<u64>, Vec<u32>) = (keys.clone(), (0..n as u32).collect());
            radix_sort(&mut k, &mut r);
            let mut want: Vec<(u64, u32)> = keys.iter().copied().zip(0..n as u32).collect();
            want.sort();
            assert_eq!(k, want.iter().map(|p| p.0).collect::<Vec<_>>());
            assert_eq!(r, want.iter().map(|p| p.1).collect::<Vec<_>>());
        }
    }
}
