//! Markov attribution's absorbing-chain solve (see [`solve`] for the layout and trade-offs):
//! the Python side names states and builds the edge list; this module validates the columns,
//! releases the GIL and solves the full chain and every channel-removal scenario.

mod graph;
pub mod solve;

use arrow_array::{Array, UInt32Array};
use pyo3::prelude::*;

use crate::arrow_io::{f64_values, import_chunks};
use crate::error::core_err;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(absorption_values, m)?)?;
    Ok(())
}

/// A UInt32 column without nulls, as one vector (any number of chunks, possibly none).
fn u32_values(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u32>> {
    let mut out = Vec::new();
    for chunk in import_chunks(obj, what)? {
        let arr = chunk
            .as_any()
            .downcast_ref::<UInt32Array>()
            .ok_or_else(|| {
                core_err(format!(
                    "column '{what}': expected UInt32, got {}",
                    chunk.data_type()
                ))
            })?;
        if arr.null_count() > 0 {
            return Err(core_err(format!("column '{what}': contains nulls")));
        }
        out.extend_from_slice(arr.values());
    }
    Ok(out)
}

/// Absorption values from `start`: `[full chain, scenario 0, scenario 1, …]`.
///
/// States are `0..len(reward)`; `src → dst` with probability `prob` are the transient-to-
/// transient edges (absorption into null is each row's missing mass), `reward[s]` the value
/// earned on absorption from `s` (its conversion probability, or expected conversion value).
/// Scenario `k` makes the states `dead_state[i]` with `dead_scenario[i] == k` absorbing-null.
#[pyfunction]
#[pyo3(signature = (src, dst, prob, reward, *, start, dead_scenario, dead_state, scenarios,
                    tol=1e-12, max_sweeps=20_000))]
#[allow(clippy::too_many_arguments)]
pub fn absorption_values(
    py: Python<'_>,
    src: &Bound<'_, PyAny>,
    dst: &Bound<'_, PyAny>,
    prob: &Bound<'_, PyAny>,
    reward: &Bound<'_, PyAny>,
    start: usize,
    dead_scenario: &Bound<'_, PyAny>,
    dead_state: &Bound<'_, PyAny>,
    scenarios: usize,
    tol: f64,
    max_sweeps: usize,
) -> PyResult<Vec<f64>> {
    let src = u32_values(src, "src")?;
    let dst = u32_values(dst, "dst")?;
    let prob = f64_values(prob, "prob")?;
    let reward = f64_values(reward, "reward")?;
    let which = u32_values(dead_scenario, "dead_scenario")?;
    let states = u32_values(dead_state, "dead_state")?;
    if which.len() != states.len() {
        return Err(core_err(format!(
            "column 'dead_state': {} rows, but 'dead_scenario' has {}",
            states.len(),
            which.len()
        )));
    }
    if !(tol.is_finite() && tol > 0.0) {
        return Err(core_err(format!(
            "tol must be a positive number, not {tol}"
        )));
    }
    let n = reward.len();
    let mut dead: Vec<Vec<u32>> = vec![Vec::new(); scenarios];
    for (i, (&k, &s)) in which.iter().zip(&states).enumerate() {
        if k as usize >= scenarios || s as usize >= n {
            return Err(core_err(format!(
                "dead row {}: scenario {k} / state {s} is not below {scenarios} scenarios / \
                 {n} states",
                i + 1
            )));
        }
        dead[k as usize].push(s);
    }
    py.detach(|| {
        let chain = solve::Chain::new(&src, &dst, &prob, &reward, start)?;
        chain.solve_all(&dead, tol, max_sweeps)
    })
    .map_err(core_err)
}
