//! The kernel's result as consecutive pieces, and output columns filled from them in parallel.
//!
//! The sorted path summarises windows of the log on separate threads; each window's customers
//! are already in key order and follow the previous window's. Concatenating them would copy 64
//! bytes per customer on one thread into freshly faulted pages (at 10M rows / 1M customers
//! that copy and the output columns built one after the other were most of the sorted path's
//! wall time, with the second core idle), so the pieces are kept and every output column is
//! written straight from them, pieces and ranges within a piece on all threads.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::customer::Customer;

/// Items per task when filling a column: large enough that a task's overhead is noise, small
/// enough that one big piece (the hash path's single piece) still spreads over the threads.
const FILL_GRAIN: usize = 1 << 14;

/// The kernel's customers, in pieces read one after the other.
pub struct Customers {
    /// Customer pieces, in order.
    pub pieces: Vec<Vec<Customer>>,
    /// Whether every amount read was finite (checked in the pass that reads them; the caller
    /// looks for the offending row only when this is false).
    pub amounts_finite: bool,
    /// The latest `last_time` over all customers (`i64::MIN` without customers): with an open
    /// window ([`super::customer::Config::open`]) it is the latest time of the whole log.
    pub max_time: i64,
}

impl Customers {
    /// Number of customers.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `f` of every customer, in order, as one vector (filled on all threads).
    pub fn column<T: Send>(&self, f: impl Fn(&Customer) -> T + Sync) -> Vec<T> {
        let parts: Vec<&[Customer]> = self.pieces.iter().map(Vec::as_slice).collect();
        par_fill(&parts, f)
    }
}

/// Customers with their keys (one key per customer, pieces aligned), in key order when read
/// piece after piece (or in the hash path's partition order when the caller asked for no sort).
pub struct Summary<V> {
    pub customers: Customers,
    pub keys: Vec<Vec<V>>,
}

impl<V: Copy> Summary<V> {
    /// One piece.
    pub fn whole(
        customers: Vec<Customer>,
        keys: Vec<V>,
        amounts_finite: bool,
        max_time: i64,
    ) -> Self {
        Summary {
            customers: Customers {
                pieces: vec![customers],
                amounts_finite,
                max_time,
            },
            keys: vec![keys],
        }
    }

    /// The customers and keys as one vector each (tests and small callers; the Python path
    /// reads the pieces through [`Customers::column`]).
    pub fn into_flat(self) -> (Vec<Customer>, Vec<V>) {
        let Summary { customers, keys } = self;
        if customers.pieces.len() == 1 {
            let c = customers.pieces.into_iter().next().expect("one piece");
            let k = keys.into_iter().next().expect("one piece");
            return (c, k);
        }
        (customers.pieces.concat(), keys.concat())
    }
}

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

    #[test]
    fn pieces_flatten_in_order() {
        let cust = |t: i64| Customer {
            last_time: t,
            ..Customer::default()
        };
        let s = Summary {
            customers: Customers {
                pieces: vec![vec![cust(1), cust(5)], vec![], vec![cust(3)]],
                amounts_finite: true,
                max_time: 5,
            },
            keys: vec![vec![10, 11], vec![], vec![12]],
        };
        assert_eq!(s.customers.len(), 3);
        assert_eq!(s.customers.column(|c| c.last_time), vec![1, 5, 3]);
        let (c, k) = s.into_flat();
        assert_eq!(k, vec![10, 11, 12]);
        assert_eq!(
            c.iter().map(|c| c.last_time).collect::<Vec<_>>(),
            vec![1, 5, 3]
        );
        let w = Summary::whole(vec![cust(2), cust(9)], vec![1, 2], false, 9);
        assert_eq!(w.into_flat().1, vec![1, 2]);
    }
}
