//! Columns arrive from Python through the Arrow PyCapsule interface (`__arrow_c_stream__`),
//! which Polars, PyArrow, pandas and DuckDB all speak. We import the stream's chunks as
//! arrow-rs arrays; the buffers stay owned by the producer (zero-copy).

use arrow_array::ffi_stream::{ArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{Array, ArrayRef, Float64Array};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods};

use crate::error::core_err;

/// Import every chunk of an object that exposes `__arrow_c_stream__` (a Polars Series, a
/// PyArrow ChunkedArray, ...). `what` names the column in error messages.
pub fn import_chunks(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<ArrayRef>> {
    let capsule = obj
        .call_method0("__arrow_c_stream__")
        .map_err(|e| core_err(format!("column '{what}': not an Arrow stream ({e})")))?;
    let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
        core_err(format!(
            "column '{what}': __arrow_c_stream__ did not return a capsule"
        ))
    })?;
    let ptr = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule holds an ArrowArrayStream per the PyCapsule interface; `from_raw`
    // moves it out and marks the original released, so the capsule's destructor is a no-op.
    let stream =
        unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr() as *mut FFI_ArrowArrayStream) };
    let reader = ArrayStreamReader::try_new(stream)
        .map_err(|e| core_err(format!("column '{what}': {e}")))?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| core_err(format!("column '{what}': {e}")))
}

/// A Float64 column without nulls, as one contiguous vector. Python casts and null-checks
/// first, so reaching the error here is a bug in the caller, reported rather than panicking.
pub fn f64_values(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f64>> {
    let chunks = import_chunks(obj, what)?;
    let mut out = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
    for chunk in &chunks {
        let arr = chunk
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| {
                core_err(format!(
                    "column '{what}': expected Float64, got {}",
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
