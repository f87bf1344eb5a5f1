//! The kernel's result as consecutive pieces, and output columns filled from them in parallel.
//!
//! The sorted path summarises windows of the log on separate threads; each window's customers
//! are already in key order and follow the previous window's. Concatenating them would copy 64
//! bytes per customer on one thread into freshly faulted pages (at 10M rows / 1M customers
//! that copy and the output columns built one after the other were most of the sorted path's
//! wall time, with the second core idle), so the pieces are kept and every output column is
//! written straight from them, pieces and ranges within a piece on all threads.

use super::customer::Customer;
use super::fill::par_fill;

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

#[cfg(test)]
mod tests {
    use super::*;

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
