//! BG/NBD and MBG/NBD predictions for fitted parameters: P(alive), conditional and
//! unconditional expected purchases, the purchase-count PMF. Separate from the likelihood
//! (`likelihood.rs`): predictions run once per row after a fit, the likelihood many times
//! inside it, and neither uses the other's code.

use super::Variant;
use crate::models::dual::Real;
use crate::models::special::{hyp2f1_series, lbeta, lgamma};

fn log_odds_dead(p: [f64; 4], x: f64, tx: f64, t: f64, v: Variant) -> Option<f64> {
    let [r, alpha, a, b] = p;
    let lr = match v {
        Variant::Bg if x == 0.0 => return None,
        Variant::Bg => a.ln() - (b + x - 1.0).ln(),
        Variant::Mbg => a.ln() - (b + x).ln(),
    };
    Some(lr + (r + x) * ((alpha + t).ln() - (alpha + tx).ln()))
}

/// `p_alive` over many rows whose x, t_x and T are small whole numbers (day-grained
/// summaries): the logarithms come from tables indexed by value, so a row costs one exp and
/// one ln_1p instead of six transcendental calls. Same operations on the same values as
/// `p_alive`, hence the same results bit for bit.
pub struct PAliveTables {
    ln_shift: Vec<f64>,
    lr: Vec<f64>,
}

impl PAliveTables {
    const MAX: f64 = 65_536.0;

    pub fn new(p: [f64; 4], x: &[f64], tx: &[f64], t: &[f64], v: Variant) -> Option<Self> {
        use crate::models::compress::whole_max;
        let [_, alpha, a, b] = p;
        let (mx, mtx, mt) = (whole_max(x)?, whole_max(tx)?, whole_max(t)?);
        if mx > Self::MAX || mtx.max(mt) > Self::MAX {
            return None;
        }
        let ln_shift = (0..=mtx.max(mt) as usize)
            .map(|k| (alpha + k as f64).ln())
            .collect();
        let lr = (0..=mx as usize)
            .map(|k| {
                let x = k as f64;
                match v {
                    Variant::Bg => a.ln() - (b + x - 1.0).ln(),
                    Variant::Mbg => a.ln() - (b + x).ln(),
                }
            })
            .collect();
        Some(PAliveTables { ln_shift, lr })
    }

    /// P(alive) of a row of the columns the tables were built from.
    #[inline]
    pub fn get(&self, p: [f64; 4], x: f64, tx: f64, t: f64, v: Variant) -> f64 {
        if v == Variant::Bg && x == 0.0 {
            return 1.0;
        }
        let dd = self.lr[x as usize]
            + (p[0] + x) * (self.ln_shift[t as usize] - self.ln_shift[tx as usize]);
        (-Real::softplus(dd)).exp()
    }
}

/// P(alive | x, t_x, T).
pub fn p_alive(p: [f64; 4], x: f64, tx: f64, t: f64, v: Variant) -> f64 {
    match log_odds_dead(p, x, tx, t, v) {
        None => 1.0,
        Some(dd) => (-Real::softplus(dd)).exp(),
    }
}

/// The part of E[Y(t) | x, t_x, T] that does not depend on t_x:
/// E = bracket(x, T, t) · P(alive). BG/NBD (FHL 2005 eq. 10):
///   bracket = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z)],
///   z = t/(α+T+t).
/// Euler's transformation 2F1(A,B;C;z) = (1−z)^(C−A−B) 2F1(C−A, C−B; C; z) turns the product
/// into (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z), whose parameters do not grow with x and
/// whose prefactor cannot overflow. MBG/NBD is the same with b → b+1 in the 2F1 and
/// (a+b+x)/(a−1) in front.
pub fn bracket(p: [f64; 4], x: f64, t_obs: f64, t: f64, v: Variant) -> f64 {
    let [r, alpha, a, b] = p;
    if t <= 0.0 {
        return 0.0;
    }
    if (a - 1.0).abs() < 1e-7 {
        // Removable singularity at a = 1: average the two sides.
        let h = 1e-6;
        return 0.5
            * (bracket([r, alpha, 1.0 + h, b], x, t_obs, t, v)
                + bracket([r, alpha, 1.0 - h, b], x, t_obs, t, v));
    }
    let z = t / (alpha + t_obs + t);
    if z > 0.9 {
        // The series converges like z^k: near z = 1 use the integral form instead.
        return bracket_integral(p, x, t_obs, t, v);
    }
    let (front, a2, c2) = match v {
        Variant::Bg => (a + b + x - 1.0, a + b - 1.0 - r, a + b + x - 1.0),
        Variant::Mbg => (a + b + x, a + b - r, a + b + x),
    };
    let Some(s) = hyp2f1_series(a2, a - 1.0, c2, z) else {
        return bracket_integral(p, x, t_obs, t, v);
    };
    // 1 − (1−z)^(a−1) · s, as −expm1(...) for accuracy when the product is near 1.
    let inner = if s > 0.0 {
        -((a - 1.0) * (-z).ln_1p() + s.ln()).exp_m1()
    } else {
        1.0 - (1.0 - z).powf(a - 1.0) * s
    };
    front / (a - 1.0) * inner
}

/// The same bracket as an expectation over the posterior drop-out probability of a customer
/// alive at T: given λ and p, E[Y(t)] = (1 − e^(−λpt))/p; λ | x, T ~ Gamma(r+x, α+T) gives
/// E_λ = (1 − (1 + pt/(α+T))^−(r+x))/p, and p ~ Beta(a, b+x) (MBG/NBD: Beta(a, b+x+1)).
/// The integral over p ∈ (0, 1) is done by tanh-sinh quadrature in log space (endpoint
/// singularities of the Beta density are harmless), accurate to ~1e-10 at any z unless a or
/// b+x is below ~0.01.
pub fn bracket_integral(p: [f64; 4], x: f64, t_obs: f64, t: f64, v: Variant) -> f64 {
    let [r, alpha, a, b] = p;
    let b2 = match v {
        Variant::Bg => b + x,
        Variant::Mbg => b + x + 1.0,
    };
    let c = t / (alpha + t_obs);
    let lb = lbeta(a, b2);
    let h = 1.0 / 32.0;
    let half_pi = std::f64::consts::FRAC_PI_2;
    let mut acc = 0.0;
    for k in -240..=240 {
        let tau = k as f64 * h;
        let sv = half_pi * tau.sinh();
        // p = 1/(1 + e^(−2s)), 1 − p = 1/(1 + e^(2s)), both without cancellation.
        let ln_p = -Real::softplus(-2.0 * sv);
        let ln_q = -Real::softplus(2.0 * sv);
        let pv = ln_p.exp();
        let e = (-2.0 * sv.abs()).exp();
        let ln_w = (h * half_pi * tau.cosh()).ln() + 2f64.ln() - 2.0 * sv.abs() - 2.0 * e.ln_1p();
        let pc = pv * c;
        let g = if pc < 1e-8 {
            // (1 − (1+pc)^−(r+x))/p to second order; exact in the limit p → 0.
            (r + x) * c * (1.0 - 0.5 * (r + x + 1.0) * pc)
        } else {
            -(-(r + x) * pc.ln_1p()).exp_m1() / pv
        };
        if g <= 0.0 || !g.is_finite() {
            continue;
        }
        acc += ((a - 1.0) * ln_p + (b2 - 1.0) * ln_q - lb + ln_w + g.ln()).exp();
    }
    // Mass beyond the outermost nodes (p < p_min or 1 − p < q_min, both ~e^−232), which
    // matters when a or b+x is tiny: there g is constant to first order, (r+x)·c near 0 and
    // g(1) near 1, and the Beta density integrates to p_min^a / (a B) (resp. q_min^b2 / (b2 B)).
    let s_max = half_pi * (240.0 * h).sinh();
    let ln_edge = -Real::softplus(2.0 * s_max);
    let g1 = -(-(r + x) * c.ln_1p()).exp_m1();
    acc +=
        (r + x) * c * (a * ln_edge - a.ln() - lb).exp() + g1 * (b2 * ln_edge - b2.ln() - lb).exp();
    acc
}

/// E[Y(t) | x, t_x, T] (expected purchases in the next t).
pub fn cond_expected(p: [f64; 4], x: f64, tx: f64, t_obs: f64, t: f64, v: Variant) -> f64 {
    bracket(p, x, t_obs, t, v) * p_alive(p, x, tx, t_obs, v)
}

/// E[X(t)] for a new customer (observed from their first purchase).
/// BG/NBD: the conditional formula at x = 0, T = 0. MBG/NBD: Batislam et al. eq. (7),
/// E[X(t)] = b/(a−1) · [1 − (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))], which also equals the
/// conditional form at x = 0, T = 0 (P(alive) = b/(a+b) there).
pub fn uncond_expected(p: [f64; 4], t: f64, v: Variant) -> f64 {
    cond_expected(p, 0.0, 0.0, 0.0, t, v)
}

/// P(X(t) = n) for a new customer, BG/NBD (FHL 2005 eq. 8):
/// B(a,b+n)/B(a,b) · NB(n; r, α/(α+t)) + δ(n>0) B(a+1,b+n−1)/B(a,b) · P(NB >= n)... where the
/// last factor is 1 − Σ_{j<n} NB(j). MBG/NBD (Batislam eq. 6): first term with B(a, b+n+1),
/// second term B(a+1, b+n)/B(a,b) · (1 − Σ_{j<=n}... ) as below.
pub fn p_purchases(p: [f64; 4], n: u64, t: f64, v: Variant) -> f64 {
    let [r, alpha, a, b] = p;
    let nf = n as f64;
    let lq = (alpha / (alpha + t)).ln(); // ln P(success)
    let lp = (t / (alpha + t)).ln();
    let lnb = |j: f64| lgamma(r + j) - lgamma(r) - lgamma(j + 1.0) + r * lq + j * lp;
    // Tail P(NB >= k) = 1 − CDF(k−1), computed from whichever side is smaller.
    let tail = |k: u64| -> f64 {
        if k == 0 {
            return 1.0;
        }
        let cdf: f64 = (0..k).map(|j| lnb(j as f64).exp()).sum();
        if cdf < 0.5 {
            1.0 - cdf
        } else {
            let mut s = 0.0;
            let mut j = k;
            loop {
                let term = lnb(j as f64).exp();
                s += term;
                j += 1;
                if term <= 1e-17 * s || j > k + 10_000_000 {
                    break;
                }
            }
            s
        }
    };
    let lb = lbeta(a, b);
    match v {
        Variant::Bg => {
            let first = (lbeta(a, b + nf) - lb + lnb(nf)).exp();
            if n == 0 {
                first
            } else {
                first + (lbeta(a + 1.0, b + nf - 1.0) - lb).exp() * tail(n)
            }
        }
        Variant::Mbg => {
            let first = (lbeta(a, b + nf + 1.0) - lb + lnb(nf)).exp();
            first + (lbeta(a + 1.0, b + nf) - lb).exp() * tail(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [f64; 4] = [0.243, 4.414, 0.793, 2.426];

    #[test]
    fn integral_form_matches_series() {
        for v in [Variant::Bg, Variant::Mbg] {
            for &(p, x, t_obs, t) in &[
                (P, 0.0, 0.0, 10.0),
                (P, 3.0, 38.86, 39.0),
                ([0.5, 3.0, 5.0, 2.0], 7.0, 20.0, 15.0),
                ([2.0, 8.0, 0.4, 0.7], 1.0, 5.0, 30.0),
                ([0.3, 4.0, 0.02, 3.0], 2.0, 5.0, 20.0),
            ] {
                let series = bracket(p, x, t_obs, t, v);
                let integral = bracket_integral(p, x, t_obs, t, v);
                assert!(
                    (series - integral).abs() < 1e-10 * series.abs(),
                    "{v:?} {p:?} {x} {t_obs} {t}: {series} vs {integral}"
                );
            }
        }
        // Far beyond the series' range (z ≈ 1 − 1e-7) the bracket stays finite and below
        // its limit E[1/p] = (a+b+x−1)/(a−1) for a > 1.
        let p = [0.243, 4.414, 5.0, 2.426];
        let e = bracket(p, 0.0, 5.0, 1e8, Variant::Bg);
        assert!(e.is_finite() && e > 0.0 && e < (5.0 + 2.426 - 1.0) / 4.0);
    }

    #[test]
    fn p_alive_tables_reproduce_p_alive_exactly() {
        let x: Vec<f64> = (0..500).map(|i| (i % 17) as f64).collect();
        let t: Vec<f64> = (0..500).map(|i| 30.0 + (i % 11) as f64).collect();
        let tx: Vec<f64> = (0..500)
            .map(|i| if x[i] == 0.0 { 0.0 } else { (i % 31) as f64 })
            .collect();
        for v in [Variant::Bg, Variant::Mbg] {
            let tab = PAliveTables::new(P, &x, &tx, &t, v).unwrap();
            for i in 0..x.len() {
                assert_eq!(
                    tab.get(P, x[i], tx[i], t[i], v),
                    p_alive(P, x[i], tx[i], t[i], v)
                );
            }
        }
        assert!(PAliveTables::new(P, &[1.0], &[0.5], &[2.0], Variant::Bg).is_none());
        assert!(PAliveTables::new(P, &[1.0], &[1.0], &[1e6], Variant::Bg).is_none());
    }

    #[test]
    fn p_purchases_sums_to_one() {
        for v in [Variant::Bg, Variant::Mbg] {
            let s: f64 = (0..400).map(|n| p_purchases(P, n, 39.0, v)).sum();
            assert!((s - 1.0).abs() < 1e-9, "{v:?} {s}");
        }
    }
}
