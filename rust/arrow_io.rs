//! Columns arrive from Python through the Arrow PyCapsule interface (`__arrow_c_stream__`),
//! which Polars, PyArrow, pandas and DuckDB all speak. We import the stream's chunks as
//! arrow-rs arrays; the buffers stay owned by the producer (zero-copy).

use std::sync::{Arc, Mutex};

use arrow_array::ffi_stream::{ArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, RecordBatchIterator};
use arrow_schema::{Field, Schema};
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

/// Exactly one chunk (Python rechunks before crossing). Empty streams are rejected.
pub fn single_chunk(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<ArrayRef> {
    let mut chunks = import_chunks(obj, what)?;
    match chunks.len() {
        1 => Ok(chunks.pop().expect("one chunk")),
        0 => Err(core_err(format!("column '{what}': is empty"))),
        n => Err(core_err(format!(
            "column '{what}': expected one contiguous chunk, got {n} (rechunk first)"
        ))),
    }
}

/// Reject any null in a column; the message names the column and the first null row,
/// numbered from 1 as in every truenorth message.
pub fn reject_nulls(arr: &dyn Array, what: &str) -> PyResult<()> {
    if arr.null_count() == 0 {
        return Ok(());
    }
    let row = (0..arr.len()).find(|&i| arr.is_null(i)).unwrap_or(0) + 1;
    Err(core_err(format!(
        "column '{what}': null at row {row}; nulls are not allowed here"
    )))
}

/// A set of output columns, handed back to Python through `__arrow_c_stream__`
/// (`polars.DataFrame(obj)` imports it without a copy).
#[pyclass(name = "ArrowStream", module = "truenorth._core")]
pub struct ArrowStream {
    // A Mutex makes the (Send-only) FFI stream shareable, as pyclasses must be.
    stream: Mutex<Option<FFI_ArrowArrayStream>>,
}

impl ArrowStream {
    pub fn from_columns(columns: Vec<(&str, ArrayRef)>) -> PyResult<Self> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), a.null_count() > 0))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(
            schema.clone(),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .map_err(|e| core_err(format!("building output: {e}")))?;
        let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
        Ok(Self {
            stream: Mutex::new(Some(FFI_ArrowArrayStream::new(Box::new(reader)))),
        })
    }
}

#[pymethods]
impl ArrowStream {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema; // the schema is fixed; requests are ignored, as Polars does
        let stream = self
            .stream
            .lock()
            .map_err(|_| core_err("Arrow stream lock poisoned"))?
            .take()
            .ok_or_else(|| core_err("this Arrow stream was already consumed"))?;
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }
}
