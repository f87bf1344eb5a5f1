//! Native core of truenorth, exposed to Python as `truenorth._core`.
//!
//! Each submodule owns one concept and a `register` function that adds its Python-facing
//! functions to the module; the numeric kernels inside them are plain Rust so `cargo test`
//! exercises them without an interpreter.

pub mod arrow_io;
pub mod error;
pub mod markov;
pub mod models;
pub mod resample;
pub mod retention;
pub mod segment;
pub mod summary;

use pyo3::prelude::*;

#[pymodule]
#[pyo3(name = "_core")]
fn core_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    error::register(m)?;
    summary::register(m)?;
    models::register(m)?;
    segment::register(m)?;
    resample::register(m)?;
    retention::register(m)?;
    markov::register(m)?;
    Ok(())
}
