//! BTYD models: likelihoods (generic over `dual::Real` for exact gradients), maximum
//! likelihood fitting on compressed patterns, vectorised predictions, CLV and simulators.
//! Python wraps these functions in `truenorth.clv` (validation and error messages there;
//! everything here still returns errors instead of panicking).
//!
//! A model is one module implementing the traits of `model.rs` (which says what a new model
//! must implement) plus one line in [`MODELS`].

pub mod bgbb;
pub mod bgnbd;
pub mod compress;
pub mod conditional;
pub mod covariates;
pub mod dedupe;
pub mod delta;
pub mod distinct;
pub mod dual;
pub mod fit;
pub mod gamma_gamma;
pub mod gamma_gamma_hess;
pub mod ggom_nbd;
pub mod hyperu;
pub mod intervals;
pub mod jet;
pub mod kernels;
pub mod levels;
pub mod limits;
pub mod model;
pub mod new_pmf;
pub mod newton;
pub mod objective;
pub mod optim;
pub mod pareto_nbd;
pub mod pareto_nbd_hess;
pub mod py;
mod py_intervals;
mod py_patterns;
pub mod quad;
pub mod quad_vec;
pub mod rng;
pub mod simulate;
pub mod special;
pub mod spend;
pub mod vmath;

use pyo3::PyResult;

use crate::error::core_err;
use kernels::{Kernels, Purchase};

/// Every model, by the kind name Python passes.
pub static MODELS: &[&dyn Kernels] = &[
    &Purchase(bgnbd::BgNbd(bgnbd::Variant::Bg)),
    &Purchase(bgnbd::BgNbd(bgnbd::Variant::Mbg)),
    &Purchase(pareto_nbd::ParetoNbd),
    &Purchase(bgbb::BgBb),
    &Purchase(ggom_nbd::GGomNbd),
    &gamma_gamma::GammaGamma,
];

/// The model of a kind name.
pub fn model_for(kind: &str) -> PyResult<&'static dyn Kernels> {
    MODELS
        .iter()
        .copied()
        .find(|m| m.kind() == kind)
        .ok_or_else(|| core_err(format!("unknown model kind '{kind}'")))
}

/// Adds the models' Python functions to the module: the point kernels (`py`), the covariate
/// models (`covariates::py`), the interval kernels (`py_intervals`), which build on `py`'s
/// column helpers, and the summary's distinct rows (`py_patterns`).
pub fn register(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    py::register(m)?;
    covariates::py::register(m)?;
    covariates::dynamic::py::register(m)?;
    py_intervals::register(m)?;
    py_patterns::register(m)
}

#[cfg(test)]
mod tests {
    use super::model::{Gradient, Likelihood};
    use super::*;

    #[test]
    fn kinds_are_unique_and_found() {
        for (i, m) in MODELS.iter().enumerate() {
            assert!(MODELS[..i].iter().all(|o| o.kind() != m.kind()));
            assert_eq!(model_for(m.kind()).unwrap().kind(), m.kind());
        }
    }

    /// `Grad = Dual<K>` must carry one derivative per named parameter.
    fn grad_width<M: Likelihood>(m: &M) {
        let g = M::Grad::var(1.0, 0);
        assert_eq!(g.gradient().len(), m.n_params(), "{}", m.kind());
    }

    #[test]
    fn dual_width_matches_parameter_count() {
        grad_width(&bgnbd::BgNbd(bgnbd::Variant::Bg));
        grad_width(&bgnbd::BgNbd(bgnbd::Variant::Mbg));
        grad_width(&pareto_nbd::ParetoNbd);
        grad_width(&bgbb::BgBb);
        grad_width(&ggom_nbd::GGomNbd);
        grad_width(&gamma_gamma::GammaGamma);
    }
}
