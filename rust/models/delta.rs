//! Prediction intervals by the delta method: the prediction's standard error from the
//! inverse Hessian of the log-parameters and the prediction's gradient in them.
//!
//! Per distinct (x, t_x, T) pattern the prediction f is evaluated at θ̂ and at θ̂ with one
//! log-parameter moved by ±h (central differences, 2K + 1 evaluations for K parameters,
//! against one per draw for [`super::intervals::quantile_rows`]). The interval is normal on a
//! link scale that keeps it inside the prediction's range: ln f for expected purchases and
//! CLV (asymmetric on the natural scale, positive), logit f for probabilities:
//!   g = link(f),  se² = ∇g(ln θ̂)ᵀ Σ_log ∇g(ln θ̂),  bounds = link⁻¹(g ± z·se).
//! A pattern whose link value is not finite (f = 0 at horizon 0, P(alive) = 1 with no repeat
//! purchase) takes the interval of f itself, clipped to the range.
//!
//! With Gamma-Gamma spend the CLV is purchases × spend with independent parameter blocks (two
//! likelihoods that share no parameter: the joint information matrix is block-diagonal), so
//! on the log scale the variances add: se² = se²(ln E) + se²(ln spend), the spend part
//! analytic per row (see [`SpendDelta`]).

use pyo3::PyResult;
use rayon::prelude::*;

use super::compress::Cols;
use super::intervals::{check_quantity, patterns, per_pattern, Quantity};
use super::model::{params, BtydModel};
use super::spend::expected_spend;
use crate::error::core_err;

/// Step of the central differences on the log-parameters: small against the parameters'
/// standard errors, large against the predictions' rounding (relative ~1e-13 for the series,
/// ~1e-10 for GGom/NBD's quadrature, i.e. ≤ 1e-6 in the gradient).
const H: f64 = 1e-4;

#[derive(Clone, Copy)]
enum Link {
    Log,
    Logit,
}

impl Link {
    fn of(q: Quantity<'_>) -> Link {
        match q {
            Quantity::Discounted { .. } => Link::Log,
            Quantity::PAlive | Quantity::Conditional { .. } => Link::Logit,
        }
    }
    fn apply(self, v: f64) -> f64 {
        match self {
            Link::Log => v.ln(),
            Link::Logit => (v / (1.0 - v)).ln(),
        }
    }
    fn inverse(self, g: f64) -> f64 {
        match self {
            Link::Log => g.exp(),
            Link::Logit => 1.0 / (1.0 + (-g).exp()),
        }
    }
    fn top(self) -> f64 {
        match self {
            Link::Log => f64::INFINITY,
            Link::Logit => 1.0,
        }
    }
}

/// One pattern's interval before the rows: on the link scale, or (`linked` false) on the
/// natural scale where the link value is not finite.
#[derive(Clone, Copy)]
struct Normal {
    center: f64,
    var: f64,
    linked: bool,
}

/// Gamma-Gamma's part of a CLV interval: the monetary value per row and the estimate and
/// log-scale covariance of (p, q, v). With s = E[spend | x, m] = p(v + x m)/(p x + q − 1):
///   ∂ ln s/∂ ln p = 1 − p x/(p x + q − 1),  ∂ ln s/∂ ln q = −q/(p x + q − 1),
///   ∂ ln s/∂ ln v = v/(v + x m).
pub struct SpendDelta<'a> {
    pub monetary: &'a [f64],
    pub theta: [f64; 3],
    pub cov_log: [[f64; 3]; 3],
}

impl SpendDelta<'_> {
    /// (ln s, var ln s) of one row.
    fn log_moments(&self, x: f64, m: f64) -> (f64, f64) {
        let [p, q, v] = self.theta;
        let den = p * x + q - 1.0;
        let g = [1.0 - p * x / den, -q / den, v / (v + x * m)];
        (
            expected_spend(self.theta, x, m).ln(),
            quad_form(&g, |i, j| self.cov_log[i][j]),
        )
    }
}

fn quad_form(g: &[f64], cov: impl Fn(usize, usize) -> f64) -> f64 {
    let k = g.len();
    (0..k)
        .map(|i| (0..k).map(|j| g[i] * cov(i, j) * g[j]).sum::<f64>())
        .sum()
}

/// Log-scale covariance Σ_log[i][j] = cov[i][j] / (θ_i θ_j) from the natural-scale one the fit
/// returns (it applied the delta method the other way).
pub fn log_covariance(theta: &[f64], cov: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, String> {
    let k = theta.len();
    if cov.len() != k || cov.iter().any(|r| r.len() != k) {
        return Err(format!("covariance must be {k} x {k}"));
    }
    if theta.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
        return Err("parameters must be positive and finite".into());
    }
    let s: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| cov[i][j] / (theta[i] * theta[j])).collect())
        .collect();
    if s.iter().flatten().any(|v| !v.is_finite()) || (0..k).any(|i| s[i][i] < 0.0) {
        return Err("the covariance has a non-finite or negative-variance entry".into());
    }
    Ok(s)
}

/// Per-row (lower, upper) bounds of the central interval with standard normal quantile `z`
/// by the delta method (see the module documentation); with `spend`, the CLV interval with
/// the Gamma-Gamma spend's parameter uncertainty added.
pub fn delta_rows<M: BtydModel>(
    m: &M,
    theta: &[f64],
    cov_log: &[Vec<f64>],
    z: f64,
    q: Quantity<'_>,
    c: Cols<'_>,
    spend: Option<SpendDelta<'_>>,
) -> PyResult<(Vec<f64>, Vec<f64>)> {
    let p0 = params(m, theta)?;
    check_quantity(m, q)?;
    let k = theta.len();
    if cov_log.len() != k || cov_log.iter().any(|r| r.len() != k) {
        return Err(core_err(format!("covariance must be {k} x {k}")));
    }
    let link = Link::of(q);
    if spend.is_some() && !matches!(link, Link::Log) {
        return Err(core_err("a spend model's uncertainty applies to CLV only"));
    }
    if let Some(s) = &spend {
        if s.monetary.len() != c.x.len() {
            return Err(core_err("monetary column has a different length"));
        }
    }
    // θ̂, then θ̂ with log-parameter i moved by +h and by −h.
    let mut ps = vec![p0];
    for i in 0..k {
        for sign in [1.0, -1.0] {
            let mut v = theta.to_vec();
            v[i] *= (sign * H).exp();
            ps.push(params(m, &v)?);
        }
    }
    let (uniq, idx) = patterns(c);
    let top = link.top();
    let per = per_pattern(m, &ps, q, &uniq, |_, v| {
        let f0 = v[0];
        if v.iter().any(|x| !x.is_finite()) {
            return Normal {
                center: f64::NAN,
                var: f64::NAN,
                linked: false,
            };
        }
        let g: Vec<f64> = v.iter().map(|&x| link.apply(x)).collect();
        let linked = g.iter().all(|x| x.is_finite());
        let val = |i: usize| if linked { g[i] } else { v[i] };
        let grad: Vec<f64> = (0..k)
            .map(|i| (val(1 + 2 * i) - val(2 + 2 * i)) / (2.0 * H))
            .collect();
        Normal {
            center: if linked { g[0] } else { f0 },
            var: quad_form(&grad, |i, j| cov_log[i][j]).max(0.0),
            linked,
        }
    });
    let bounds = |n: &Normal, shift: f64, extra: f64| -> (f64, f64) {
        let half = z * (n.var + extra).sqrt();
        if n.linked {
            (
                link.inverse(n.center + shift - half),
                link.inverse(n.center + shift + half),
            )
        } else {
            let scale = shift.exp();
            (
                ((n.center - half).max(0.0) * scale).min(top),
                ((n.center + half) * scale).min(top),
            )
        }
    };
    let x = c.x;
    Ok(idx
        .par_iter()
        .enumerate()
        .with_min_len(4096)
        .map(|(i, &j)| {
            let n = &per[j as usize];
            match &spend {
                None => bounds(n, 0.0, 0.0),
                Some(s) => {
                    let (ls, vs) = s.log_moments(x[i], s.monetary[i]);
                    if n.linked {
                        bounds(n, ls, vs)
                    } else {
                        bounds(n, ls, 0.0)
                    }
                }
            }
        })
        .unzip())
}

/// Standard normal quantile Φ⁻¹(u), 0 < u < 1 (Acklam's rational approximation, relative
/// error below 1.2e-9: far below what an interval bound needs).
pub fn norm_quantile(u: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |p: f64| {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if u < 0.02425 {
        tail(u)
    } else if u > 1.0 - 0.02425 {
        -tail(1.0 - u)
    } else {
        let q = u - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::bgnbd::{BgNbd, Variant};
    use crate::models::intervals::{normal_draws, quantile_rows};

    #[test]
    fn norm_quantile_matches_known_values() {
        assert!((norm_quantile(0.95) - 1.644_853_626_951_472_2).abs() < 1e-8);
        assert!((norm_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-8);
        assert!((norm_quantile(0.001) + 3.090_232_306_167_813_5).abs() < 1e-7);
        assert_eq!(norm_quantile(0.5), 0.0);
    }

    /// With many draws the draws' interval and the delta interval of one prediction agree
    /// to a few percent of their width when the parameters are well determined.
    #[test]
    fn delta_agrees_with_many_draws() {
        let m = BgNbd(Variant::Bg);
        let p = [0.243, 4.414, 0.793, 2.426];
        let s = [0.01, 0.15, 0.05, 0.2];
        let cov: Vec<Vec<f64>> = (0..4)
            .map(|i| {
                (0..4)
                    .map(|j| if i == j { s[i] * s[i] } else { 0.0 })
                    .collect()
            })
            .collect();
        let (x, tx, t) = ([0.0, 2.0, 5.0], [0.0, 30.0, 20.0], [38.0, 38.0, 38.0]);
        let c = Cols {
            x: &x,
            tx: &tx,
            t: &t,
        };
        let draws = normal_draws(&p, &cov, 20_000, 4).unwrap();
        let cov_log = log_covariance(&p, &cov).unwrap();
        let z = norm_quantile(0.95);
        let qs = [
            Quantity::Discounted {
                times: &[39.0],
                disc: &[1.0],
            },
            Quantity::PAlive,
        ];
        for q in qs {
            let (dl, dh) = quantile_rows(&m, &draws, q, c, [0.05, 0.95], None).unwrap();
            let (ll, lh) = delta_rows(&m, &p, &cov_log, z, q, c, None).unwrap();
            for i in 0..3 {
                let w = dh[i] - dl[i];
                if w == 0.0 {
                    assert_eq!((ll[i], lh[i]), (dl[i], dh[i]), "{i}");
                    continue;
                }
                assert!((ll[i] - dl[i]).abs() < 0.05 * w, "{i}: {} {}", ll[i], dl[i]);
                assert!((lh[i] - dh[i]).abs() < 0.05 * w, "{i}: {} {}", lh[i], dh[i]);
            }
        }
    }

    #[test]
    fn spend_uncertainty_widens_the_clv_interval() {
        let m = BgNbd(Variant::Bg);
        let p = [0.243, 4.414, 0.793, 2.426];
        let cov: Vec<Vec<f64>> = (0..4)
            .map(|i| {
                (0..4)
                    .map(|j| if i == j { 1e-3 * p[i] * p[i] } else { 0.0 })
                    .collect()
            })
            .collect();
        let cov_log = log_covariance(&p, &cov).unwrap();
        let (x, tx, t) = ([0.0, 3.0], [0.0, 30.0], [38.0, 38.0]);
        let c = Cols {
            x: &x,
            tx: &tx,
            t: &t,
        };
        let q = Quantity::Discounted {
            times: &[39.0],
            disc: &[1.0],
        };
        let z = norm_quantile(0.95);
        let (l0, h0) = delta_rows(&m, &p, &cov_log, z, q, c, None).unwrap();
        let sp = SpendDelta {
            monetary: &[0.0, 40.0],
            theta: [6.25, 3.74, 15.44],
            cov_log: [[0.01, 0.0, 0.0], [0.0, 0.01, 0.0], [0.0, 0.0, 0.01]],
        };
        let (l1, h1) = delta_rows(&m, &p, &cov_log, z, q, c, Some(sp)).unwrap();
        for i in 0..2 {
            let s = expected_spend([6.25, 3.74, 15.44], x[i], [0.0, 40.0][i]);
            assert!(l1[i] < l0[i] * s && h1[i] > h0[i] * s, "{i}");
        }
    }
}
