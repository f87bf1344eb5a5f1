//! A new customer's PMF P(X(t) = n) for every n = 0..N at many horizons t in one call: the
//! frequency table of a backtest needs it at every distinct T of the summary (2,159 hourly
//! values on hour periods), and evaluating P one (n, t) at a time cost seconds.
//!
//! - BG/NBD and MBG/NBD (closed form): the Beta ratios B(a, b+n)/B(a, b) do not depend on t
//!   (once per call), the NB terms follow a recurrence in n and the tails are running sums.
//! - Pareto/NBD and GGom/NBD condition on the death time τ:
//!   P(n, t) = NB(n; r, α/(α+t)) S(t) + ∫_0^t NB(n; r, α/(α+τ)) f(τ) dτ,
//!   with NB the gamma–Poisson count up to τ, S and f the survival and death density. The
//!   integrand of every n shares ln(α/(α+τ)) and ln(τ/(α+τ)) (`quad_vec`, one integral for
//!   all n), and it does not depend on t: the integral up to each of the sorted horizons is
//!   the running sum of the integrals over the gaps between them (in parallel), so all the
//!   horizons cost about one integral over [0, max t].
//!
//! The scalar P(n, t) of these two models is the same integral with one component.

use rayon::prelude::*;

use super::quad_vec::integrate_vec;
use super::special::{lbeta, lgamma};

/// Relative accuracy of each P(n, t)'s integral.
const REL: f64 = 1e-12;

/// The death-time process of a model: ln f(τ), ln S(t) and the scale over which they change
/// near τ = 0 (where the start panels of the integral are placed).
trait Lifetime: Sync {
    fn ln_density(&self, tau: f64) -> f64;
    fn ln_survival(&self, t: f64) -> f64;
    fn scale(&self) -> f64;
}

/// Pareto/NBD's lifetime: μ ~ Gamma(s, β), f(τ) = s β^s (β+τ)^−(s+1), S(t) = (β/(β+t))^s.
struct Pareto {
    s: f64,
    beta: f64,
}

impl Lifetime for Pareto {
    fn ln_density(&self, tau: f64) -> f64 {
        self.s.ln() + self.s * self.beta.ln() - (self.s + 1.0) * (self.beta + tau).ln()
    }
    fn ln_survival(&self, t: f64) -> f64 {
        -self.s * (t / self.beta).ln_1p()
    }
    fn scale(&self) -> f64 {
        self.beta
    }
}

/// GGom/NBD's lifetime (Bemmaor & Glady 2012): S(t) = (β/(β − 1 + e^{bt}))^s,
/// f(τ) = b s β^s e^{bτ} (β − 1 + e^{bτ})^−(s+1).
struct Gompertz {
    b: f64,
    s: f64,
    beta: f64,
}

/// ln(β + e^y − 1) for y >= 0 (as `ggom_nbd`'s, on f64).
fn ln_beta_exp(beta: f64, y: f64) -> f64 {
    if y > 1.0 {
        y + ((beta - 1.0) * (-y).exp()).ln_1p()
    } else {
        (beta + y.exp_m1()).ln()
    }
}

impl Lifetime for Gompertz {
    fn ln_density(&self, tau: f64) -> f64 {
        let Gompertz { b, s, beta } = *self;
        b.ln() + s.ln() + s * beta.ln() + b * tau - (s + 1.0) * ln_beta_exp(beta, b * tau)
    }
    fn ln_survival(&self, t: f64) -> f64 {
        self.s * (self.beta.ln() - ln_beta_exp(self.beta, self.b * t))
    }
    /// Near τ = 0, ln(β − 1 + e^{bτ}) moves at the rate b/β: over β/b for β < 1, over 1/b
    /// for larger β (e^{bτ} then sets the pace).
    fn scale(&self) -> f64 {
        self.beta.min(1.0) / self.b
    }
}

/// The gamma–Poisson purchases up to τ of a model with a [`Lifetime`], for counts
/// n0, n0+1, …, n0+k−1.
struct DeathTime<L> {
    r: f64,
    alpha: f64,
    life: L,
    n0: u64,
    /// ln Γ(r+n) − ln Γ(r) − ln n! per count.
    coef: Vec<f64>,
    first: f64,
}

impl<L: Lifetime> DeathTime<L> {
    fn new(r: f64, alpha: f64, life: L, n0: u64, k: usize) -> Self {
        let mut c = lgamma(r + n0 as f64) - lgamma(r) - lgamma(n0 as f64 + 1.0);
        let coef = (0..k as u64)
            .map(|i| {
                let n = (n0 + i) as f64;
                if i > 0 {
                    c += ((r + n - 1.0) / n).ln();
                }
                c
            })
            .collect();
        let first = 0.5 * alpha.min(life.scale());
        DeathTime {
            r,
            alpha,
            life,
            n0,
            coef,
            first,
        }
    }

    /// NB(n; r, α/(α+τ)) · e^{extra} for each count into `out`.
    fn nb(&self, tau: f64, extra: f64, out: &mut [f64]) {
        let lp = -(tau / self.alpha).ln_1p();
        let lq = (tau / (self.alpha + tau)).ln();
        let base = self.r * lp + extra;
        for (i, (o, c)) in out.iter_mut().zip(&self.coef).enumerate() {
            let n = (self.n0 + i as u64) as f64;
            // n ln q is 0 at n = 0 even where q = 0.
            let nq = if n == 0.0 { 0.0 } else { n * lq };
            *o = (c + base + nq).exp();
        }
    }

    fn integrand(&self) -> impl Fn(f64, &mut [f64]) + '_ {
        move |tau: f64, out: &mut [f64]| self.nb(tau, self.life.ln_density(tau), out)
    }

    /// The alive-throughout term at t.
    fn alive(&self, t: f64) -> Vec<f64> {
        let mut out = vec![0.0; self.coef.len()];
        self.nb(t, self.life.ln_survival(t), &mut out);
        out
    }

    /// The dead-by-t integral over [a, b].
    fn dead(&self, a: f64, b: f64) -> Vec<f64> {
        // Past a the integrand changes over at least a quarter of a.
        let first = self.first.max(0.25 * a);
        integrate_vec(&self.integrand(), self.coef.len(), a, b, first, REL)
    }

    /// P(n, t) for the counts of `self` at one t.
    fn at(&self, t: f64) -> Vec<f64> {
        let k = self.coef.len();
        if t.is_nan() {
            return vec![f64::NAN; k];
        }
        if t <= 0.0 {
            return (0..k).map(|i| unit(self.n0 + i as u64)).collect();
        }
        let mut p = self.alive(t);
        for (v, d) in p.iter_mut().zip(self.dead(0.0, t)) {
            *v += d;
        }
        p
    }

    /// Rows P(n0.., t_i) for every t_i: the integral up to each distinct horizon is the
    /// running sum over the gaps between the sorted horizons.
    fn rows(&self, ts: &[f64]) -> Vec<Vec<f64>> {
        let k = self.coef.len();
        let mut u: Vec<f64> = ts
            .iter()
            .copied()
            .filter(|t| t.is_finite() && *t > 0.0)
            .collect();
        u.sort_by(f64::total_cmp);
        u.dedup();
        let gaps: Vec<Vec<f64>> = (0..u.len())
            .into_par_iter()
            .map(|i| self.dead(if i == 0 { 0.0 } else { u[i - 1] }, u[i]))
            .collect();
        let mut acc = vec![0.0; k];
        let dead: Vec<Vec<f64>> = gaps
            .into_iter()
            .map(|g| {
                for (a, v) in acc.iter_mut().zip(g) {
                    *a += v;
                }
                acc.clone()
            })
            .collect();
        ts.par_iter()
            .map(|&t| match u.binary_search_by(|v| v.total_cmp(&t)) {
                Ok(i) => {
                    let mut p = self.alive(t);
                    for (v, d) in p.iter_mut().zip(&dead[i]) {
                        *v += d;
                    }
                    p
                }
                // t <= 0, NaN or infinite
                Err(_) => self.at(if t.is_infinite() { f64::NAN } else { t }),
            })
            .collect()
    }
}

/// [n = 0]: the PMF at t = 0.
fn unit(n: u64) -> f64 {
    if n == 0 {
        1.0
    } else {
        0.0
    }
}

/// Pareto/NBD P(X(t) = n), n = 0..=nmax, per horizon.
pub fn pareto_nbd_rows(p: [f64; 4], ts: &[f64], nmax: u64) -> Vec<Vec<f64>> {
    let [r, alpha, s, beta] = p;
    DeathTime::new(r, alpha, Pareto { s, beta }, 0, nmax as usize + 1).rows(ts)
}

/// Pareto/NBD P(X(t) = n) alone.
pub fn pareto_nbd(p: [f64; 4], n: u64, t: f64) -> f64 {
    let [r, alpha, s, beta] = p;
    DeathTime::new(r, alpha, Pareto { s, beta }, n, 1).at(t)[0]
}

/// GGom/NBD P(X(t) = n), n = 0..=nmax, per horizon.
pub fn ggom_nbd_rows(p: [f64; 5], ts: &[f64], nmax: u64) -> Vec<Vec<f64>> {
    let [r, alpha, b, s, beta] = p;
    DeathTime::new(r, alpha, Gompertz { b, s, beta }, 0, nmax as usize + 1).rows(ts)
}

/// GGom/NBD P(X(t) = n) alone: the tests' check of the table against `ggom_nbd::p_purchases`,
/// which stays the model's scalar (its own bounded integral, 2000 panels at most).
#[cfg(test)]
pub fn ggom_nbd(p: [f64; 5], n: u64, t: f64) -> f64 {
    let [r, alpha, b, s, beta] = p;
    DeathTime::new(r, alpha, Gompertz { b, s, beta }, n, 1).at(t)[0]
}

/// BG/NBD (FHL 2005 eq. 8) or MBG/NBD (Batislam et al. eq. 6) P(X(t) = n), n = 0..=nmax, per
/// horizon: the same terms as `bgnbd::predict::p_purchases`, whose tails P(NB >= n) it
/// also takes from 1 − CDF while the CDF is below 1/2 and from the upper sum after.
pub fn bg_nbd_rows(p: [f64; 4], ts: &[f64], nmax: u64, modified: bool) -> Vec<Vec<f64>> {
    let [r, alpha, a, b] = p;
    let k = nmax as usize + 1;
    let lb = lbeta(a, b);
    // MBG/NBD: a customer may also drop out at time 0 (one more Beta step).
    let shift = if modified { 1.0 } else { 0.0 };
    // Beta ratios of the "alive" and "dropped out after the n-th" terms.
    let first: Vec<f64> = (0..k)
        .map(|n| (lbeta(a, b + n as f64 + shift) - lb).exp())
        .collect();
    let second: Vec<f64> = (0..k)
        .map(|n| match (modified, n) {
            (false, 0) => 0.0,
            _ => (lbeta(a + 1.0, b + n as f64 + shift - 1.0) - lb).exp(),
        })
        .collect();
    // ln(Γ(r+j)/(Γ(r) j!)) recurrence step j−1 → j.
    let step = |j: f64| ((r + j - 1.0) / j).ln();
    ts.par_iter()
        .map(|&t| {
            if t.is_nan() || t.is_infinite() {
                return vec![f64::NAN; k];
            }
            if t <= 0.0 {
                return (0..k as u64).map(unit).collect();
            }
            let lq = -(t / alpha).ln_1p();
            let lp = (t / (alpha + t)).ln();
            let mut l = r * lq;
            let nb: Vec<f64> = (0..k)
                .map(|j| {
                    if j > 0 {
                        l += step(j as f64) + lp;
                    }
                    l.exp()
                })
                .collect();
            // cdf[n] = Σ_{j<n} NB(j); tail(n) = P(NB >= n).
            let mut cdf = vec![0.0; k];
            for n in 1..k {
                cdf[n] = cdf[n - 1] + nb[n - 1];
            }
            let mut tail = vec![0.0; k];
            if cdf[k - 1] >= 0.5 {
                // Σ_{j >= nmax} NB(j), continuing the recurrence (the scalar's stopping rule).
                let (mut s, mut j, mut lj) = (0.0, k as u64 - 1, l);
                loop {
                    let term = lj.exp();
                    s += term;
                    j += 1;
                    if term <= 1e-17 * s || j > k as u64 + 10_000_000 {
                        break;
                    }
                    lj += step(j as f64) + lp;
                }
                tail[k - 1] = s;
                for n in (0..k - 1).rev() {
                    tail[n] = tail[n + 1] + nb[n];
                }
            }
            (0..k)
                .map(|n| {
                    let tl = if cdf[n] < 0.5 { 1.0 - cdf[n] } else { tail[n] };
                    first[n] * nb[n] + second[n] * tl
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
#[path = "new_pmf_tests.rs"]
mod tests;
