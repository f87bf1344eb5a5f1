//! Segment aggregation: one pass over the customer table, grouped by a key column, summing
//! value columns (nulls skipped). Each thread aggregates its chunk into a small table; the
//! per-thread tables are merged by key (segments are few, so the merge is negligible).

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, UInt32Array};
use hashbrown::HashTable;
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::arrow_io::{reject_nulls, single_chunk, ArrowStream};
use crate::error::core_err;
use crate::summary::keys::{supported_key_type, KeyAccess};
use crate::with_keys;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(group_sums, m)?)?;
    Ok(())
}

/// Per-group totals: the first row of the group, its row count, and per value column the sum and
/// the number of non-null values.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub first_row: u32,
    pub count: u64,
    pub sums: Vec<f64>,
    pub valid: Vec<u64>,
}

/// A value column: values plus optional validity (true = present).
pub struct Values<'a> {
    pub values: &'a [f64],
    pub valid: Option<Vec<bool>>,
}

impl Values<'_> {
    #[inline]
    fn get(&self, i: usize) -> Option<f64> {
        match &self.valid {
            Some(v) if !v[i] => None,
            _ => Some(self.values[i]),
        }
    }
}

fn aggregate_range<K: KeyAccess>(keys: &K, cols: &[Values<'_>], a: usize, b: usize) -> Vec<Group> {
    let mut table: HashTable<u32> = HashTable::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut hashes: Vec<u64> = Vec::new();
    for i in a..b {
        let h = keys.key_hash(i);
        let g = match table.find(h, |&g| {
            keys.key_eq(groups[g as usize].first_row as usize, i)
        }) {
            Some(&g) => g as usize,
            None => {
                let g = groups.len();
                groups.push(Group {
                    first_row: i as u32,
                    count: 0,
                    sums: vec![0.0; cols.len()],
                    valid: vec![0; cols.len()],
                });
                hashes.push(h);
                table.insert_unique(h, g as u32, |&g| hashes[g as usize]);
                g
            }
        };
        let grp = &mut groups[g];
        grp.count += 1;
        for (c, col) in cols.iter().enumerate() {
            if let Some(v) = col.get(i) {
                grp.sums[c] += v;
                grp.valid[c] += 1;
            }
        }
    }
    groups
}

/// Group rows by key and total the value columns; output sorted by key.
pub fn aggregate<K: KeyAccess>(keys: &K, cols: &[Values<'_>]) -> Vec<Group> {
    let n = keys.len();
    let nchunks = rayon::current_num_threads().max(1);
    let chunk = n.div_ceil(nchunks).max(1);
    let partials: Vec<Vec<Group>> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| aggregate_range(keys, cols, c * chunk, ((c + 1) * chunk).min(n)))
        .collect();
    // merge in chunk order, so each group keeps its earliest row
    let mut merged: Vec<Group> = Vec::new();
    let mut table: HashTable<u32> = HashTable::new();
    let mut hashes: Vec<u64> = Vec::new();
    for part in partials {
        for g in part {
            let r = g.first_row as usize;
            let h = keys.key_hash(r);
            match table.find(h, |&m| {
                keys.key_eq(merged[m as usize].first_row as usize, r)
            }) {
                Some(&m) => {
                    let t = &mut merged[m as usize];
                    t.count += g.count;
                    for c in 0..cols.len() {
                        t.sums[c] += g.sums[c];
                        t.valid[c] += g.valid[c];
                    }
                }
                None => {
                    let m = merged.len() as u32;
                    merged.push(g);
                    hashes.push(h);
                    table.insert_unique(h, m, |&m| hashes[m as usize]);
                }
            }
        }
    }
    let rows: Vec<u32> = merged.iter().map(|g| g.first_row).collect();
    let perm = keys.order(&rows);
    perm.into_iter()
        .map(|i| merged[i as usize].clone())
        .collect()
}

/// Totals per group of `by` in one pass: returns an Arrow stream with `first_row` (UInt32),
/// `count` (Int64) and, for each value column `i`, `sum_i` (Float64) and `valid_i` (Int64,
/// non-null values). Value columns must be Float64; nulls are skipped, NaN/inf are errors.
#[pyfunction]
#[pyo3(signature = (by, values, *, by_name="segment".to_string(), value_names=None))]
pub fn group_sums(
    py: Python<'_>,
    by: &Bound<'_, PyAny>,
    values: Vec<Bound<'_, PyAny>>,
    by_name: String,
    value_names: Option<Vec<String>>,
) -> PyResult<ArrowStream> {
    let names: Vec<String> =
        value_names.unwrap_or_else(|| (0..values.len()).map(|i| format!("value {i}")).collect());
    if names.len() != values.len() {
        return Err(core_err("value_names must name every value column"));
    }
    let karr = single_chunk(by, &by_name)?;
    if !supported_key_type(&karr) {
        return Err(core_err(format!(
            "column '{by_name}': expected integer or string group keys, got {}",
            karr.data_type()
        )));
    }
    reject_nulls(karr.as_ref(), &by_name)?;
    let n = karr.len();
    let arrays: Vec<ArrayRef> = values
        .iter()
        .zip(&names)
        .map(|(v, name)| single_chunk(v, name))
        .collect::<PyResult<_>>()?;
    let mut cols: Vec<Values<'_>> = Vec::with_capacity(arrays.len());
    for (arr, name) in arrays.iter().zip(&names) {
        if arr.len() != n {
            return Err(core_err(format!(
                "column '{name}': {} rows, but '{by_name}' has {n}",
                arr.len()
            )));
        }
        let f = arr.as_any().downcast_ref::<Float64Array>().ok_or_else(|| {
            core_err(format!(
                "column '{name}': expected Float64, got {}",
                arr.data_type()
            ))
        })?;
        let valid = (f.null_count() > 0).then(|| (0..n).map(|i| f.is_valid(i)).collect());
        let col = Values {
            values: f.values().as_ref(),
            valid,
        };
        if let Some(row) = (0..n).find(|&i| col.get(i).is_some_and(|v| !v.is_finite())) {
            // messages number rows from 1, as everywhere in truenorth
            return Err(core_err(format!(
                "column '{name}': non-finite value {} at row {}",
                f.value(row),
                row + 1
            )));
        }
        cols.push(col);
    }
    let groups = py.detach(|| with_keys!(&karr, k, aggregate(&k, &cols), Vec::new()));
    let mut out: Vec<(String, ArrayRef)> = vec![
        (
            "first_row".into(),
            Arc::new(UInt32Array::from(
                groups.iter().map(|g| g.first_row).collect::<Vec<_>>(),
            )),
        ),
        (
            "count".into(),
            Arc::new(Int64Array::from(
                groups.iter().map(|g| g.count as i64).collect::<Vec<_>>(),
            )),
        ),
    ];
    for c in 0..cols.len() {
        out.push((
            format!("sum_{c}"),
            Arc::new(Float64Array::from(
                groups.iter().map(|g| g.sums[c]).collect::<Vec<_>>(),
            )),
        ));
        out.push((
            format!("valid_{c}"),
            Arc::new(Int64Array::from(
                groups.iter().map(|g| g.valid[c] as i64).collect::<Vec<_>>(),
            )),
        ));
    }
    ArrowStream::from_columns(out.iter().map(|(n, a)| (n.as_str(), a.clone())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::keys::StrKeys;
    use arrow_array::StringArray;

    #[test]
    fn hand_computed_groups() {
        let keys = StringArray::from(vec!["b", "a", "b", "c", "a", "b"]);
        let v1 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let v2 = [10.0, 0.0, 30.0, 0.0, 50.0, 0.0];
        let cols = [
            Values {
                values: &v1,
                valid: None,
            },
            Values {
                values: &v2,
                valid: Some(vec![true, false, true, false, true, false]),
            },
        ];
        let g = aggregate(&StrKeys(&keys), &cols);
        let names: Vec<&str> = g.iter().map(|g| keys.value(g.first_row as usize)).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(g[0].count, 2);
        assert_eq!(g[0].sums, vec![7.0, 50.0]);
        assert_eq!(g[0].valid, vec![2, 1]);
        assert_eq!(g[1].count, 3);
        assert_eq!(g[1].sums, vec![10.0, 40.0]);
        assert_eq!(g[1].valid, vec![3, 2]);
        assert_eq!((g[1].first_row, g[2].count, g[2].valid[1]), (0, 1, 0));
    }

    #[test]
    fn parallel_chunks_merge() {
        let n = 100_003usize;
        let keys: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 13).collect();
        let v: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let cols = [Values {
            values: &v,
            valid: None,
        }];
        let g = aggregate(&keys.as_slice(), &cols);
        assert_eq!(g.len(), 13);
        assert_eq!(g.iter().map(|g| g.count).sum::<u64>(), n as u64);
        let total: f64 = g.iter().map(|g| g.sums[0]).sum();
        assert_eq!(total, (n * (n - 1) / 2) as f64);
        for (k, grp) in g.iter().enumerate() {
            assert_eq!(keys[grp.first_row as usize], k as i64);
            let first = (0..n).find(|&i| keys[i] == k as i64).unwrap();
            assert_eq!(grp.first_row as usize, first);
        }
    }
}
