//! The transaction log as the kernels read it: aligned column chunks, rows numbered globally.
//!
//! Chunk `c` of every column covers the same rows, so a chunked Polars frame (e.g. read from
//! Parquet) is summarised without first copying it into one contiguous buffer.

use super::keys::KeyAccess;

/// Timestamps as integers (days for dates, the datetime's own tick otherwise).
pub trait TimeAccess: Sync {
    /// The stored value (kept at its own width when rows are scattered: 4 bytes for dates).
    type Raw: Copy + Send + Sync + Into<i64>;
    fn raw(&self, i: usize) -> Self::Raw;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    #[inline]
    fn at(&self, i: usize) -> i64 {
        self.raw(i).into()
    }
}
impl TimeAccess for &[i64] {
    type Raw = i64;
    #[inline]
    fn raw(&self, i: usize) -> i64 {
        self[i]
    }
    fn len(&self) -> usize {
        <[i64]>::len(self)
    }
}
impl TimeAccess for &[i32] {
    type Raw = i32;
    #[inline]
    fn raw(&self, i: usize) -> i32 {
        self[i]
    }
    fn len(&self) -> usize {
        <[i32]>::len(self)
    }
}

/// One transaction log as aligned column chunks: chunk `c` of every column holds the same rows
/// (global rows `starts[c]..starts[c + 1]`).
pub struct Log<'a, K, T> {
    pub(crate) keys: Vec<K>,
    pub(crate) times: Vec<T>,
    pub(crate) amounts: Option<Vec<&'a [f64]>>,
    /// Global row of each chunk's first row, and the total row count last.
    pub(crate) starts: Vec<usize>,
}

impl<'a, K: KeyAccess, T: TimeAccess> Log<'a, K, T> {
    /// `None` unless every column has the same chunk lengths.
    pub fn new(keys: Vec<K>, times: Vec<T>, amounts: Option<Vec<&'a [f64]>>) -> Option<Self> {
        if times.len() != keys.len() || amounts.as_ref().is_some_and(|a| a.len() != keys.len()) {
            return None;
        }
        let mut starts = Vec::with_capacity(keys.len() + 1);
        starts.push(0);
        let mut acc = 0usize;
        for (c, k) in keys.iter().enumerate() {
            let m = k.len();
            if times[c].len() != m || amounts.as_ref().is_some_and(|a| a[c].len() != m) {
                return None;
            }
            acc += m;
            starts.push(acc);
        }
        Some(Self {
            keys,
            times,
            amounts,
            starts,
        })
    }

    /// A log of one chunk per column (`None` if the lengths differ).
    pub fn single(keys: K, times: T, amounts: Option<&'a [f64]>) -> Option<Self> {
        Self::new(vec![keys], vec![times], amounts.map(|a| vec![a]))
    }

    pub fn len(&self) -> usize {
        self.starts[self.starts.len() - 1]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key at a global row (a binary search over chunks: for boundaries, not per row).
    pub(crate) fn val(&self, row: usize) -> K::Val<'_> {
        let c = self.starts.partition_point(|&s| s <= row) - 1;
        self.keys[c].val(row - self.starts[c])
    }

    /// Calls `f(chunk, lo, hi, base)` for the pieces of global rows `a..b`, in order: local rows
    /// `lo..hi` of chunk `chunk`, whose local row 0 is global row `base`. Per-row loops go inside
    /// `f`, with the chunk's columns hoisted.
    #[inline]
    pub(crate) fn for_spans(
        &self,
        a: usize,
        b: usize,
        mut f: impl FnMut(usize, usize, usize, usize),
    ) {
        if a >= b {
            return;
        }
        let mut c = self.starts.partition_point(|&s| s <= a) - 1;
        let mut row = a;
        while row < b {
            let base = self.starts[c];
            let end = self.starts[c + 1].min(b);
            if end > row {
                f(c, row - base, end - base, base);
                row = end;
            }
            c += 1;
        }
    }

    #[inline]
    pub(crate) fn amounts_of(&self, c: usize) -> Option<&'a [f64]> {
        self.amounts.as_ref().map(|a| a[c])
    }
}
