//! Cluster-bootstrap counts: the hot path of resampling survey answers by respondent.
//!
//! A Kano bootstrap resamples *respondents* (each answered every feature, so answers of one
//! respondent are not independent) and recounts the answers per group (feature × category).
//! Materialising each resample as rows (a join of the drawn respondents with their answers)
//! costs B × N rows; here a resample is a weight per respondent — how many times it was drawn
//! (a multinomial(R, 1/R) vector, filled by R uniform draws) — and the group counts are
//! `Σ_answers weight[respondent]`, one pass over the answers. Cost B·(R + N) additions and
//! memory R + B·G counters, whatever the size of the survey.
//!
//! Layout: `cluster[i]` (respondent index 0..R) and `group[i]` (0..G) per answer, as two
//! UInt32 columns; the output is B·G counts, resample-major (resample b's G counts are
//! contiguous), so the caller reshapes without copying. Resamples are split over threads in
//! blocks, each block seeded from (seed, block index) so results do not depend on the thread
//! count.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, UInt32Array};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{reject_nulls, single_chunk, ArrowStream};
use crate::error::core_err;
use crate::models::rng::Rng;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bootstrap_counts, m)?)?;
    Ok(())
}

/// Resamples per seeded block: small enough to spread over threads, large enough that the
/// per-block weight vector is reused.
const BLOCK: usize = 16;

/// Group counts of `resamples` cluster-bootstrap resamples (see the module comment).
/// `clusters` is R (every `cluster[i] < R`), `groups` is G (every `group[i] < G`).
pub fn counts(
    cluster: &[u32],
    group: &[u32],
    clusters: usize,
    groups: usize,
    resamples: usize,
    seed: u64,
) -> Vec<u32> {
    let mut out = vec![0u32; resamples * groups];
    out.par_chunks_mut(BLOCK * groups.max(1))
        .enumerate()
        .for_each(|(block, chunk)| {
            let mut rng = Rng::new(seed ^ (block as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut weight = vec![0u32; clusters];
            for counts in chunk.chunks_mut(groups.max(1)) {
                weight.iter_mut().for_each(|w| *w = 0);
                for _ in 0..clusters {
                    // multiply-shift: an unbiased-enough index for R far below 2^32
                    let r = ((rng.next_u64() >> 32) * clusters as u64) >> 32;
                    weight[r as usize] += 1;
                }
                for (&c, &g) in cluster.iter().zip(group) {
                    counts[g as usize] += weight[c as usize];
                }
            }
        });
    out
}

fn u32_column(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<ArrayRef> {
    let arr = single_chunk(obj, what)?;
    reject_nulls(arr.as_ref(), what)?;
    if arr.as_any().downcast_ref::<UInt32Array>().is_none() {
        return Err(core_err(format!(
            "column '{what}': expected UInt32, got {}",
            arr.data_type()
        )));
    }
    Ok(arr)
}

/// Cluster-bootstrap counts: an Arrow stream with one UInt32 column `count` of
/// `resamples × groups` values, resample-major. `cluster` and `group` are UInt32 columns of
/// equal length with values below `clusters` and `groups`.
#[pyfunction]
#[pyo3(signature = (cluster, group, *, clusters, groups, resamples, seed))]
pub fn bootstrap_counts(
    py: Python<'_>,
    cluster: &Bound<'_, PyAny>,
    group: &Bound<'_, PyAny>,
    clusters: usize,
    groups: usize,
    resamples: usize,
    seed: u64,
) -> PyResult<ArrowStream> {
    let c = u32_column(cluster, "cluster")?;
    let g = u32_column(group, "group")?;
    let c = c.as_any().downcast_ref::<UInt32Array>().expect("checked");
    let g = g.as_any().downcast_ref::<UInt32Array>().expect("checked");
    if c.len() != g.len() {
        return Err(core_err(format!(
            "column 'group': {} rows, but 'cluster' has {}",
            g.len(),
            c.len()
        )));
    }
    if clusters == 0 || groups == 0 {
        return Err(core_err(
            "bootstrap needs at least one cluster and one group",
        ));
    }
    if let Some(i) = c.values().iter().position(|&v| v as usize >= clusters) {
        return Err(core_err(format!(
            "column 'cluster': value {} at row {} is not below clusters = {clusters}",
            c.value(i),
            i + 1
        )));
    }
    if let Some(i) = g.values().iter().position(|&v| v as usize >= groups) {
        return Err(core_err(format!(
            "column 'group': value {} at row {} is not below groups = {groups}",
            g.value(i),
            i + 1
        )));
    }
    // u32 counts: a group count is at most the number of answers, which fits in u32 here.
    if c.len() > u32::MAX as usize {
        return Err(core_err("bootstrap: more than 2^32 answers"));
    }
    let (cv, gv) = (c.values().as_ref(), g.values().as_ref());
    let out = py.detach(|| counts(cv, gv, clusters, groups, resamples, seed));
    ArrowStream::from_columns(vec![("count", Arc::new(UInt32Array::from(out)))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resample_redistributes_all_clusters() {
        // 3 respondents, 2 answers each, groups 0/1: each resample's counts sum to R·2 = 6,
        // and group 0 (one answer per respondent) sums to R = 3.
        let cluster = [0, 0, 1, 1, 2, 2];
        let group = [0, 1, 0, 1, 0, 1];
        let out = counts(&cluster, &group, 3, 2, 100, 7);
        for b in out.chunks(2) {
            assert_eq!(b[0], 3);
            assert_eq!(b[1], 3);
        }
    }

    #[test]
    fn weights_follow_the_multinomial_mean() {
        // one answer per respondent, each in its own group: a group's count is the draw count
        // of its respondent, mean 1 over resamples.
        let r = 50;
        let cluster: Vec<u32> = (0..r).collect();
        let out = counts(&cluster, &cluster, r as usize, r as usize, 4000, 1);
        for g in 0..r as usize {
            let mean: f64 = out.chunks(r as usize).map(|b| b[g] as f64).sum::<f64>() / 4000.0;
            assert!((mean - 1.0).abs() < 0.08, "group {g}: mean {mean}");
        }
    }

    #[test]
    fn seeded_and_thread_independent() {
        let cluster: Vec<u32> = (0..20).map(|i| i % 5).collect();
        let group: Vec<u32> = (0..20).map(|i| i % 3).collect();
        let a = counts(&cluster, &group, 5, 3, 37, 11);
        let b = counts(&cluster, &group, 5, 3, 37, 11);
        assert_eq!(a, b);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let c = pool.install(|| counts(&cluster, &group, 5, 3, 37, 11));
        assert_eq!(a, c);
        assert_ne!(a, counts(&cluster, &group, 5, 3, 37, 12));
    }
}
