//! Gamma-Gamma spend model (Fader & Hardie 2013 note; Colombo & Jiang 1999), parameters
//! (p, q, v). For a customer with x > 0 repeat transactions of mean value m:
//!   ln L = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(v+mx)
//! (the density of the mean m̄). Expected spend: p(v + m x)/(p x + q − 1).

use pyo3::PyResult;
use rayon::prelude::*;

use super::compress::{par_sum, Data};
use super::dual::{Dual, Real};
use super::fit::{fit_data, fit_external, FitOut, Total};
use super::gamma_gamma_hess as hess;
use super::kernels::{Cols, Kernels};
use super::model::{ConditionalPmf, Likelihood};
use super::simulate::rng_for;
use crate::error::core_err;

/// `d.x` = frequency, `d.tx` = monetary value (mean of repeat transactions).
pub fn ll_sum<R: Real>(p: [R; 3], d: &Data) -> R {
    let [pp, q, v] = p;
    let base = q * v.ln() - q.lgamma();
    par_sum(d.len(), |i| {
        let (x, m) = (d.x[i], d.tx[i]);
        let px = pp * x;
        let ll = (px + q).lgamma() - px.lgamma() + base + (px - 1.0) * m.ln() + px * x.ln()
            - (px + q) * (v + m * x).ln();
        ll * d.w[i]
    })
}

pub use super::spend::expected_spend;

/// Gamma-Gamma as a model of the kernels. Not a [`BtydModel`]: a spend model shares the
/// fitter with the purchase models and nothing else, so it implements [`Kernels`] directly
/// (the one prediction it has, expected spend, and an error for everything else).
#[derive(Clone, Copy, Debug)]
pub struct GammaGamma;

impl Likelihood for GammaGamma {
    type Grad = Dual<3>;
    fn kind(&self) -> &'static str {
        "gamma_gamma"
    }
    fn param_names(&self) -> &'static [&'static str] {
        &["p", "q", "v"]
    }
    fn second_column(&self) -> &'static str {
        "monetary_value"
    }
    fn ll_sum<R: Real>(&self, p: &[R], d: &Data) -> R {
        ll_sum([p[0], p[1], p[2]], d)
    }
    /// Closed form (`gamma_gamma_hess`): one ln per row instead of three dual ln Γ.
    fn ll_grad_log(&self, theta: &[f64], d: &Data) -> (f64, Vec<f64>) {
        let (ll, g, _) = hess::ll_hess_log(theta, d);
        (ll, g.to_vec())
    }
    /// The fit takes Newton steps on this Hessian (`newton.rs`).
    fn ll_hess_log(&self, theta: &[f64], d: &Data) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        let (ll, g, h) = hess::ll_hess_log(theta, d);
        Some((ll, g.to_vec(), h.iter().map(|row| row.to_vec()).collect()))
    }
    fn start_values(&self, d: &Data) -> Vec<f64> {
        vec![2.0, 3.0, d.mean(&d.tx).max(1e-12)]
    }
    /// The scale v stays at the data's.
    fn second_start(&self, first: &[f64]) -> Vec<f64> {
        vec![1.1, 1.1, first[2]]
    }
}

impl Kernels for GammaGamma {
    fn kind(&self) -> &'static str {
        Likelihood::kind(self)
    }
    fn n_params(&self) -> usize {
        Likelihood::n_params(self)
    }
    fn second_column(&self) -> &'static str {
        Likelihood::second_column(self)
    }
    fn fit(&self, d: &Data, start: Option<Vec<f64>>, max_iter: usize) -> FitOut {
        fit_data(self, d, start, max_iter)
    }
    fn log_likelihood(&self, p: &[f64], d: &Data) -> f64 {
        self.ll_sum(p, d)
    }
    fn ll_grad_log(&self, theta: &[f64], d: &Data) -> (f64, Vec<f64>) {
        Likelihood::ll_grad_log(self, theta, d)
    }
    fn fit_external(
        &self,
        total: Total<'_>,
        sample: &Data,
        wsum: f64,
        n_patterns: usize,
        start: Option<Vec<f64>>,
        max_iter: usize,
    ) -> FitOut {
        fit_external(self, total, sample, wsum, n_patterns, start, max_iter)
    }
    fn predict(&self, what: &str, p: &[f64], c: Cols<'_>, _horizon: f64) -> PyResult<Vec<f64>> {
        let p: [f64; 3] = p
            .try_into()
            .map_err(|_| core_err("wrong number of parameters"))?;
        if what != "expected_spend" {
            return Err(core_err(format!("unknown prediction '{what}'")));
        }
        let (x, m) = (c.x, c.tx);
        Ok((0..x.len())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| expected_spend(p, x[i], m[i]))
            .collect())
    }
    fn predict_new(&self, what: &str, _p: &[f64], _t: &[f64], _n: u64) -> PyResult<Vec<f64>> {
        Err(core_err(format!(
            "'{what}' is not available for gamma_gamma"
        )))
    }
    fn conditional_pmf(&self) -> ConditionalPmf {
        ConditionalPmf::Unavailable
    }
    fn conditional_p_purchases(
        &self,
        _p: &[f64],
        _c: Cols<'_>,
        _n: u64,
        _horizon: f64,
    ) -> PyResult<Vec<f64>> {
        Err(core_err(
            "conditional_p_purchases is not available for gamma_gamma",
        ))
    }
    fn discounted(
        &self,
        _p: &[f64],
        _c: Cols<'_>,
        _times: &[f64],
        _disc: &[f64],
    ) -> PyResult<Vec<f64>> {
        Err(core_err("CLV needs a purchase model"))
    }
    fn simulate_summary(
        &self,
        _p: &[f64],
        _t: &[f64],
        _seed: u64,
        _resolution: Option<f64>,
    ) -> PyResult<(Vec<f64>, Vec<f64>)> {
        Err(core_err("use simulate_spend for Gamma-Gamma"))
    }
    fn simulate_times(
        &self,
        _p: &[f64],
        _t: &[f64],
        _seed: u64,
        _resolution: Option<f64>,
    ) -> PyResult<Vec<Vec<f64>>> {
        Err(core_err(
            "transaction logs are simulated for continuous-time models",
        ))
    }
}

/// Mean spend of x[i] transactions per customer (0 if none).
pub fn simulate_spend(p: [f64; 3], x: &[f64], seed: u64) -> Vec<f64> {
    x.par_iter()
        .enumerate()
        .map(|(i, &xi)| {
            if xi == 0.0 {
                return 0.0;
            }
            let mut rng = rng_for(seed, i);
            let nu = rng.gamma(p[1], p[2]);
            // Sum of x Gamma(p, ν) draws is Gamma(p·x, ν).
            rng.gamma(p[0] * xi, nu) / xi
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::special::lgamma;

    #[test]
    fn hand_case_matches_gamma_mixture_density() {
        // x = 1: m̄ is one Gamma(p, ν) draw with ν ~ Gamma(q, v): the density is a
        // beta-prime: f(m) = m^(p−1) v^q / (B(p, q) (v+m)^(p+q)).
        let (pp, q, v) = (6.25, 3.74, 15.44);
        let m: f64 = 20.0;
        let d = Data {
            x: vec![1.0],
            tx: vec![m],
            t: vec![0.0],
            w: vec![1.0],
            ..Default::default()
        };
        let ll = ll_sum([pp, q, v], &d);
        let direct = (pp - 1.0) * m.ln() + q * v.ln()
            - (lgamma(pp) + lgamma(q) - lgamma(pp + q))
            - (pp + q) * (v + m).ln();
        assert!((ll - direct).abs() < 1e-12);
        assert!((expected_spend([pp, q, v], 0.0, 0.0) - pp * v / (q - 1.0)).abs() < 1e-12);
    }
}
