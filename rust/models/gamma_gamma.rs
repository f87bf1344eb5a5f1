//! Gamma-Gamma spend model (Fader & Hardie 2013 note; Colombo & Jiang 1999), parameters
//! (p, q, v). For a customer with x > 0 repeat transactions of mean value m:
//!   ln L = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(v+mx)
//! (the density of the mean m̄). Expected spend: p(v + m x)/(p x + q − 1).

use super::compress::{par_sum, Data};
use super::dual::Real;

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

pub fn expected_spend(p: [f64; 3], x: f64, m: f64) -> f64 {
    let [pp, q, v] = p;
    pp * (v + m * x) / (pp * x + q - 1.0)
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
