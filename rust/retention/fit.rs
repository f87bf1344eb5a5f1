//! Maximum likelihood for sBG / BdW: log-parameters, exact gradients from dual numbers, the
//! models' L-BFGS + Newton optimiser, standard errors from the Hessian, and a verdict on
//! whether the data identify the parameters.

use rayon::prelude::*;

use super::likelihood::{ll, Cohort, Kind};
use crate::models::dual::Dual;
use crate::models::optim;

/// A log-parameter beyond this (a parameter above e^16 ≈ 9·10^6 or below its inverse) means
/// the likelihood kept improving towards a boundary of the parameter space: for sBG α, β → ∞
/// at a fixed ratio is the homogeneous geometric (no heterogeneity), α → 0 or β → ∞ a cohort
/// with (almost) no churn. The estimate is then not identified.
const BOUNDARY_LOG: f64 = 16.0;
/// A standard error of a log-parameter beyond this (a factor e^5 ≈ 150 either way) means the
/// likelihood is flat along that direction: the optimiser stopped somewhere on a ridge (for
/// sBG typically α, β → ∞ at a fixed ratio, where the loss of precision hides the slope).
const MAX_SE_LOG: f64 = 5.0;
/// The optimiser's wall: the objective is undefined beyond it, so line searches back off.
const WALL_LOG: f64 = 20.0;

#[derive(Clone, Debug)]
pub struct FitOut {
    pub params: Vec<f64>,
    pub se: Option<Vec<f64>>,
    pub cov: Option<Vec<Vec<f64>>>,
    pub ll: f64,
    pub converged: bool,
    pub identified: bool,
    pub iterations: usize,
    pub message: String,
    pub n_customers: f64,
    pub grad_max_abs: f64,
}

fn ll_grad(kind: Kind, th: &[f64], d: &[Cohort]) -> (f64, Vec<f64>) {
    // Gradient with respect to log-parameters: d/d ln p = p · d/dp.
    let p: Vec<f64> = th.iter().map(|t| t.exp()).collect();
    match kind {
        Kind::Sbg => {
            let v = ll(kind, &[Dual::<2>::var(p[0], 0), Dual::var(p[1], 1)], d);
            (v.v, (0..2).map(|i| v.d[i] * p[i]).collect())
        }
        Kind::Bdw => {
            let q = [
                Dual::<3>::var(p[0], 0),
                Dual::var(p[1], 1),
                Dual::var(p[2], 2),
            ];
            let v = ll(kind, &q, d);
            (v.v, (0..3).map(|i| v.d[i] * p[i]).collect())
        }
    }
}

fn objective(kind: Kind, d: &[Cohort], n: f64, th: &[f64]) -> (f64, Vec<f64>) {
    if th.iter().any(|t| !t.is_finite() || t.abs() > WALL_LOG) {
        return (f64::NAN, vec![f64::NAN; th.len()]);
    }
    let (v, g) = ll_grad(kind, th, d);
    (-v / n, g.iter().map(|x| -x / n).collect())
}

/// Start values, tried in order until one converges to an interior optimum: (1, 1) for sBG
/// (Fader & Hardie's spreadsheet), then (0.5, 3); BdW (1, 1, 1), then the sBG estimate with
/// c = 1 (its nested model), fitted only when needed.
fn next_start(kind: Kind, d: &[Cohort], i: usize, max_iter: usize) -> Option<Vec<f64>> {
    match (kind, i) {
        (Kind::Sbg, 0) => Some(vec![1.0, 1.0]),
        (Kind::Sbg, 1) => Some(vec![0.5, 3.0]),
        (Kind::Bdw, 0) => Some(vec![1.0, 1.0, 1.0]),
        (Kind::Bdw, 1) => {
            let s = fit(Kind::Sbg, d, None, max_iter);
            s.identified.then(|| vec![s.params[0], s.params[1], 1.0])
        }
        _ => None,
    }
}

/// Fit one parameter set to the pooled cohorts.
pub fn fit(kind: Kind, d: &[Cohort], start: Option<Vec<f64>>, max_iter: usize) -> FitOut {
    let n: f64 = d.iter().map(|c| c.size()).sum();
    let obj = |th: &[f64]| objective(kind, d, n, th);
    let given = start.is_some();
    let mut best: Option<optim::OptResult> = None;
    for i in 0.. {
        let s = match (i, &start) {
            (0, Some(s)) => s.clone(),
            _ if given => break,
            _ => match next_start(kind, d, i, max_iter) {
                Some(s) => s,
                None => break,
            },
        };
        let th0: Vec<f64> = s.iter().map(|v| v.max(1e-8).ln()).collect();
        let res = optim::minimize_hybrid(&obj, &th0, 1e-10, max_iter);
        // an interior optimum ends the search; a start that ran off to a boundary tries the next
        let done = res.converged && res.x.iter().all(|t| t.abs() <= BOUNDARY_LOG);
        let better = match &best {
            None => true,
            Some(b) => res.f.is_finite() && (!b.f.is_finite() || res.f < b.f - 1e-12),
        };
        if better {
            best = Some(res);
        }
        if done {
            break;
        }
    }
    let res = best.expect("at least one start");
    let params: Vec<f64> = res.x.iter().map(|t| t.exp()).collect();
    let boundary = res.x.iter().any(|t| t.abs() > BOUNDARY_LOG);
    let h = optim::hessian(&obj, &res.x);
    let htot: Vec<Vec<f64>> = h
        .iter()
        .map(|r| r.iter().map(|v| v * n).collect())
        .collect();
    let cov_log = optim::spd_inverse(&htot).filter(|_| !boundary);
    let flat: Vec<usize> = cov_log
        .as_ref()
        .map(|c| {
            (0..c.len())
                .filter(|&i| c[i][i].is_nan() || c[i][i].sqrt() > MAX_SE_LOG)
                .collect()
        })
        .unwrap_or_default();
    let (se, cov) = match cov_log.filter(|_| flat.is_empty()) {
        Some(c) => {
            let k = params.len();
            let cov: Vec<Vec<f64>> = (0..k)
                .map(|i| (0..k).map(|j| c[i][j] * params[i] * params[j]).collect())
                .collect();
            let se: Vec<f64> = (0..k).map(|i| cov[i][i].sqrt()).collect();
            if se.iter().all(|v| v.is_finite()) {
                (Some(se), Some(cov))
            } else {
                (None, None)
            }
        }
        None => (None, None),
    };
    let identified = !boundary && se.is_some() && res.f.is_finite();
    let message = if !res.f.is_finite() {
        "log-likelihood is not finite".to_string()
    } else if boundary {
        let names = kind.param_names();
        let which: Vec<String> = res
            .x
            .iter()
            .zip(names)
            .filter(|(t, _)| t.abs() > BOUNDARY_LOG)
            .map(|(t, n)| format!("{n} → {}", if *t > 0.0 { "∞" } else { "0" }))
            .collect();
        format!(
            "parameters not identified: the likelihood keeps rising towards {} (too few \
             periods, no churn, or no sign of heterogeneity)",
            which.join(", ")
        )
    } else if !flat.is_empty() {
        let names = kind.param_names();
        let which: Vec<&str> = flat.iter().map(|&i| names[i]).collect();
        format!(
            "parameters not identified: the likelihood is flat in {} (standard error of the \
             log beyond {MAX_SE_LOG}; no sign of heterogeneity, or too few periods)",
            which.join(", ")
        )
    } else if se.is_none() {
        "parameters not identified: the Hessian is not positive definite at the optimum".into()
    } else {
        res.message.clone()
    };
    FitOut {
        ll: -res.f * n,
        converged: res.converged && identified,
        identified,
        iterations: res.iterations,
        grad_max_abs: res.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs())),
        message,
        params,
        se,
        cov,
        n_customers: n,
    }
}

/// Fit each cohort on its own, in parallel.
pub fn fit_each(kind: Kind, cohorts: &[Cohort], max_iter: usize) -> Vec<FitOut> {
    cohorts
        .par_iter()
        .map(|c| fit(kind, std::slice::from_ref(c), None, max_iter))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cohort(s: &[f64]) -> Vec<Cohort> {
        vec![Cohort::from_survivors(s)]
    }

    #[test]
    fn reproduces_fader_hardie_2007() {
        // "How to project customer retention", 7 years of the two cohorts.
        let reg = fit(
            Kind::Sbg,
            &cohort(&[1000., 631., 468., 382., 326., 289., 262., 241.]),
            None,
            500,
        );
        assert!(reg.converged, "{}", reg.message);
        assert!((reg.params[0] - 0.704).abs() < 5e-4 && (reg.params[1] - 1.182).abs() < 5e-4);
        let high = fit(
            Kind::Sbg,
            &cohort(&[1000., 869., 743., 653., 593., 551., 517., 491.]),
            None,
            500,
        );
        assert!((high.params[0] - 0.668).abs() < 5e-4 && (high.params[1] - 3.806).abs() < 5e-4);
        assert!((high.ll - -1611.2).abs() < 0.05, "{}", high.ll);
    }

    #[test]
    fn bdw_nests_sbg() {
        let d = cohort(&[1000., 631., 468., 382., 326., 289., 262., 241.]);
        let s = fit(Kind::Sbg, &d, None, 500);
        let w = fit(Kind::Bdw, &d, None, 500);
        assert!(w.ll >= s.ll - 1e-8);
        let fixed = super::super::likelihood::ll(Kind::Bdw, &[s.params[0], s.params[1], 1.0], &d);
        assert!((fixed - s.ll).abs() < 1e-8 * s.ll.abs());
    }

    #[test]
    fn no_churn_and_one_period_are_not_identified() {
        assert!(!fit(Kind::Sbg, &cohort(&[100., 100., 100., 100.]), None, 500).identified);
        assert!(!fit(Kind::Sbg, &cohort(&[100., 60.]), None, 500).identified);
        // a constant retention rate: the homogeneous geometric, α, β → ∞
        let geo = fit(
            Kind::Sbg,
            &cohort(&[10000., 5000., 2500., 1250., 625.]),
            None,
            500,
        );
        assert!(!geo.identified, "{:?}", geo.params);
        assert!(geo.message.contains("not identified"));
    }
}
