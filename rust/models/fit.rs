//! Maximum likelihood on compressed patterns for any [`Likelihood`]: log-parameters, two
//! starts, L-BFGS polished by Newton steps, standard errors from the Hessian.

use super::compress::Data;
use super::model::{Likelihood, LimitOptimum};
pub use super::objective::FitOut;
use super::objective::{sample_optimum, warm_start, Obj};
use super::optim;

pub fn fit_data<M: Likelihood>(
    m: &M,
    d: &Data,
    start: Option<Vec<f64>>,
    max_iter: usize,
) -> FitOut {
    if let Some(out) = m
        .limit_fit(d, start.as_deref(), max_iter)
        .and_then(|o| limit_out(o, d))
    {
        return out;
    }
    // A Newton fit that gave up hands over its start and its L-BFGS run from there, which
    // are the first start and the first leg of the L-BFGS path below: not computed twice.
    let handover = match super::newton::fit_or_handover(m, d, start.as_deref(), max_iter) {
        Ok(out) => return out,
        Err(h) => h,
    };
    let wsum = d.total_weight();
    let (first, done) = match (handover, start) {
        (Some(h), _) => (h.first, h.lbfgs),
        (None, Some(s)) => (s, None),
        (None, None) => (warm_start(m, d, m.start_values(d), max_iter), None),
    };
    optimise(m, &Obj { m, d, wsum }, first, done, wsum, d.len(), max_iter)
}

/// The fit record of a limit optimum; None without a positive-definite Hessian there.
fn limit_out(o: LimitOptimum, d: &Data) -> Option<FitOut> {
    let c = optim::spd_inverse(&o.hess_log)?;
    let n = o.params.len();
    // delta method: se(θ) = θ · se(ln θ)
    let cov: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| c[i][j] * o.params[i] * o.params[j])
                .collect()
        })
        .collect();
    let se = (0..n).map(|i| cov[i][i].sqrt()).collect();
    Some(FitOut {
        ll: o.ll,
        converged: true,
        message: o.message,
        iterations: o.iterations,
        grad_norm: o.grad_norm,
        boundary: None,
        params: o.params,
        se: Some(se),
        cov: Some(cov),
        n_patterns: d.len(),
        n_obs: d.total_weight(),
    })
}

/// The log-likelihood of data held elsewhere (summed over Spark partitions) and its
/// gradient in the log-parameters, evaluated by `total`, as the fit's objective; `sample`
/// (some of the patterns, with the longest T) stands in for the data where the fit reads
/// the data themselves: start values and boundary diagnoses.
struct External<'a, M> {
    m: &'a M,
    total: Total<'a>,
    sample: &'a Data,
    wsum: f64,
}

/// The total log-likelihood and gradient at each of several log-parameter vectors.
pub type Total<'a> = &'a dyn Fn(&[Vec<f64>]) -> Vec<(f64, Vec<f64>)>;

impl<M: Likelihood> optim::Objective for External<'_, M> {
    fn eval(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        self.eval_many(&[theta.to_vec()]).remove(0)
    }
    fn eval_many(&self, thetas: &[Vec<f64>]) -> Vec<(f64, Vec<f64>)> {
        let ok = |th: &Vec<f64>| th.iter().all(|t| t.is_finite() && t.abs() <= 30.0);
        let wanted: Vec<Vec<f64>> = thetas.iter().filter(|th| ok(th)).cloned().collect();
        let mut got = if wanted.is_empty() {
            Vec::new()
        } else {
            (self.total)(&wanted)
        }
        .into_iter();
        thetas
            .iter()
            .map(|th| {
                // outside the domain: the line search backs off, as in a local fit
                let nan = (f64::NAN, vec![f64::NAN; th.len()]);
                if !ok(th) {
                    return nan;
                }
                match got.next() {
                    Some((ll, g)) if g.len() == th.len() => (
                        -ll / self.wsum,
                        g.iter().map(|gi| -gi / self.wsum).collect(),
                    ),
                    _ => nan,
                }
            })
            .collect()
    }
    fn stop(&self, theta: &[f64]) -> Option<String> {
        let p: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
        self.m.boundary(&p, self.sample)
    }
}

/// [`fit_data`] on `n_patterns` patterns of total weight `wsum` that are not here: `total`
/// returns their log-likelihood and its gradient in the log-parameters (the sum of
/// [`Likelihood::ll_grad_log`] over the parts). Without `start`, the fit starts from the
/// optimum on `sample`, as a local fit on many patterns starts from a subsample's.
pub fn fit_external<M: Likelihood>(
    m: &M,
    total: Total<'_>,
    sample: &Data,
    wsum: f64,
    n_patterns: usize,
    start: Option<Vec<f64>>,
    max_iter: usize,
) -> FitOut {
    let first = match start {
        Some(s) => s,
        None => sample_optimum(m, sample, m.start_values(sample), max_iter),
    };
    let obj = External {
        m,
        total,
        sample,
        wsum,
    };
    optimise(m, &obj, first, None, wsum, n_patterns, max_iter)
}

/// The optimiser and standard errors of a fit from `first`, with the mean negative
/// log-likelihood `obj`; `done`: the first L-BFGS leg from `first`, if already run.
#[allow(clippy::too_many_arguments)]
fn optimise<M: Likelihood, O: optim::Objective>(
    m: &M,
    obj: &O,
    first: Vec<f64>,
    mut done: Option<optim::OptResult>,
    wsum: f64,
    n_patterns: usize,
    max_iter: usize,
) -> FitOut {
    let gtol = 1e-9;
    // A second, lifetimes-like start (all parameters e^0.1 times the data scale) if needed.
    let second = m.second_start(&first);
    let mut best: Option<optim::OptResult> = None;
    for s in [first, second] {
        let th0: Vec<f64> = s.iter().map(|v| v.max(1e-8).ln()).collect();
        let res = match done.take() {
            Some(leg) => optim::hybrid_after_lbfgs(obj, leg, gtol, max_iter),
            None => optim::minimize_hybrid(obj, &th0, gtol, max_iter),
        };
        let better = match &best {
            None => true,
            Some(b) => res.f.is_finite() && (!b.f.is_finite() || res.f < b.f - 1e-12),
        };
        let conv = res.converged;
        if better {
            best = Some(res);
        }
        if conv {
            break;
        }
    }
    let res = best.expect("at least one start");
    let params: Vec<f64> = res.x.iter().map(|t| t.exp()).collect();
    // Covariance of log-params: inverse Hessian of the total negative log-likelihood;
    // delta method: se(θ) = θ · se(log θ).
    let h = optim::hessian(obj, &res.x);
    let htot: Vec<Vec<f64>> = h
        .iter()
        .map(|row| row.iter().map(|v| v * wsum).collect())
        .collect();
    let cov_log = optim::spd_inverse(&htot);
    let (se, cov) = match cov_log {
        Some(c) => {
            let n = params.len();
            let cov: Vec<Vec<f64>> = (0..n)
                .map(|i| (0..n).map(|j| c[i][j] * params[i] * params[j]).collect())
                .collect();
            (Some((0..n).map(|i| cov[i][i].sqrt()).collect()), Some(cov))
        }
        None => (None, None),
    };
    FitOut {
        ll: -res.f * wsum,
        converged: res.converged && se.is_some(),
        message: if se.is_none() && res.converged {
            "Hessian is not positive definite at the optimum".into()
        } else {
            res.message.clone()
        },
        iterations: res.iterations,
        grad_norm: res.grad.iter().fold(0.0_f64, |a, g| a.max(g.abs())),
        boundary: res.stopped.then(|| res.message.clone()),
        params,
        se,
        cov,
        n_patterns,
        n_obs: wsum,
    }
}

#[cfg(test)]
mod tests {
    use super::super::bgnbd::{BgNbd, Variant};
    use super::super::compress::compress;
    use super::super::model::Likelihood;
    use super::*;

    /// Summaries of a simulated BG/NBD population.
    fn population(n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let t: Vec<f64> = (0..n).map(|i| 20.0 + (i % 20) as f64).collect();
        let k = crate::models::model_for("bg_nbd").unwrap();
        let (x, tx) = k
            .simulate_summary(&[0.5, 5.0, 0.7, 2.5], &t, 7, Some(1.0))
            .unwrap();
        (x, tx, t)
    }

    #[test]
    fn external_fit_on_summed_parts_is_the_local_fit() {
        let m = BgNbd(Variant::Bg);
        let (x, tx, t) = population(3000);
        let all = compress(&x, &tx, &t, None);
        let want = fit_data(&m, &all, None, 500);
        // two parts with no pattern in common, as Spark's hash partitions of the patterns
        let (a, b): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|i| i % 3 == 0);
        let part = |idx: &[usize]| {
            let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect::<Vec<_>>();
            compress(
                &pick(&all.x),
                &pick(&all.tx),
                &pick(&all.t),
                Some(&pick(&all.w)),
            )
        };
        let parts = [part(&a), part(&b)];
        let total = |thetas: &[Vec<f64>]| -> Vec<(f64, Vec<f64>)> {
            thetas
                .iter()
                .map(|th| {
                    let (l0, g0) = m.ll_grad_log(th, &parts[0]);
                    let (l1, g1) = m.ll_grad_log(th, &parts[1]);
                    (l0 + l1, g0.iter().zip(&g1).map(|(p, q)| p + q).collect())
                })
                .collect()
        };
        let wsum = all.total_weight();
        let got = fit_external(&m, &total, &parts[1], wsum, all.len(), None, 500);
        assert!(
            want.converged && got.converged,
            "{} / {}",
            want.message,
            got.message
        );
        assert_eq!(got.n_patterns, want.n_patterns);
        for (g, w) in got.params.iter().zip(&want.params) {
            assert!(
                (g / w - 1.0).abs() < 1e-8,
                "{:?} vs {:?}",
                got.params,
                want.params
            );
        }
        assert!((got.ll - want.ll).abs() < 1e-9 * want.ll.abs());
    }
}
