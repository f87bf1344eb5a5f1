//! Contractual retention: the shifted-beta-geometric (sBG, Fader & Hardie 2007) and the
//! beta-discrete-Weibull (BdW, Fader, Hardie, Liu, Davin & Steenburgh 2018) models of how long
//! a subscriber keeps renewing.
//!
//! A customer's lifetime T ∈ {1, 2, …} counts the periods paid for: T = t means t − 1 renewals
//! and a cancellation at the t-th renewal point. Given a churn propensity θ ~ Beta(α, β),
//! S(t | θ) = (1 − θ)^(t^c) (c = 1 for sBG), so S(t) = B(α, β + t^c) / B(α, β).
//!
//! `likelihood` fits cohorts given as counts (lost per period, still active per period);
//! `value` projects survival, residual lifetime and elasticities; `py` exposes both. Python
//! (`truenorth.retention`) validates the data and names columns and rows in its errors.

pub mod fit;
pub mod likelihood;
mod py;
pub mod value;

pub use likelihood::{Cohort, Kind};

/// Adds the retention functions to the Python module.
pub fn register(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
    py::register(m)
}
