//! One output vector filled from consecutive input slices on all threads.
//!
//! Kept apart from the pieces and the key columns that both use it, so neither has to import
//! the other: it knows nothing of customers or keys.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Items per task when filling a column: large enough that a task's overhead is noise, small
/// enough that one big piece (the hash path's single piece) still spreads over the threads.
const FILL_GRAIN: usize = 1 << 14;

/// `f` of every item of `parts`, read one part after the other, as one vector. Each output
/// slot is written once, by whichever thread maps its input, so the output's pages are also
/// faulted in on all threads.
pub fn par_fill<S: Sync, T: Send>(parts: &[&[S]], f: impl Fn(&S) -> T + Sync) -> Vec<T> {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    let mut out: Vec<T> = Vec::with_capacity(n);
    {
        let mut rest: &mut [MaybeUninit<T>] = &mut out.spare_capacity_mut()[..n];
        let mut dst: Vec<&mut [MaybeUninit<T>]> = Vec::with_capacity(parts.len());
        for p in parts {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(p.len());
            dst.push(head);
            rest = tail;
        }
        let f = &f;
        parts.par_iter().zip(dst).for_each(|(p, d)| {
            p.par_iter()
                .zip(d.par_iter_mut())
                .with_min_len(FILL_GRAIN)
                .for_each(|(s, o)| {
                    o.write(f(s));
                });
        });
    }
    // SAFETY: the slices in `dst` tile 0..n exactly and every slot was written above (a panic
    // in `f` unwinds before this line, leaving the length 0).
    unsafe { out.set_len(n) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_fill_reads_parts_in_order() {
        let a: Vec<u32> = (0..50_000).collect();
        let b: Vec<u32> = Vec::new();
        let c: Vec<u32> = (50_000..50_003).collect();
        let got = par_fill(&[&a[..], &b[..], &c[..], &b[..]], |&x| u64::from(x) * 2);
        let want: Vec<u64> = (0..50_003u64).map(|x| x * 2).collect();
        assert_eq!(got, want);
        assert!(par_fill::<u32, u8>(&[], |_| 0).is_empty());
    }
}
