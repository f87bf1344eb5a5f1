//! Log-likelihood of cohorts under sBG / BdW, generic over `Real` so that one function gives
//! the value (f64) and its exact gradient (dual numbers).
//!
//! A cohort is summarised by counts: `lost[t − 1]` customers with T = t (cancelled at the t-th
//! renewal point) and `censored[t]` customers still active after t renewals when observation
//! ended (T > t). Then
//!
//!   LL = Σ_t lost[t−1] · ln P(T = t) + Σ_t censored[t] · ln S(t).
//!
//! sBG: P(T = t) = B(α + 1, β + t − 1) / B(α, β) (Fader & Hardie 2007, eq. 5).
//! BdW: P(T = t) = S(t − 1) − S(t), computed as S(t − 1) · (−expm1(ln S(t) − ln S(t − 1)))
//! so small differences keep their precision. At c = 1 both are the same function of (α, β).

use crate::models::dual::Real;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sbg,
    Bdw,
}

impl Kind {
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "sbg" => Some(Kind::Sbg),
            "bdw" => Some(Kind::Bdw),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sbg => "sbg",
            Kind::Bdw => "bdw",
        }
    }
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            Kind::Sbg => &["alpha", "beta"],
            Kind::Bdw => &["alpha", "beta", "c"],
        }
    }
    pub fn n_params(self) -> usize {
        self.param_names().len()
    }
}

/// Counts of one cohort (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cohort {
    pub lost: Vec<f64>,
    pub censored: Vec<f64>,
}

impl Cohort {
    /// Customers in the cohort.
    pub fn size(&self) -> f64 {
        self.lost.iter().sum::<f64>() + self.censored.iter().sum::<f64>()
    }
    /// Survivors after t renewals, t = 0..=K, when every customer is observed equally long
    /// (the survivor-count form); with unequal observation the counts of those still observed.
    pub fn from_survivors(survivors: &[f64]) -> Cohort {
        let k = survivors.len().saturating_sub(1);
        let lost = (0..k).map(|t| survivors[t] - survivors[t + 1]).collect();
        let mut censored = vec![0.0; k + 1];
        if let Some(last) = survivors.last() {
            censored[k] = *last;
        }
        Cohort { lost, censored }
    }
    /// The last period with information (a loss or a still-active customer).
    pub fn horizon(&self) -> usize {
        let l = self
            .lost
            .iter()
            .rposition(|&v| v > 0.0)
            .map_or(0, |i| i + 1);
        let c = self.censored.iter().rposition(|&v| v > 0.0).unwrap_or(0);
        l.max(c)
    }
}

/// t^c for whole t ≥ 0 (exact at t = 0 and 1, where the power does not depend on c).
#[inline]
fn tpow<R: Real>(c: Option<R>, t: f64) -> R {
    match c {
        Some(c) if t > 1.0 => (c * t.ln()).exp(),
        _ => R::cst(t),
    }
}

/// ln S(t) given ln B(α, β).
#[inline]
pub fn ln_surv<R: Real>(al: R, be: R, c: Option<R>, lb0: R, t: f64) -> R {
    if t <= 0.0 {
        return R::cst(0.0);
    }
    R::lbeta(al, be + tpow(c, t)) - lb0
}

fn split<R: Real>(kind: Kind, p: &[R]) -> (R, R, Option<R>) {
    match kind {
        Kind::Sbg => (p[0], p[1], None),
        Kind::Bdw => (p[0], p[1], Some(p[2])),
    }
}

/// ln P(T = t), t ≥ 1.
#[inline]
pub fn ln_pmf<R: Real>(kind: Kind, p: &[R], lb0: R, t: f64) -> R {
    let (al, be, c) = split(kind, p);
    match kind {
        Kind::Sbg => R::lbeta(al + 1.0, be + (t - 1.0)) - lb0,
        Kind::Bdw => {
            let prev = ln_surv(al, be, c, lb0, t - 1.0);
            let cur = ln_surv(al, be, c, lb0, t);
            prev + (-(cur - prev).exp_m1()).ln()
        }
    }
}

/// Log-likelihood of one cohort.
pub fn ll_cohort<R: Real>(kind: Kind, p: &[R], d: &Cohort) -> R {
    let (al, be, c) = split(kind, p);
    let lb0 = R::lbeta(al, be);
    let mut acc = R::cst(0.0);
    for (i, &n) in d.lost.iter().enumerate() {
        if n > 0.0 {
            acc += ln_pmf(kind, p, lb0, (i + 1) as f64) * n;
        }
    }
    for (t, &n) in d.censored.iter().enumerate() {
        if n > 0.0 && t > 0 {
            acc += ln_surv(al, be, c, lb0, t as f64) * n;
        }
    }
    acc
}

/// Log-likelihood of several cohorts sharing one parameter set.
pub fn ll<R: Real>(kind: Kind, p: &[R], cohorts: &[Cohort]) -> R {
    let mut acc = R::cst(0.0);
    for d in cohorts {
        acc += ll_cohort(kind, p, d);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::dual::Dual;
    use crate::models::special::lbeta;

    fn regular() -> Cohort {
        Cohort::from_survivors(&[1000., 631., 468., 382., 326., 289., 262., 241.])
    }

    #[test]
    fn survivors_become_counts() {
        let d = regular();
        assert_eq!(d.lost, vec![369., 163., 86., 56., 37., 27., 21.]);
        assert_eq!(d.censored[7], 241.0);
        assert_eq!(d.size(), 1000.0);
        assert_eq!(d.horizon(), 7);
    }

    #[test]
    fn bdw_at_c_one_is_sbg() {
        let d = regular();
        for (a, b) in [(0.704, 1.182), (2.0, 0.3), (0.05, 40.0)] {
            let s = ll_cohort(Kind::Sbg, &[a, b], &d);
            let w = ll_cohort(Kind::Bdw, &[a, b, 1.0], &d);
            assert!((s - w).abs() <= 1e-11 * s.abs(), "{s} vs {w}");
        }
    }

    #[test]
    fn pmf_sums_with_survival() {
        // Σ_{t ≤ K} P(T = t) + S(K) = 1 for both models.
        for (kind, p) in [
            (Kind::Sbg, vec![0.7, 1.2]),
            (Kind::Bdw, vec![0.7, 1.2, 0.6]),
        ] {
            let lb0 = lbeta(p[0], p[1]);
            let c = (kind == Kind::Bdw).then(|| p[2]);
            let tot: f64 = (1..=30)
                .map(|t| ln_pmf(kind, &p, lb0, t as f64).exp())
                .sum::<f64>()
                + ln_surv(p[0], p[1], c, lb0, 30.0).exp();
            assert!((tot - 1.0).abs() < 1e-12, "{kind:?} {tot}");
        }
    }

    #[test]
    fn dual_gradient_matches_finite_differences() {
        let d = regular();
        let p = [0.8, 1.5, 0.9];
        let g = ll_cohort(
            Kind::Bdw,
            &[
                Dual::<3>::var(p[0], 0),
                Dual::var(p[1], 1),
                Dual::var(p[2], 2),
            ],
            &d,
        );
        for i in 0..3 {
            let h = 1e-6;
            let (mut up, mut dn) = (p, p);
            up[i] += h;
            dn[i] -= h;
            let fd = (ll_cohort(Kind::Bdw, &up, &d) - ll_cohort(Kind::Bdw, &dn, &d)) / (2.0 * h);
            assert!(
                (g.d[i] - fd).abs() < 1e-4 * fd.abs().max(1.0),
                "{i}: {} {fd}",
                g.d[i]
            );
        }
    }
}
