//! Maximum likelihood for the time-varying-covariate Pareto/NBD, with the static covariate
//! models' options: a covariate constrained to one coefficient in both processes, and an L2
//! penalty per coefficient on the mean log-likelihood (CLVTools' `reg.lambdas`).
//!
//! The kernels read one coefficient per design column (transaction columns, then lifetime
//! columns); a `Spec` maps the free coefficients onto the columns, so a constrained
//! coefficient feeds both of its columns and its gradient is the sum of theirs.

use super::super::super::compress::compress;
use super::super::super::fit::{fit_data, FitOut};
use super::super::super::optim;
use super::super::super::pareto_nbd::ParetoNbd;
use super::super::{fit_record, Spec};
use super::{ll_grad, to_free, DynData};

/// One free coefficient per design column, unpenalised.
pub fn free_spec(kt: usize, kl: usize) -> Spec {
    Spec {
        tidx: (0..kt).collect(),
        lidx: (kt..kt + kl).collect(),
        n_coef: kt + kl,
        l2: vec![0.0; kt + kl],
    }
}

/// The kernels' parameter vector (4 log base parameters, one coefficient per design column)
/// of free vector `th`.
pub fn expand(spec: &Spec, th: &[f64]) -> Vec<f64> {
    let mut e = th[..4].to_vec();
    e.extend(spec.tidx.iter().map(|&c| th[4 + c]));
    e.extend(spec.lidx.iter().map(|&c| th[4 + c]));
    e
}

/// Log-likelihood and its gradient in the free parameters (log base parameters, then the
/// spec's coefficients).
pub fn ll_grad_free(spec: &Spec, th: &[f64], d: &DynData) -> (f64, Vec<f64>) {
    let (ll, ge) = ll_grad(&expand(spec, th), d);
    let mut g = ge[..4].to_vec();
    g.resize(4 + spec.n_coef, 0.0);
    for (j, &c) in spec.tidx.iter().enumerate() {
        g[4 + c] += ge[4 + j];
    }
    for (j, &c) in spec.lidx.iter().enumerate() {
        g[4 + c] += ge[4 + d.kt + j];
    }
    (ll, g)
}

/// Penalised mean negative log-likelihood over `n` customers and its gradient (the
/// optimiser's objective), as the static covariate fit's.
pub fn objective(spec: &Spec, d: &DynData, n: f64, th: &[f64]) -> (f64, Vec<f64>) {
    if th[..4].iter().any(|v| !v.is_finite() || v.abs() > 30.0)
        || th[4..].iter().any(|v| !v.is_finite() || v.abs() > 50.0)
    {
        return (f64::NAN, vec![f64::NAN; th.len()]);
    }
    let (ll, g) = ll_grad_free(spec, th, d);
    let mut f = -ll / n;
    let mut grad: Vec<f64> = g.iter().map(|v| -v / n).collect();
    for (c, lam) in spec.l2.iter().enumerate() {
        let b = th[4 + c];
        f += lam * b * b;
        grad[4 + c] += 2.0 * lam * b;
    }
    (f, grad)
}

/// Maximum likelihood; `start` is (r, α, s, β, the spec's coefficients) on the natural scale
/// (default: the plain Pareto/NBD fit and zero coefficients).
pub fn fit(d: &DynData, spec: &Spec, start: Option<Vec<f64>>, max_iter: usize) -> FitOut {
    debug_assert!(spec.tidx.len() == d.kt && spec.lidx.len() == d.kl);
    let np = 4 + spec.n_coef;
    let n = d.len() as f64;
    let th0 = match start {
        Some(s) => to_free(&s),
        None => {
            let base = compress(&d.x, &d.tx, &d.t, None);
            let nocov = fit_data(&ParetoNbd, &base, None, max_iter);
            let mut th = to_free(&nocov.params);
            th.resize(np, 0.0);
            th
        }
    };
    let obj = |th: &[f64]| objective(spec, d, n, th);
    let res = optim::minimize_hybrid(&obj, &th0, 1e-9, max_iter);
    let ll = if res.f.is_finite() {
        ll_grad_free(spec, &res.x, d).0
    } else {
        f64::NAN
    };
    fit_record(&obj, &res, 4, n, ll, d.len())
}
