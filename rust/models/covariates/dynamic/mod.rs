//! Pareto/NBD with time-varying covariates (the extended Pareto/NBD of Bachmann, Meierer &
//! Näf 2021; CLVTools' `pnbd` with `SetDynamicCovariates`).
//!
//! Each customer's time since the first purchase is cut into pieces on which the covariates
//! are constant (calendar periods, clipped at the first purchase and at T). On piece k the
//! purchase rate is λ·a_k and the dropout hazard μ·b_k, with a_k = exp(γ_trans'z_trans,k) and
//! b_k = exp(γ_life'z_life,k); λ ~ Gamma(r, α), μ ~ Gamma(s, β) as in the plain model. With
//! A(τ) = ∫_0^τ a, B(τ) = ∫_0^τ b (piecewise linear) the likelihood of x repeat purchases at
//! t_1..t_x is, after integrating λ and μ out,
//!
//!   L = Π_j a(t_j) · Γ(r+x)/Γ(r) · α^r β^s · [ (α+A(T))^−(r+x) (β+B(T))^−s
//!       + s ∫_{t_x}^T b(τ) (α+A(τ))^−(r+x) (β+B(τ))^−(s+1) dτ ].
//!
//! Constant covariates give exactly the static-covariate model (α_i = α·exp(−z'γ_trans),
//! β_i = β·exp(−z'γ_life)), and zero coefficients the plain Pareto/NBD. CLVTools writes the
//! integral piece by piece with Gauss hypergeometric functions; here it is Gauss–Legendre
//! quadrature on each piece, subdivided so that a sub-interval is short against the distance
//! to the integrand's singularities and its steepness (r+x): the integrand is then a
//! polynomial to machine precision, and the gradient is the quadrature of the integrand's
//! exact gradient (the nodes do not move with the parameters).
//!
//! Free parameters: (ln r, ln α, ln s, ln β, γ_trans…, γ_life…).

pub mod fit;
pub mod pmf;
pub mod py;

use std::sync::OnceLock;

use rayon::prelude::*;

use super::super::special::{digamma, lgamma};

const NODES: usize = 10;

/// Gauss–Legendre nodes and weights on [0, 1] (Newton on P_n from Chebyshev guesses).
fn gauss_legendre() -> &'static [(f64, f64); NODES] {
    static GL: OnceLock<[(f64, f64); NODES]> = OnceLock::new();
    GL.get_or_init(|| {
        let n = NODES;
        let mut out = [(0.0, 0.0); NODES];
        for (i, o) in out.iter_mut().enumerate() {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut dp = 0.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let k = k as f64;
                    let p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let dx = p1 / dp;
                x -= dx;
                if dx.abs() < 1e-16 {
                    break;
                }
            }
            *o = (0.5 * (1.0 - x), 1.0 / ((1.0 - x * x) * dp * dp));
        }
        out
    })
}

/// Calls `f(u, weight)` at quadrature nodes covering [0, len]; `reach(u0)` is how far from u0
/// the integrand stays polynomial-like (a fraction of the distance to its singularity).
fn quad(len: f64, reach: impl Fn(f64) -> f64, mut f: impl FnMut(f64, f64)) {
    let gl = gauss_legendre();
    let mut u0 = 0.0;
    while u0 < len {
        let h = reach(u0).max(len * 1e-6).min(len - u0);
        for &(x, w) in gl {
            f(u0 + h * x, h * w);
        }
        u0 += h;
    }
}

/// Customers with their covariate paths: customer i's pieces are `off[i]..off[i+1]` of
/// `dur` (lengths, summing to T), `zt`/`zl` (row-major, kt / kl per piece); `st` (kt per
/// customer) sums the transaction covariates over the repeat purchases' pieces.
#[derive(Debug, Clone, Default)]
pub struct DynData {
    pub x: Vec<f64>,
    pub tx: Vec<f64>,
    pub t: Vec<f64>,
    pub st: Vec<f64>,
    pub off: Vec<usize>,
    pub dur: Vec<f64>,
    pub zt: Vec<f64>,
    pub zl: Vec<f64>,
    pub kt: usize,
    pub kl: usize,
}

impl DynData {
    pub fn len(&self) -> usize {
        self.x.len()
    }
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
    pub fn n_params(&self) -> usize {
        4 + self.kt + self.kl
    }

    /// Consecutive pieces of a customer with equal covariates merged into one (the
    /// likelihood is unchanged; a covariate that rarely changes then costs few pieces).
    pub fn merged(self) -> DynData {
        let (kt, kl) = (self.kt, self.kl);
        let row = |k: usize| {
            (
                &self.zt[k * kt..(k + 1) * kt],
                &self.zl[k * kl..(k + 1) * kl],
            )
        };
        let mut out = DynData {
            off: vec![0],
            ..Default::default()
        };
        for i in 0..self.off.len() - 1 {
            let mut prev: Option<usize> = None;
            for k in self.off[i]..self.off[i + 1] {
                match prev {
                    Some(p) if row(p) == row(k) => *out.dur.last_mut().unwrap() += self.dur[k],
                    _ => {
                        out.dur.push(self.dur[k]);
                        out.zt.extend_from_slice(row(k).0);
                        out.zl.extend_from_slice(row(k).1);
                        prev = Some(k);
                    }
                }
            }
            out.off.push(out.dur.len());
        }
        DynData {
            off: out.off,
            dur: out.dur,
            zt: out.zt,
            zl: out.zl,
            ..self
        }
    }
}

/// Running A(τ), B(τ) and their coefficient derivatives along a covariate path.
struct Walk {
    a: f64,
    b: f64,
    da: Vec<f64>,
    db: Vec<f64>,
}

impl Walk {
    fn new(kt: usize, kl: usize) -> Self {
        Walk {
            a: 0.0,
            b: 0.0,
            da: vec![0.0; kt],
            db: vec![0.0; kl],
        }
    }
    fn advance(&mut self, h: f64, ak: f64, bk: f64, zt: &[f64], zl: &[f64]) {
        self.a += ak * h;
        self.b += bk * h;
        self.da
            .iter_mut()
            .zip(zt)
            .for_each(|(d, z)| *d += ak * z * h);
        self.db
            .iter_mut()
            .zip(zl)
            .for_each(|(d, z)| *d += bk * z * h);
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn log_add(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Log-likelihood of customer i, P(alive at T) and (if `grad`) the gradient added into it.
fn customer(th: &[f64], d: &DynData, i: usize, grad: Option<&mut [f64]>) -> (f64, f64, Walk) {
    let (kt, kl) = (d.kt, d.kl);
    let (r, al, s, be) = (th[0].exp(), th[1].exp(), th[2].exp(), th[3].exp());
    let (gt, gl) = (&th[4..4 + kt], &th[4 + kt..4 + kt + kl]);
    let (x, tx, t) = (d.x[i], d.tx[i], d.t[i]);
    let m = r + x;
    let np = d.n_params();
    let want = grad.is_some();
    let mut w = Walk::new(kt, kl);
    // Integral part scaled by its value at t_x (the integrand's maximum): J, ∂J.
    let mut scale: Option<f64> = None;
    let mut j_int = 0.0;
    let mut g_int = vec![0.0; if want { np } else { 0 }];
    let mut c = 0.0;
    let last = d.off[i + 1];
    for k in d.off[i]..last {
        let ztk = &d.zt[k * kt..(k + 1) * kt];
        let zlk = &d.zl[k * kl..(k + 1) * kl];
        let (ak, bk) = (dot(gt, ztk).exp(), dot(gl, zlk).exp());
        if !(ak.is_finite() && bk.is_finite()) {
            // exp(γ'z) overflowed: outside the domain (the optimiser backs off)
            return (f64::NAN, f64::NAN, w);
        }
        let e = if k + 1 == last {
            t
        } else {
            (c + d.dur[k]).min(t)
        };
        if e > tx && e > c {
            let lo = c.max(tx);
            if lo > c {
                w.advance(lo - c, ak, bk, ztk, zlk);
            }
            let (a0, b0) = (al + w.a, be + w.b);
            let mf = -m * a0.ln() - (s + 1.0) * b0.ln();
            let sc = *scale.get_or_insert(mf);
            let reach = |u: f64| {
                let ra = (a0 + ak * u) / (ak * (1.0 + m / 3.0));
                let rb = (b0 + bk * u) / (bk * (1.0 + (s + 1.0) / 3.0));
                ra.min(rb)
            };
            let (wa, wb) = (&w.da, &w.db);
            quad(e - lo, reach, |u, wq| {
                let (au, bu) = (a0 + ak * u, b0 + bk * u);
                let f = bk * (-m * au.ln() - (s + 1.0) * bu.ln() - sc).exp() * wq;
                j_int += f;
                if want {
                    g_int[0] += f * (-r * au.ln());
                    g_int[1] += f * (-m * al / au);
                    g_int[2] += f * (-s * bu.ln());
                    g_int[3] += f * (-(s + 1.0) * be / bu);
                    for j in 0..kt {
                        g_int[4 + j] += f * (-m / au * (wa[j] + ak * ztk[j] * u));
                    }
                    for j in 0..kl {
                        g_int[4 + kt + j] +=
                            f * (zlk[j] - (s + 1.0) / bu * (wb[j] + bk * zlk[j] * u));
                    }
                }
            });
            w.advance(e - lo, ak, bk, ztk, zlk);
        } else {
            w.advance(e - c, ak, bk, ztk, zlk);
        }
        c = e;
    }
    let (at, bt) = (al + w.a, be + w.b);
    let l1 = -m * at.ln() - s * bt.ln();
    let l2 = match scale {
        Some(sc) if j_int > 0.0 => s.ln() + sc + j_int.ln(),
        _ => f64::NEG_INFINITY,
    };
    let lse = log_add(l1, l2);
    let p1 = (l1 - lse).exp();
    let st = &d.st[i * kt..(i + 1) * kt];
    let ll = lgamma(m) - lgamma(r) + r * al.ln() + s * be.ln() + dot(gt, st) + lse;
    if let Some(g) = grad {
        let p2 = 1.0 - p1;
        g[0] += r * (digamma(m) - digamma(r) + al.ln()) + p1 * (-r * at.ln());
        g[1] += r + p1 * (-m * al / at);
        g[2] += s * be.ln() + p1 * (-s * bt.ln());
        g[3] += s + p1 * (-s * be / bt);
        for j in 0..kt {
            g[4 + j] += st[j] + p1 * (-m / at * w.da[j]);
        }
        for j in 0..kl {
            g[4 + kt + j] += p1 * (-s / bt * w.db[j]);
        }
        if p2 > 0.0 {
            g[2] += p2;
            for (gj, v) in g.iter_mut().zip(&g_int) {
                *gj += p2 * v / j_int;
            }
        }
    }
    (ll, p1, w)
}

/// Total log-likelihood and its gradient in the free parameters.
pub fn ll_grad(th: &[f64], d: &DynData) -> (f64, Vec<f64>) {
    const CHUNK: usize = 256;
    let np = d.n_params();
    let parts: Vec<(f64, Vec<f64>)> = (0..d.len().div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut g = vec![0.0; np];
            let mut ll = 0.0;
            for i in c * CHUNK..((c + 1) * CHUNK).min(d.len()) {
                ll += customer(th, d, i, Some(&mut g)).0;
            }
            (ll, g)
        })
        .collect();
    let mut ll = 0.0;
    let mut g = vec![0.0; np];
    for (l, gi) in parts {
        ll += l;
        g.iter_mut().zip(gi).for_each(|(a, b)| *a += b);
    }
    (ll, g)
}

pub(crate) fn to_free(params: &[f64]) -> Vec<f64> {
    params
        .iter()
        .enumerate()
        .map(|(j, v)| if j < 4 { v.max(1e-300).ln() } else { *v })
        .collect()
}

/// Per customer: P(alive at T) and the expected purchases over the future pieces `future`
/// (a `DynData` whose `dur` pieces start at each customer's T; its x, t_x, t, st unused):
/// E = P(alive) · (r+x)/(α+A(T)) · ∫ a(T+u) ((β+B(T)) / (β+B(T+u)))^s du.
pub fn predict(params: &[f64], d: &DynData, future: &DynData) -> (Vec<f64>, Vec<f64>) {
    let th = to_free(params);
    let (kt, kl) = (d.kt, d.kl);
    let (r, al, s, be) = (params[0], params[1], params[2], params[3]);
    let (gt, gl) = (&th[4..4 + kt], &th[4 + kt..4 + kt + kl]);
    (0..d.len())
        .into_par_iter()
        .map(|i| {
            let (_, pa, w) = customer(&th, d, i, None);
            let (at, bt) = (al + w.a, be + w.b);
            let mut bf = 0.0;
            let mut e = 0.0;
            for k in future.off[i]..future.off[i + 1] {
                let ztk = &future.zt[k * kt..(k + 1) * kt];
                let zlk = &future.zl[k * kl..(k + 1) * kl];
                let (ak, bk) = (dot(gt, ztk).exp(), dot(gl, zlk).exp());
                if !(ak.is_finite() && bk.is_finite()) {
                    return (pa, f64::NAN);
                }
                let b0 = bt + bf;
                let reach = |u: f64| (b0 + bk * u) / (bk * (1.0 + s / 3.0));
                quad(future.dur[k], reach, |u, wq| {
                    e += wq * ak * (-s * ((b0 + bk * u) / bt).ln()).exp();
                });
                bf += bk * future.dur[k];
            }
            (pa, pa * (r + d.x[i]) / at * e)
        })
        .unzip()
}

/// Per customer: P(alive at T) and the expected purchases over (T, T + e] for each step end
/// e of `ends` (non-decreasing, in periods after T; an end beyond a customer's future path
/// counts the whole path), row-major (customer, step): `predict`'s integral accumulated once
/// along the path and read off at every end, so a CLV over m steps costs one pass, not m.
pub fn predict_steps(
    params: &[f64],
    d: &DynData,
    future: &DynData,
    ends: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let th = to_free(params);
    let (kt, kl) = (d.kt, d.kl);
    let (r, al, s, be) = (params[0], params[1], params[2], params[3]);
    let (gt, gl) = (&th[4..4 + kt], &th[4 + kt..4 + kt + kl]);
    let m = ends.len();
    let rows: Vec<(f64, Vec<f64>)> = (0..d.len())
        .into_par_iter()
        .map(|i| {
            let (_, pa, w) = customer(&th, d, i, None);
            let (at, bt) = (al + w.a, be + w.b);
            let scale = pa * (r + d.x[i]) / at;
            let mut out = Vec::with_capacity(m);
            let (mut pos, mut bf, mut e, mut next) = (0.0, 0.0, 0.0, 0);
            for k in future.off[i]..future.off[i + 1] {
                let ztk = &future.zt[k * kt..(k + 1) * kt];
                let zlk = &future.zl[k * kl..(k + 1) * kl];
                let (ak, bk) = (dot(gt, ztk).exp(), dot(gl, zlk).exp());
                if !(ak.is_finite() && bk.is_finite()) {
                    return (pa, vec![f64::NAN; m]);
                }
                let stop = pos + future.dur[k];
                // ∫ over [a, b] (absolute times within this piece) added into e
                let add = |a: f64, b: f64, e: &mut f64| {
                    let b0 = bt + bf + bk * (a - pos);
                    let reach = |u: f64| (b0 + bk * u) / (bk * (1.0 + s / 3.0));
                    quad(b - a, reach, |u, wq| {
                        *e += wq * ak * (-s * ((b0 + bk * u) / bt).ln()).exp();
                    });
                };
                let mut from = pos;
                while next < m && ends[next] <= stop {
                    let to = ends[next].max(from);
                    add(from, to, &mut e);
                    from = to;
                    out.push(scale * e);
                    next += 1;
                }
                add(from, stop, &mut e);
                bf += bk * future.dur[k];
                pos = stop;
            }
            out.resize(m, scale * e);
            (pa, out)
        })
        .collect();
    let mut pa = Vec::with_capacity(rows.len());
    let mut cum = Vec::with_capacity(rows.len() * m);
    for (p, c) in rows {
        pa.push(p);
        cum.extend(c);
    }
    (pa, cum)
}

#[cfg(test)]
mod tests;
