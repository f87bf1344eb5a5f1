//! Customer keys as the kernels see them: integer or string columns, hashed and compared by
//! row index so one generic kernel serves every layout without copying the column.

use std::cmp::Ordering;

use arrow_array::{Array, ArrayRef, Int64Array, LargeStringArray, StringArray, StringViewArray};
use rayon::prelude::*;

pub use super::dispatch::supported_key_type;
use super::fill::par_fill;

/// Row-indexed access to a key column. Implementations must be cheap to call per row.
pub trait KeyAccess: Sync {
    /// A key value, cheap to copy and compare (the integer itself, or the string's bytes), so
    /// per-partition tables compare against local copies instead of re-reading the column.
    /// Its order is the key order (numeric for integers, bytewise for strings).
    type Val<'a>: Ord + Copy + Send + Sync
    where
        Self: 'a;
    fn val(&self, i: usize) -> Self::Val<'_>;
    fn len(&self) -> usize;
    fn key_hash(&self, i: usize) -> u64;
    /// The hash of a key value (equal to `key_hash` of its row).
    fn val_hash(v: Self::Val<'_>) -> u64;
    fn key_eq(&self, i: usize, j: usize) -> bool;
    fn key_cmp(&self, i: usize, j: usize) -> Ordering;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The key values (pieces read one after the other) as an Arrow column, when that is
    /// cheaper than the caller gathering the keys from the input rows (integers: the values
    /// are already at hand). `None`: gather.
    fn key_array(_vals: Vec<Vec<Self::Val<'_>>>) -> Option<ArrayRef> {
        None
    }
    /// Whether [`KeyAccess::val_prefix`] helps sorting (keys compared through pointers).
    const PREFIXED: bool = false;
    /// A `u64` whose order agrees with the key order (`a < b` implies `prefix(a) <=
    /// prefix(b)`): sorting by (prefix, key) settles most comparisons without dereferencing.
    fn val_prefix(_v: Self::Val<'_>) -> u64 {
        0
    }
    /// The permutation that sorts `rows` by their keys (ties: input order).
    fn order(&self, rows: &[u32]) -> Vec<u32> {
        let mut idx: Vec<u32> = (0..rows.len() as u32).collect();
        idx.par_sort_by(|&a, &b| {
            self.key_cmp(rows[a as usize] as usize, rows[b as usize] as usize)
        });
        idx
    }
}

/// Murmur3's 64-bit finaliser: a strong, cheap mixer (every input bit affects every output bit),
/// so both the partition bits and the hash-table bits can be taken from one hash.
#[inline]
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// A fast non-cryptographic byte hash (word-at-a-time multiply-rotate, finalised with fmix64).
#[inline]
pub fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rem.len()].copy_from_slice(rem);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    fmix64(h)
}

impl KeyAccess for &[i64] {
    type Val<'a>
        = i64
    where
        Self: 'a;
    #[inline]
    fn val(&self, i: usize) -> i64 {
        self[i]
    }
    fn len(&self) -> usize {
        <[i64]>::len(self)
    }
    #[inline]
    fn key_hash(&self, i: usize) -> u64 {
        fmix64(self[i] as u64)
    }
    #[inline]
    fn val_hash(v: i64) -> u64 {
        fmix64(v as u64)
    }
    #[inline]
    fn key_eq(&self, i: usize, j: usize) -> bool {
        self[i] == self[j]
    }
    #[inline]
    fn key_cmp(&self, i: usize, j: usize) -> Ordering {
        self[i].cmp(&self[j])
    }
    fn key_array(mut vals: Vec<Vec<i64>>) -> Option<ArrayRef> {
        let vals = if vals.len() == 1 {
            // the vector becomes the array's buffer: no copy
            vals.pop().expect("one piece")
        } else {
            let parts: Vec<&[i64]> = vals.iter().map(Vec::as_slice).collect();
            par_fill(&parts, |&v| v)
        };
        Some(std::sync::Arc::new(Int64Array::from(vals)))
    }
    fn order(&self, rows: &[u32]) -> Vec<u32> {
        let mut v: Vec<(i64, u32)> = rows
            .iter()
            .enumerate()
            .map(|(i, &r)| (self[r as usize], i as u32))
            .collect();
        v.par_sort_unstable();
        v.into_iter().map(|x| x.1).collect()
    }
}

/// String keys of any Arrow string layout; comparison is bytewise (Polars' string order).
pub trait StrAt: Sync {
    fn n(&self) -> usize;
    fn at(&self, i: usize) -> &[u8];
    /// Whether rows `i` and `j` hold the same string.
    #[inline]
    fn same(&self, i: usize, j: usize) -> bool {
        self.at(i) == self.at(j)
    }
}

impl StrAt for StringArray {
    fn n(&self) -> usize {
        self.len()
    }
    #[inline]
    fn at(&self, i: usize) -> &[u8] {
        self.value(i).as_bytes()
    }
}
impl StrAt for LargeStringArray {
    fn n(&self) -> usize {
        self.len()
    }
    #[inline]
    fn at(&self, i: usize) -> &[u8] {
        self.value(i).as_bytes()
    }
}
impl StrAt for StringViewArray {
    fn n(&self) -> usize {
        self.len()
    }
    #[inline]
    fn at(&self, i: usize) -> &[u8] {
        self.value(i).as_bytes()
    }
    /// Views first: equal views are equal strings (inline bytes, or the same buffer range),
    /// and a different length or 4-byte prefix (the view's low 64 bits; Arrow pads short
    /// strings with zeros) settles most other pairs without reading the data buffers.
    /// Neighbouring rows of a sorted log are compared this way once per row.
    #[inline]
    fn same(&self, i: usize, j: usize) -> bool {
        let views = self.views();
        let (a, b) = (views[i], views[j]);
        if a == b {
            return true;
        }
        if a as u64 != b as u64 {
            return false;
        }
        self.at(i) == self.at(j)
    }
}

pub struct StrKeys<'a, S: StrAt>(pub &'a S);

impl<S: StrAt> KeyAccess for StrKeys<'_, S> {
    type Val<'a>
        = &'a [u8]
    where
        Self: 'a;
    const PREFIXED: bool = true;
    /// The first 8 bytes, big-endian, zero-padded (zero is the least byte, so a shorter
    /// string never gets a larger prefix than one it is a prefix of).
    #[inline]
    fn val_prefix(v: &[u8]) -> u64 {
        let mut buf = [0u8; 8];
        let n = v.len().min(8);
        buf[..n].copy_from_slice(&v[..n]);
        u64::from_be_bytes(buf)
    }
    #[inline]
    fn val(&self, i: usize) -> &[u8] {
        self.0.at(i)
    }
    fn len(&self) -> usize {
        self.0.n()
    }
    #[inline]
    fn key_hash(&self, i: usize) -> u64 {
        hash_bytes(self.0.at(i))
    }
    #[inline]
    fn val_hash(v: &[u8]) -> u64 {
        hash_bytes(v)
    }
    #[inline]
    fn key_eq(&self, i: usize, j: usize) -> bool {
        self.0.same(i, j)
    }
    #[inline]
    fn key_cmp(&self, i: usize, j: usize) -> Ordering {
        self.0.at(i).cmp(self.0.at(j))
    }
    fn order(&self, rows: &[u32]) -> Vec<u32> {
        let mut v: Vec<(u64, &[u8], u32)> = rows
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                let s = self.0.at(r as usize);
                (Self::val_prefix(s), s, i as u32)
            })
            .collect();
        v.par_sort_unstable();
        v.into_iter().map(|x| x.2).collect()
    }
}

/// String-view keys that are all inline (at most 12 bytes: "C123456", short codes, most
/// numeric-looking ids): the 16-byte view *is* the string, so a key is one `u128` built from
/// it ([`inline_key`]) and the kernel runs as on integers — no slice per row, no pointer
/// chasing into the views when hashing, comparing or sorting. Measured on 10M rows / 1M
/// customers ("C<id>" keys): see kernel.rs's opening comment.
pub struct InlineViews<'a>(pub &'a [u128]);

/// Longest string stored inline in an Arrow string view.
pub const INLINE_MAX: u32 = 12;

/// An inline view (`len` in the low 32 bits, then the bytes, little-endian) as a `u128` whose
/// integer order is the strings' bytewise order: the bytes big-endian in the top 96 bits
/// (unused bytes masked to zero), the length in the low bits. Equal keys <=> equal strings; a
/// prefix sorts first because zero padding ties and the shorter length wins.
#[inline]
pub fn inline_key(view: u128) -> u128 {
    let len = view as u32;
    debug_assert!(len <= INLINE_MAX);
    let mask = if len == 0 {
        0
    } else {
        u128::MAX >> (128 - 8 * len)
    };
    ((view >> 32) & mask).swap_bytes() | len as u128
}

/// The inline view of an [`inline_key`] (its inverse: the bytes back to little-endian above
/// the length, the unused bytes zero as Arrow requires).
#[inline]
pub fn inline_view(key: u128) -> u128 {
    let len = key as u32;
    ((key & !(u32::MAX as u128)).swap_bytes() << 32) | len as u128
}

/// Whether every value of a string-view array is inline (nulls count as empty). A pass over
/// every view before the kernel starts (16 bytes a row): on all threads, in blocks whose
/// length maximum vectorises, instead of an early-exit scan on one thread.
pub fn all_inline(arr: &StringViewArray) -> bool {
    arr.views()
        .par_chunks(1 << 16)
        .all(|block| block.iter().map(|&v| v as u32).max().unwrap_or(0) <= INLINE_MAX)
}

#[inline]
fn hash_u128(v: u128) -> u64 {
    fmix64(v as u64 ^ fmix64((v >> 64) as u64))
}

impl KeyAccess for InlineViews<'_> {
    type Val<'a>
        = u128
    where
        Self: 'a;
    #[inline]
    fn val(&self, i: usize) -> u128 {
        inline_key(self.0[i])
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn key_hash(&self, i: usize) -> u64 {
        hash_u128(self.val(i))
    }
    #[inline]
    fn val_hash(v: u128) -> u64 {
        hash_u128(v)
    }
    #[inline]
    fn key_eq(&self, i: usize, j: usize) -> bool {
        self.0[i] == self.0[j]
    }
    #[inline]
    fn key_cmp(&self, i: usize, j: usize) -> Ordering {
        self.val(i).cmp(&self.val(j))
    }
    fn key_array(vals: Vec<Vec<u128>>) -> Option<ArrayRef> {
        // every key is an inline view again (no data buffers): cheaper than the caller
        // gathering the strings by row from a chunked column
        let parts: Vec<&[u128]> = vals.iter().map(Vec::as_slice).collect();
        let views: Vec<u128> = par_fill(&parts, |&k| inline_view(k));
        // SAFETY: each view holds the bytes (and length) of an input view, which the producer
        // vouched for as UTF-8 when the column was imported: re-validating 1M views one string
        // at a time cost as much as building them
        Some(std::sync::Arc::new(unsafe {
            StringViewArray::new_unchecked(views.into(), std::sync::Arc::from([]), None)
        }))
    }
    fn order(&self, rows: &[u32]) -> Vec<u32> {
        let mut v: Vec<(u128, u32)> = rows
            .iter()
            .enumerate()
            .map(|(i, &r)| (self.val(r as usize), i as u32))
            .collect();
        v.par_sort_unstable();
        v.into_iter().map(|x| x.1).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_layouts_hash_and_compare_alike() {
        let vals = ["b", "a", "a long string beyond twelve bytes", "b", ""];
        let s = StringArray::from(vals.to_vec());
        let l = LargeStringArray::from(vals.to_vec());
        let v = StringViewArray::from(vals.to_vec());
        let (ks, kl, kv) = (StrKeys(&s), StrKeys(&l), StrKeys(&v));
        for i in 0..vals.len() {
            assert_eq!(ks.key_hash(i), kl.key_hash(i));
            assert_eq!(ks.key_hash(i), kv.key_hash(i));
            for j in 0..vals.len() {
                assert_eq!(ks.key_eq(i, j), vals[i] == vals[j]);
                assert_eq!(kv.key_cmp(i, j), vals[i].cmp(vals[j]));
            }
        }
    }

    #[test]
    fn inline_keys_order_and_equal_as_strings() {
        let vals = [
            "",
            "a",
            "a\0",
            "a\0b",
            "ab",
            "b",
            "C123",
            "C1234",
            "C124",
            "zzzzzzzzzzzz",
            "\u{e9}",
        ];
        let arr = StringViewArray::from(vals.to_vec());
        assert!(all_inline(&arr));
        let k = InlineViews(arr.views().as_ref());
        for i in 0..vals.len() {
            for j in 0..vals.len() {
                let (a, b) = (vals[i].as_bytes(), vals[j].as_bytes());
                assert_eq!(k.key_cmp(i, j), a.cmp(b), "{:?} vs {:?}", vals[i], vals[j]);
                assert_eq!(k.key_eq(i, j), a == b);
                assert_eq!(k.val(i) == k.val(j), a == b);
            }
        }
        // the kernel's key column gives the strings back
        let back = InlineViews::key_array(vec![
            (0..3).map(|i| k.val(i)).collect(),
            Vec::new(),
            (3..vals.len()).map(|i| k.val(i)).collect(),
        ])
        .expect("inline keys give a column");
        let back = back
            .as_any()
            .downcast_ref::<StringViewArray>()
            .expect("string views");
        assert_eq!(back.iter().flatten().collect::<Vec<_>>(), vals.to_vec());
        let long = StringViewArray::from(vec!["short", "thirteen char"]);
        assert!(!all_inline(&long));
        // a slice of an array reads its own views
        let sliced = arr.slice(6, 3);
        let ks = InlineViews(sliced.views().as_ref());
        assert_eq!(ks.val(0), k.val(6));
    }

    #[test]
    fn string_prefixes_agree_with_bytewise_order() {
        let vals: [&[u8]; 8] = [
            b"",
            b"ab",
            b"ab\0",
            b"ab\0x",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghz",
            b"b",
        ];
        for a in vals {
            for b in vals {
                if a < b {
                    let (pa, pb) = (
                        StrKeys::<StringArray>::val_prefix(a),
                        StrKeys::<StringArray>::val_prefix(b),
                    );
                    assert!(pa <= pb, "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn int_keys_compare_numerically() {
        let v: &[i64] = &[-5, 3, 3, i64::MIN];
        assert!(v.key_eq(1, 2));
        assert_eq!(v.key_cmp(0, 1), Ordering::Less);
        assert_eq!(v.key_cmp(3, 0), Ordering::Less);
        assert_eq!(v.key_hash(1), v.key_hash(2));
    }
}
