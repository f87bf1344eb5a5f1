//! Projections from fitted parameters: survival S(t), retention r(t) = S(t)/S(t−1), the
//! expected discounted residual lifetime (DERL) of a customer who has renewed k times, and
//! its retention elasticity.
//!
//! DERL(d | k) = Σ_{j≥0} S(k+1+j)/S(k) · (1+d)^(−j): the expected number of further periods
//! paid for, each discounted to the coming renewal point (Fader & Hardie 2010, "Customer-base
//! valuation in a contractual setting: the perils of ignoring heterogeneity"). For sBG it is
//! the closed form (β+k)/(α+β+k) · ₂F₁(1, β+k+1; α+β+k+1; 1/(1+d)).
//!
//! Truncation: with w_j the j-th term, S decreasing gives w_{j+1} ≤ w_j·q (q = 1/(1+d)), so
//! after term J the rest is at most w_J·q/(1−q). Sums stop when that bound is below
//! `REL_TOL` times the partial sum: the reported value is within a relative 1e-13 of the
//! infinite sum. The ₂F₁ series has the same bound (its term ratio (b+j)/(c+j)·z < z).

use super::likelihood::{ln_surv, Kind};
use crate::models::special::lbeta;

pub const REL_TOL: f64 = 1e-13;
/// A sum needing more terms than this has a discount rate too small to be summed (d ≲ 1e-7).
pub const MAX_TERMS: usize = 50_000_000;

fn lns(kind: Kind, p: &[f64], lb0: f64, t: f64) -> f64 {
    let c = (kind == Kind::Bdw).then(|| p[2]);
    ln_surv(p[0], p[1], c, lb0, t)
}

/// S(t) at each t.
pub fn survival(kind: Kind, p: &[f64], t: &[f64]) -> Vec<f64> {
    let lb0 = lbeta(p[0], p[1]);
    t.iter().map(|&t| lns(kind, p, lb0, t).exp()).collect()
}

/// r(t) = S(t)/S(t−1), t ≥ 1: the share of the customers active after t−1 renewals who
/// make the t-th.
pub fn retention(kind: Kind, p: &[f64], t: &[f64]) -> Vec<f64> {
    let lb0 = lbeta(p[0], p[1]);
    t.iter()
        .map(|&t| (lns(kind, p, lb0, t) - lns(kind, p, lb0, t - 1.0)).exp())
        .collect()
}

/// ₂F₁(1, b; c; z) for 0 ≤ z < 1 and 0 < b < c by its series.
pub fn hyp2f1_1(b: f64, c: f64, z: f64) -> Result<f64, String> {
    let mut term = 1.0;
    let mut sum = 1.0;
    let bound = z / (1.0 - z);
    for j in 0..MAX_TERMS {
        let jf = j as f64;
        term *= (b + jf) / (c + jf) * z;
        sum += term;
        if term * bound <= REL_TOL * sum {
            return Ok(sum);
        }
    }
    Err("the series did not converge: discount rate too small".into())
}

/// sBG closed form of DERL(d | k renewals).
pub fn derl_sbg(p: &[f64], k: f64, d: f64) -> Result<f64, String> {
    let (a, b) = (p[0], p[1]);
    let f = hyp2f1_1(b + k + 1.0, a + b + k + 1.0, 1.0 / (1.0 + d))?;
    Ok((b + k) / (a + b + k) * f)
}

/// (Σ w_j, Σ (j+1)·w_j) with w_j = S(k+1+j)/S(k)·(1+d)^(−j), each within the bound.
fn sums(kind: Kind, p: &[f64], k: f64, d: f64) -> Result<(f64, f64), String> {
    let lb0 = lbeta(p[0], p[1]);
    let base = lns(kind, p, lb0, k);
    let lq = -(d.ln_1p());
    let q = 1.0 / (1.0 + d);
    let (mut s0, mut s1) = (0.0, 0.0);
    for j in 0..MAX_TERMS {
        let jf = j as f64;
        let w = (lns(kind, p, lb0, k + 1.0 + jf) - base + jf * lq).exp();
        s0 += w;
        s1 += (jf + 1.0) * w;
        let tail0 = w * q / (1.0 - q);
        let tail1 = w * ((jf + 1.0) * q / (1.0 - q) + q / ((1.0 - q) * (1.0 - q)));
        if (tail0 <= REL_TOL * s0 && tail1 <= REL_TOL * s1) || s0 == 0.0 && w == 0.0 {
            return Ok((s0, s1));
        }
    }
    Err("the sum did not converge: discount rate too small".into())
}

/// DERL(d | k renewals) by the truncated sum (any model).
pub fn derl_sum(kind: Kind, p: &[f64], k: f64, d: f64) -> Result<f64, String> {
    sums(kind, p, k, d).map(|s| s.0)
}

/// DERL: the closed form for sBG, the sum for BdW.
pub fn derl(kind: Kind, p: &[f64], k: f64, d: f64) -> Result<f64, String> {
    match kind {
        Kind::Sbg => derl_sbg(p, k, d),
        Kind::Bdw => derl_sum(kind, p, k, d),
    }
}

/// Retention elasticity of DERL: the % change in residual lifetime value per 1% increase in
/// every future period's individual retention probability (the limit ε → 0 of Fader & Hardie
/// 2010's "1% increase"). Raising each renewal probability by the factor (1+ε) multiplies
/// the j-th term by (1+ε)^(j+1), so the elasticity is Σ (j+1)·w_j / Σ w_j.
pub fn elasticity(kind: Kind, p: &[f64], k: f64, d: f64) -> Result<f64, String> {
    let (s0, s1) = sums(kind, p, k, d)?;
    Ok(if s0 > 0.0 { s1 / s0 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_matches_the_sum() {
        let p = [0.668, 3.806];
        for k in [0.0, 1.0, 7.0, 30.0] {
            for d in [0.1, 0.01] {
                let a = derl_sbg(&p, k, d).unwrap();
                let b = derl_sum(Kind::Sbg, &p, k, d).unwrap();
                let c = derl_sum(Kind::Bdw, &[p[0], p[1], 1.0], k, d).unwrap();
                assert!((a - b).abs() < 1e-11 * a, "{k} {d}: {a} {b}");
                assert!((a - c).abs() < 1e-11 * a, "{k} {d}: {a} {c}");
            }
        }
    }

    #[test]
    fn homogeneous_limit() {
        // α, β large at θ = α/(α+β): DERL → (1−θ)(1+d)/(d+θ).
        let (th, d) = (0.2, 0.1);
        let p = [th * 1e7, (1.0 - th) * 1e7];
        let v = derl_sbg(&p, 3.0, d).unwrap();
        let want = (1.0 - th) * (1.0 + d) / (d + th);
        assert!((v - want).abs() < 1e-5, "{v} {want}");
        // the elasticity of a geometric sum: Σ(j+1)ρ^(j+1)q^j / Σ ρ^(j+1)q^j = 1/(1−ρq)
        let e = elasticity(Kind::Sbg, &p, 3.0, d).unwrap();
        let rho_q = (1.0 - th) / (1.0 + d);
        assert!((e - 1.0 / (1.0 - rho_q)).abs() < 1e-5, "{e}");
    }

    #[test]
    fn survival_and_retention() {
        let p = [0.704, 1.182];
        let s = survival(Kind::Sbg, &p, &[0.0, 1.0, 12.0]);
        assert_eq!(s[0], 1.0);
        assert!((s[1] - 1.182 / (0.704 + 1.182)).abs() < 1e-14);
        // year-12 projection of the regular cohort (paper: 0.170 vs 0.173 actual)
        assert!((s[2] - 0.170).abs() < 1.5e-3, "{}", s[2]);
        let r = retention(Kind::Sbg, &p, &[3.0]);
        assert!((r[0] - (1.182 + 2.0) / (0.704 + 1.182 + 2.0)).abs() < 1e-13);
    }
}
