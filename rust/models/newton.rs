//! Maximum likelihood by Newton's method, for models with an analytic Hessian
//! (`Likelihood::ll_hess_log`). Why: on poorly compressible data (continuous times, a pattern
//! per customer) every evaluation is a pass over up to millions of rows. L-BFGS with Newton
//! polish by finite differences (`fit.rs`) needs ~25–35 of them and 8 more for the standard
//! errors' Hessian; Newton from a subsample's optimum needs 3–5, and the Hessian of the last
//! one gives the standard errors. It only claims a fit it is sure of (gradient below the
//! tolerance, positive-definite Hessian there); anything else (a boundary, a Hessian that
//! stays indefinite, no convergence in `MAX_STEPS`) returns None and `fit.rs` runs its
//! L-BFGS path as before.

use super::compress::Data;
use super::model::Likelihood;
use super::objective::{warm_start, FitOut, Obj, WARM_MIN};
use super::optim::{minimize, spd_inverse, OptResult};

/// Newton steps before handing back to `fit.rs` (2–4 are typical from where they start).
const MAX_STEPS: usize = 20;
/// Convergence: max |∂(mean log-likelihood)/∂ln θ|, as in `fit.rs`.
const GTOL: f64 = 1e-9;
/// Where L-BFGS hands over to Newton.
const GTOL_LOOSE: f64 = 1e-6;

/// Mean negative log-likelihood, its gradient and Hessian in the log-parameters.
pub type Eval = (f64, Vec<f64>, Vec<Vec<f64>>);

fn eval<M: Likelihood>(m: &M, d: &Data, wsum: f64, theta: &[f64]) -> Option<Eval> {
    if theta.iter().any(|t| !t.is_finite() || t.abs() > 30.0) {
        return None;
    }
    let (ll, g, h) = m.ll_hess_log(theta, d)?;
    let g: Vec<f64> = g.iter().map(|v| -v / wsum).collect();
    let h: Vec<Vec<f64>> = h
        .iter()
        .map(|row| row.iter().map(|v| -v / wsum).collect())
        .collect();
    let ok = ll.is_finite() && g.iter().chain(h.iter().flatten()).all(|v| v.is_finite());
    ok.then_some((-ll / wsum, g, h))
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0_f64, |m, a| m.max(a.abs()))
}

/// −H⁻¹ g; None unless H is positive definite (then this is no place for Newton steps).
fn direction(h: &[Vec<f64>], g: &[f64]) -> Option<Vec<f64>> {
    let inv = spd_inverse(h)?;
    Some(
        inv.iter()
            .map(|row| -row.iter().zip(g).map(|(a, b)| a * b).sum::<f64>())
            .collect(),
    )
}

struct Optimum {
    theta: Vec<f64>,
    f: f64,
    grad: Vec<f64>,
    hess: Vec<Vec<f64>>,
    steps: usize,
}

/// One damped Newton step from `x` (value `f`, gradient `g`, Hessian `h`): the Newton
/// direction, capped, then halved until it decreases enough; None when the Hessian is not
/// positive definite or no trial point is accepted. Shared by `newton` and
/// `minimize_newton`, which differ only in how a point is evaluated and when they stop.
fn damped_step(
    eval: impl Fn(&[f64]) -> Option<Eval>,
    x: &[f64],
    f: f64,
    g: &[f64],
    h: &[Vec<f64>],
) -> Option<(Vec<f64>, Eval)> {
    let mut dir = direction(h, g)?;
    // Far from the optimum a full step can leave the region where the quadratic model
    // means anything: at most a factor e^3 per parameter per step.
    let big = max_abs(&dir);
    if big > 3.0 {
        dir.iter_mut().for_each(|v| *v *= 3.0 / big);
    }
    let slope: f64 = g.iter().zip(&dir).map(|(a, b)| a * b).sum();
    let mut t = 1.0;
    for _ in 0..40 {
        let xn: Vec<f64> = x.iter().zip(&dir).map(|(a, b)| a + t * b).collect();
        match eval(&xn) {
            // Armijo, or (near the optimum, where the decrease is below the rounding
            // noise of the sum) no rise beyond that noise while the gradient shrinks.
            Some((fnew, gn, hn))
                if fnew <= f + 1e-4 * t * slope
                    || (fnew <= f + 1e-13 * f.abs().max(1.0)
                        && max_abs(&gn) < 0.5 * max_abs(g)) =>
            {
                return Some((xn, (fnew, gn, hn)));
            }
            Some(_) => t *= 0.5,
            None => t *= 0.1,
        }
    }
    None
}

/// Damped Newton from `theta` to max |g| <= gtol; None if it does not get there.
fn newton<M: Likelihood>(m: &M, d: &Data, theta: Vec<f64>, gtol: f64) -> Option<Optimum> {
    let wsum = d.total_weight();
    let (mut f, mut g, mut h) = eval(m, d, wsum, &theta)?;
    let mut x = theta;
    for steps in 0..MAX_STEPS {
        if max_abs(&g) <= gtol {
            return Some(Optimum {
                theta: x,
                f,
                grad: g,
                hess: h,
                steps,
            });
        }
        if steps > 0 {
            let p: Vec<f64> = x.iter().map(|t| t.exp()).collect();
            if m.boundary(&p, d).is_some() {
                return None;
            }
        }
        (x, (f, g, h)) = damped_step(|xn| eval(m, d, wsum, xn), &x, f, &g, &h)?;
    }
    None
}

/// What a Newton fit that gave up leaves to `fit::fit_data`'s L-BFGS path: the start it
/// took (natural scale: `fit_data`'s own first start) and, when it ran L-BFGS from there to
/// the loose tolerance first, that run, which is the first leg of `fit_data`'s
/// `optim::minimize_hybrid` from the same start (so the fallback does not repeat it).
pub struct Handover {
    pub first: Vec<f64>,
    pub lbfgs: Option<OptResult>,
}

/// The fit of `fit::fit_data` by Newton steps, or None (no analytic Hessian, or not sure).
pub fn fit<M: Likelihood>(
    m: &M,
    d: &Data,
    start: Option<&[f64]>,
    max_iter: usize,
) -> Option<FitOut> {
    fit_or_handover(m, d, start, max_iter).ok()
}

/// [`fit`], or where it is not sure what it computed on the way (None: nothing).
pub fn fit_or_handover<M: Likelihood>(
    m: &M,
    d: &Data,
    start: Option<&[f64]>,
    max_iter: usize,
) -> Result<FitOut, Option<Handover>> {
    let wsum = d.total_weight();
    let ln = |p: &[f64]| -> Vec<f64> { p.iter().map(|v| v.max(1e-8).ln()).collect() };
    // Does the model have a Hessian at all? (Asked on one row: nothing else is spent.)
    if m.ll_hess_log(&vec![0.0; m.n_params()], &Data::row(1.0, 0.5, 1.0))
        .is_none()
    {
        return Err(None);
    }
    let obj = Obj { m, d, wsum };
    // Near the optimum, where Newton steps converge: from a subsample's optimum on many
    // patterns (see `objective::warm_start`), else by L-BFGS to a loose tolerance.
    let near = match start {
        None if d.len() < WARM_MIN => m.newton_start(d, max_iter),
        _ => None,
    };
    let (theta0, handover) = match (start, near) {
        (None, _) if d.len() >= WARM_MIN => {
            let first = warm_start(m, d, m.start_values(d), max_iter);
            let th = ln(&first);
            (th, Handover { first, lbfgs: None })
        }
        // The model's own start; the L-BFGS path would start from the moments.
        (None, Some(near)) => {
            let first = m.start_values(d);
            (ln(&near), Handover { first, lbfgs: None })
        }
        _ => {
            let first = start.map_or_else(|| m.start_values(d), |s| s.to_vec());
            let res = minimize(&obj, &ln(&first), GTOL_LOOSE, max_iter);
            let th = res.x.clone();
            let stop = res.stopped || !res.f.is_finite();
            let handover = Handover {
                first,
                lbfgs: Some(res),
            };
            if stop {
                return Err(Some(handover));
            }
            (th, handover)
        }
    };
    from_near(m, d, theta0, max_iter).ok_or(Some(handover))
}

/// Newton steps from `theta0` near the optimum to the fit with its standard errors, or None.
fn from_near<M: Likelihood>(m: &M, d: &Data, theta0: Vec<f64>, max_iter: usize) -> Option<FitOut> {
    let wsum = d.total_weight();
    let o = newton(m, d, theta0, GTOL)?;
    if o.steps > max_iter {
        return None;
    }
    // Covariance of the log-parameters: inverse Hessian of the total negative
    // log-likelihood; delta method: se(θ) = θ · se(ln θ).
    let htot: Vec<Vec<f64>> = o
        .hess
        .iter()
        .map(|row| row.iter().map(|v| v * wsum).collect())
        .collect();
    let c = spd_inverse(&htot)?;
    let params: Vec<f64> = o.theta.iter().map(|t| t.exp()).collect();
    let n = params.len();
    let cov: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| c[i][j] * params[i] * params[j]).collect())
        .collect();
    let se = (0..n).map(|i| cov[i][i].sqrt()).collect();
    Some(FitOut {
        ll: -o.f * wsum,
        converged: true,
        message: "gradient below tolerance".into(),
        iterations: o.steps,
        grad_norm: max_abs(&o.grad),
        boundary: None,
        params,
        se: Some(se),
        cov: Some(cov),
        n_patterns: d.len(),
        n_obs: wsum,
    })
}

/// An optimum of [`minimize_newton`]: the point, the objective, its gradient and Hessian there
/// (the Hessian gives the standard errors), and the Newton steps taken.
pub struct NewtonOptimum {
    pub theta: Vec<f64>,
    pub f: f64,
    pub grad: Vec<f64>,
    pub hess: Vec<Vec<f64>>,
    pub steps: usize,
}

/// Damped Newton on any objective with a Hessian (`eval`: objective, gradient and Hessian at
/// a point, None outside the domain), from `theta` to max |g| <= `gtol` in at most
/// `max_steps` steps; None when it does not get there or the Hessian is not positive
/// definite on the way (the caller then falls back to a quasi-Newton fit). For objectives
/// that are not one `Likelihood` over patterns (the covariate models' rows, for example).
pub fn minimize_newton<E>(
    eval: E,
    theta: Vec<f64>,
    gtol: f64,
    max_steps: usize,
) -> Option<NewtonOptimum>
where
    E: Fn(&[f64]) -> Option<Eval>,
{
    let ok = |e: &Eval| {
        e.0.is_finite()
            && e.1
                .iter()
                .chain(e.2.iter().flatten())
                .all(|v| v.is_finite())
    };
    let (mut f, mut g, mut h) = eval(&theta).filter(ok)?;
    let mut x = theta;
    for steps in 0..=max_steps {
        if max_abs(&g) <= gtol {
            return Some(NewtonOptimum {
                theta: x,
                f,
                grad: g,
                hess: h,
                steps,
            });
        }
        if steps == max_steps {
            break;
        }
        (x, (f, g, h)) = damped_step(|xn| eval(xn).filter(ok), &x, f, &g, &h)?;
    }
    None
}
