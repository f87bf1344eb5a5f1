//! Time-invariant covariates for the purchase models, with CLVTools' link functions: some
//! population parameters become per-customer, p_ik = p0_k · exp(sign_k · z_i'γ), where z_i
//! holds the customer's transaction or lifetime covariates:
//!
//! | model      | transaction process              | lifetime process                         |
//! |------------|----------------------------------|------------------------------------------|
//! | Pareto/NBD | α_i = α0 · exp(−z_trans'γ_trans) | β_i = β0 · exp(−z_life'γ_life)           |
//! | BG/NBD     | α_i = α0 · exp(−z_trans'γ_trans) | a_i = a0 · exp(z_life'γ_life), b_i = b0 · exp(z_life'γ_life) |
//! | GGom/NBD   | α_i = α0 · exp(−z_trans'γ_trans) | β_i = β0 · exp(−z_life'γ_life)           |
//!
//! so a positive transaction coefficient raises the purchase rate (α is the gamma scale of
//! λ's inverse), and a positive Pareto/NBD or GGom/NBD lifetime coefficient raises the dropout
//! rate. Each customer's likelihood is the base model's with its own parameters, so the fit
//! reuses `Likelihood::ll_grad_log` row by row and the chain rule gives the coefficients'
//! gradient: ∂ℓ/∂γ_j = Σ_k sign_k · z_ij · ∂ℓ/∂ln p_ik.
//!
//! Rows with equal (x, t_x, T, covariates) are merged first: categorical covariates keep the
//! patterns few; every distinct continuous value is a pattern of its own.

pub mod dynamic;
pub mod pareto;
mod pareto_row;
pub mod py;

use rayon::prelude::*;

use super::bgnbd::{BgNbd, Variant};
use super::compress::Data;
use super::fit::FitOut;
use super::ggom_nbd::GGomNbd;
use super::model::Likelihood;
use super::optim;

/// Which covariate vector scales a parameter, and in which direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Fixed,
    /// p_i = p0 · exp(sign · z_trans'γ_trans)
    Trans(i8),
    /// p_i = p0 · exp(sign · z_life'γ_life)
    Life(i8),
}

/// Customers (compressed) with their covariates, row-major.
#[derive(Debug, Clone, Default)]
pub struct CovData {
    pub base: Data,
    pub zt: Vec<f64>,
    pub zl: Vec<f64>,
    pub kt: usize,
    pub kl: usize,
}

impl CovData {
    pub fn len(&self) -> usize {
        self.base.len()
    }
    pub fn is_empty(&self) -> bool {
        self.base.is_empty()
    }
    fn zt_row(&self, i: usize) -> &[f64] {
        &self.zt[i * self.kt..(i + 1) * self.kt]
    }
    fn zl_row(&self, i: usize) -> &[f64] {
        &self.zl[i * self.kl..(i + 1) * self.kl]
    }
}

/// Merge rows with equal (x, t_x, T, covariates), summing weights (0-weight rows dropped);
/// sorted by key, so results do not depend on input order.
#[allow(clippy::too_many_arguments)]
pub fn compress_cov(
    x: &[f64],
    tx: &[f64],
    t: &[f64],
    w: Option<&[f64]>,
    zt: &[f64],
    kt: usize,
    zl: &[f64],
    kl: usize,
) -> CovData {
    // Sorting row indices by their keys (the bits of x, t_x, T and the covariates, one flat
    // table) merges equal rows with no allocation or hashing per row, in the lexicographic
    // order of the bits.
    let m = 3 + kt + kl;
    let weight = |i: usize| w.map_or(1.0, |w| w[i]);
    let mut keys = vec![0_u64; x.len() * m];
    keys.par_chunks_mut(m).enumerate().for_each(|(i, k)| {
        let vals = [x[i], tx[i], t[i]]
            .into_iter()
            .chain(zt[i * kt..(i + 1) * kt].iter().copied())
            .chain(zl[i * kl..(i + 1) * kl].iter().copied());
        for (slot, v) in k.iter_mut().zip(vals) {
            *slot = (v + 0.0).to_bits();
        }
    });
    let key = |i: usize| &keys[i * m..(i + 1) * m];
    // The same order as a stable sort of the indices by their keys, cheaper: first by
    // (x, t_x, T, index) held inline (a sort by the keys' rows jumps around a table of
    // 8·m bytes per row), then runs of equal (x, t_x, T) by their covariates.
    let mut ord: Vec<(u64, u64, u64, usize)> = (0..x.len())
        .filter(|&i| weight(i) != 0.0)
        .map(|i| {
            let k = key(i);
            (k[0], k[1], k[2], i)
        })
        .collect();
    ord.par_sort_unstable();
    let mut start = 0;
    while start < ord.len() {
        let head = &ord[start];
        let run = ord[start..]
            .iter()
            .take_while(|o| (o.0, o.1, o.2) == (head.0, head.1, head.2))
            .count();
        if run > 1 && m > 3 {
            ord[start..start + run]
                .sort_by(|a, b| key(a.3)[3..].cmp(&key(b.3)[3..]).then(a.3.cmp(&b.3)));
        }
        start += run;
    }
    let idx: Vec<usize> = ord.into_iter().map(|o| o.3).collect();
    let mut d = CovData {
        kt,
        kl,
        ..Default::default()
    };
    let mut prev: Option<usize> = None;
    for &i in &idx {
        if let Some(p) = prev {
            if key(p) == key(i) {
                *d.base.w.last_mut().expect("a pattern was pushed") += weight(i);
                continue;
            }
        }
        prev = Some(i);
        d.base.x.push(x[i] + 0.0);
        d.base.tx.push(tx[i] + 0.0);
        d.base.t.push(t[i] + 0.0);
        d.base.w.push(weight(i));
        d.zt.extend(zt[i * kt..(i + 1) * kt].iter().map(|v| v + 0.0));
        d.zl.extend(zl[i * kl..(i + 1) * kl].iter().map(|v| v + 0.0));
    }
    d
}

/// How the free parameter vector maps onto the model: K log base parameters, then the
/// coefficients; `tidx[j]` / `lidx[j]` is the coefficient of transaction / lifetime
/// covariate j (a constrained covariate shares one coefficient in both processes).
#[derive(Debug, Clone)]
pub struct Spec {
    pub tidx: Vec<usize>,
    pub lidx: Vec<usize>,
    pub n_coef: usize,
    /// L2 penalty per coefficient (on the mean log-likelihood, as CLVTools).
    pub l2: Vec<f64>,
}

/// The per-customer log-parameters of free vector `theta` for row i.
fn row_theta(links: &[Link], spec: &Spec, theta: &[f64], d: &CovData, i: usize) -> Vec<f64> {
    let k = links.len();
    let eta = |z: &[f64], idx: &[usize]| -> f64 {
        z.iter().zip(idx).map(|(zj, &c)| zj * theta[k + c]).sum()
    };
    let et = eta(d.zt_row(i), &spec.tidx);
    let el = eta(d.zl_row(i), &spec.lidx);
    links
        .iter()
        .enumerate()
        .map(|(j, l)| match l {
            Link::Fixed => theta[j],
            Link::Trans(s) => theta[j] + f64::from(*s) * et,
            Link::Life(s) => theta[j] + f64::from(*s) * el,
        })
        .collect()
}

/// Log-likelihood of the covariate model and its gradient in the free parameters.
pub fn ll_grad<M: Likelihood>(
    m: &M,
    links: &[Link],
    spec: &Spec,
    theta: &[f64],
    d: &CovData,
) -> (f64, Vec<f64>) {
    let k = links.len();
    let n = theta.len();
    const CHUNK: usize = 512;
    let parts: Vec<(f64, Vec<f64>)> = (0..d.len().div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut row = Data::row(0.0, 0.0, 0.0);
            let mut ll = 0.0;
            let mut g = vec![0.0; n];
            for i in c * CHUNK..((c + 1) * CHUNK).min(d.len()) {
                row.x[0] = d.base.x[i];
                row.tx[0] = d.base.tx[i];
                row.t[0] = d.base.t[i];
                let th = row_theta(links, spec, theta, d, i);
                if th.iter().any(|v| !v.is_finite() || v.abs() > 40.0) {
                    return (f64::NAN, g);
                }
                let (li, gi) = m.ll_grad_log(&th, &row);
                let w = d.base.w[i];
                ll += w * li;
                let (mut st, mut sl) = (0.0, 0.0);
                for (j, l) in links.iter().enumerate() {
                    g[j] += w * gi[j];
                    match l {
                        Link::Fixed => {}
                        Link::Trans(s) => st += f64::from(*s) * gi[j],
                        Link::Life(s) => sl += f64::from(*s) * gi[j],
                    }
                }
                for (zj, &c) in d.zt_row(i).iter().zip(&spec.tidx) {
                    g[k + c] += w * st * zj;
                }
                for (zj, &c) in d.zl_row(i).iter().zip(&spec.lidx) {
                    g[k + c] += w * sl * zj;
                }
            }
            (ll, g)
        })
        .collect();
    let mut ll = 0.0;
    let mut g = vec![0.0; n];
    for (l, gi) in parts {
        ll += l;
        g.iter_mut().zip(gi).for_each(|(a, b)| *a += b);
    }
    (ll, g)
}

/// Penalised mean negative log-likelihood and its gradient (the optimiser's objective).
fn objective<M: Likelihood>(
    m: &M,
    links: &[Link],
    spec: &Spec,
    d: &CovData,
    wsum: f64,
    theta: &[f64],
) -> (f64, Vec<f64>) {
    let k = links.len();
    if theta[..k].iter().any(|t| !t.is_finite() || t.abs() > 30.0) {
        return (f64::NAN, vec![f64::NAN; theta.len()]);
    }
    let (ll, g) = ll_grad(m, links, spec, theta, d);
    let mut f = -ll / wsum;
    let mut grad: Vec<f64> = g.iter().map(|gi| -gi / wsum).collect();
    for (c, lam) in spec.l2.iter().enumerate() {
        let b = theta[k + c];
        f += lam * b * b;
        grad[k + c] += 2.0 * lam * b;
    }
    (f, grad)
}

/// Maximum likelihood: `start` is the natural-scale base parameters followed by the
/// coefficients (default: the no-covariate fit and zero coefficients).
pub fn fit_cov<M: Likelihood>(
    m: &M,
    links: &[Link],
    spec: &Spec,
    d: &CovData,
    start: Option<Vec<f64>>,
    max_iter: usize,
) -> FitOut {
    let k = links.len();
    let wsum = d.base.total_weight();
    let th0 = start_theta(m, k, spec, d, start, max_iter);
    let obj = |th: &[f64]| objective(m, links, spec, d, wsum, th);
    let res = optim::minimize_hybrid(&obj, &th0, 1e-9, max_iter);
    let ll = if res.f.is_finite() {
        ll_grad(m, links, spec, &res.x, d).0
    } else {
        f64::NAN
    };
    fit_record(&obj, &res, k, wsum, ll, d.len())
}

/// The fit's start in free parameters: `start` (natural-scale base parameters, then the
/// coefficients), else the no-covariate fit and zero coefficients.
pub(crate) fn start_theta<M: Likelihood>(
    m: &M,
    k: usize,
    spec: &Spec,
    d: &CovData,
    start: Option<Vec<f64>>,
    max_iter: usize,
) -> Vec<f64> {
    match start {
        Some(s) => s
            .iter()
            .enumerate()
            .map(|(j, v)| if j < k { v.max(1e-8).ln() } else { *v })
            .collect(),
        None => {
            let base = super::compress::compress(&d.base.x, &d.base.tx, &d.base.t, Some(&d.base.w));
            let nocov = super::fit::fit_data(m, &base, None, max_iter);
            let mut th: Vec<f64> = nocov.params.iter().map(|v| v.max(1e-8).ln()).collect();
            th.resize(k + spec.n_coef, 0.0);
            th
        }
    }
}

/// The fit record of a covariate model from the optimiser's result `res` in free parameters
/// (the first `k` on the log scale, the coefficients as they are) and the mean objective
/// `obj` over total weight `wsum`: natural-scale parameters, delta-method covariance from the
/// Hessian, and a non-positive-definite Hessian at a converged optimum reported as
/// coefficients the data do not identify. Shared by the static and the time-varying fits.
pub(crate) fn fit_record<O: optim::Objective>(
    obj: &O,
    res: &optim::OptResult,
    k: usize,
    wsum: f64,
    ll: f64,
    n_patterns: usize,
) -> FitOut {
    let h = res.f.is_finite().then(|| optim::hessian(obj, &res.x));
    fit_record_hessian(res, k, wsum, ll, n_patterns, h)
}

/// [`fit_record`] with the Hessian `h` of the mean objective at the optimum already known
/// (None: the fit failed).
pub(crate) fn fit_record_hessian(
    res: &optim::OptResult,
    k: usize,
    wsum: f64,
    ll: f64,
    n_patterns: usize,
    h: Option<Vec<Vec<f64>>>,
) -> FitOut {
    let n = res.x.len();
    // Natural scale for the base parameters (delta method), coefficients as they are.
    let scale: Vec<f64> = (0..n)
        .map(|j| if j < k { res.x[j].exp() } else { 1.0 })
        .collect();
    let params: Vec<f64> = (0..n)
        .map(|j| if j < k { res.x[j].exp() } else { res.x[j] })
        .collect();
    let (se, cov) = if let Some(h) = h {
        let htot: Vec<Vec<f64>> = h
            .iter()
            .map(|row| row.iter().map(|v| v * wsum).collect())
            .collect();
        match optim::spd_inverse(&htot) {
            Some(c) => {
                let cov: Vec<Vec<f64>> = (0..n)
                    .map(|i| (0..n).map(|j| c[i][j] * scale[i] * scale[j]).collect())
                    .collect();
                (Some((0..n).map(|i| cov[i][i].sqrt()).collect()), Some(cov))
            }
            None => (None, None),
        }
    } else {
        (None, None)
    };
    FitOut {
        ll,
        converged: res.converged && se.is_some(),
        message: if se.is_none() && res.converged {
            "Hessian is not positive definite at the optimum: the coefficients are not \
             identified by this data"
                .into()
        } else {
            res.message.clone()
        },
        iterations: res.iterations,
        grad_norm: res.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs())),
        boundary: None,
        params,
        se,
        cov,
        n_patterns,
        n_obs: wsum,
    }
}

/// A model with covariates, as the Python functions see it.
pub trait CovKernels: Sync {
    fn kind(&self) -> &'static str;
    fn links(&self) -> &'static [Link];
    fn fit(&self, spec: &Spec, d: &CovData, start: Option<Vec<f64>>, max_iter: usize) -> FitOut;
    fn ll_grad(&self, spec: &Spec, params: &[f64], d: &CovData) -> (f64, Vec<f64>);
}

pub struct Cov<M>(pub M, pub &'static [Link]);

impl<M: Likelihood> CovKernels for Cov<M> {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    fn links(&self) -> &'static [Link] {
        self.1
    }
    fn fit(&self, spec: &Spec, d: &CovData, start: Option<Vec<f64>>, max_iter: usize) -> FitOut {
        fit_cov(&self.0, self.1, spec, d, start, max_iter)
    }
    /// At natural-scale base parameters and coefficients; the gradient is in the free
    /// parameters (log base parameters, coefficients).
    fn ll_grad(&self, spec: &Spec, params: &[f64], d: &CovData) -> (f64, Vec<f64>) {
        let k = self.1.len();
        let th: Vec<f64> = params
            .iter()
            .enumerate()
            .map(|(j, v)| if j < k { v.ln() } else { *v })
            .collect();
        ll_grad(&self.0, self.1, spec, &th, d)
    }
}

use Link::{Fixed, Life, Trans};

/// The covariate models and their links (CLVTools' `*_staticcov`).
pub static COV_MODELS: &[&dyn CovKernels] = &[
    &pareto::CovPareto,
    &Cov(BgNbd(Variant::Bg), &[Fixed, Trans(-1), Life(1), Life(1)]),
    &Cov(GGomNbd, &[Fixed, Trans(-1), Fixed, Fixed, Life(-1)]),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (CovData, Spec) {
        let x = [0.0, 1.0, 3.0, 2.0, 0.0, 5.0];
        let tx = [0.0, 10.0, 30.0, 12.0, 0.0, 35.0];
        let t = [40.0, 38.0, 39.0, 20.0, 25.0, 40.0];
        let zt = [0.5, -1.0, 1.5, 0.0, 2.0, -0.3];
        let zl = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, -0.5, 0.2, 0.1, 0.0, 1.0, 1.0];
        let d = compress_cov(&x, &tx, &t, None, &zt, 1, &zl, 2);
        let spec = Spec {
            tidx: vec![0],
            lidx: vec![1, 2],
            n_coef: 3,
            l2: vec![0.0; 3],
        };
        (d, spec)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (d, spec) = toy();
        for m in COV_MODELS {
            let k = m.links().len();
            let mut p: Vec<f64> = vec![0.8, 6.0, 0.9, 1.3, 7.0][..k].to_vec();
            p.extend([0.3, -0.4, 0.2]);
            let (_, g) = m.ll_grad(&spec, &p, &d);
            for j in 0..p.len() {
                let h = 1e-6;
                let bump = |e: f64| {
                    let mut q = p.clone();
                    if j < k {
                        q[j] *= e.exp();
                    } else {
                        q[j] += e;
                    }
                    m.ll_grad(&spec, &q, &d).0
                };
                let fd = (bump(h) - bump(-h)) / (2.0 * h);
                assert!(
                    (fd - g[j]).abs() < 1e-5 * (1.0 + fd.abs()),
                    "{} {j}",
                    m.kind()
                );
            }
        }
    }

    #[test]
    fn zero_coefficients_reproduce_the_base_likelihood() {
        let (d, spec) = toy();
        for m in COV_MODELS {
            let k = m.links().len();
            let mut p: Vec<f64> = vec![0.8, 6.0, 0.9, 1.3, 7.0][..k].to_vec();
            let base = super::super::model_for(m.kind())
                .unwrap()
                .log_likelihood(&p, &d.base);
            p.extend([0.0; 3]);
            let (ll, _) = m.ll_grad(&spec, &p, &d);
            assert!((ll - base).abs() < 1e-9 * base.abs(), "{}", m.kind());
        }
    }
}
