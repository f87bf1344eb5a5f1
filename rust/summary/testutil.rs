//! Test logs shared by the kernel's test modules.

use super::customer::{Config, Customer};
use super::kernel::summarize;
use super::keys::KeyAccess;
use super::log::{Log, TimeAccess};

pub fn run<K: KeyAccess, T: TimeAccess>(
    k: K,
    t: T,
    a: Option<&[f64]>,
    cfg: &Config,
) -> Vec<Customer> {
    summarize(&Log::single(k, t, a).expect("aligned"), cfg, true)
}

pub fn day_cfg(end: i64, cal: Option<i64>) -> Config {
    Config {
        period: 1,
        offset: 0,
        end_period: end,
        cal_period: cal.unwrap_or(end),
    }
}

pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// A random unsorted log: keys in -n_cust..n_cust, days 0..400, amounts in eighths.
pub fn random_log(n: usize, n_cust: u64, seed: u64) -> (Vec<i64>, Vec<i32>, Vec<f64>) {
    let mut r = Lcg(seed);
    let k = (0..n)
        .map(|_| (r.next() % (2 * n_cust)) as i64 - n_cust as i64)
        .collect();
    let t = (0..n).map(|_| (r.next() % 400) as i32).collect();
    let a = (0..n)
        .map(|_| (r.next() % 1000) as f64 / 8.0 - 20.0)
        .collect();
    (k, t, a)
}

/// The stable order of `keys` (rows of one key stay ascending) and the sorted keys.
pub fn sorted_by_key<X: Ord + Clone>(keys: &[X]) -> (Vec<usize>, Vec<X>) {
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    idx.sort_by_key(|&i| keys[i].clone());
    let sorted = idx.iter().map(|&i| keys[i].clone()).collect();
    (idx, sorted)
}

/// Chunk lengths that sum to n, with an empty chunk and uneven sizes.
pub fn cuts(n: usize) -> Vec<usize> {
    vec![0, n / 7, 0, n / 3, 1, n - n / 7 - n / 3 - 1]
}

pub fn split<'a, X>(v: &'a [X], lens: &[usize]) -> Vec<&'a [X]> {
    let mut out = Vec::new();
    let mut rest = v;
    for &l in lens {
        let (a, b) = rest.split_at(l);
        out.push(a);
        rest = b;
    }
    out
}
