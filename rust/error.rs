//! The one exception type that Rust raises into Python. Python wraps it with column/row context.

use pyo3::create_exception;
use pyo3::prelude::*;

create_exception!(
    _core,
    CoreError,
    pyo3::exceptions::PyValueError,
    "Invalid input to a native kernel."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CoreError", m.py().get_type::<CoreError>())?;
    Ok(())
}

/// Turn a message into the Python-facing error.
pub fn core_err(msg: impl Into<String>) -> PyErr {
    CoreError::new_err(msg.into())
}
