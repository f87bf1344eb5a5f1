#![allow(clippy::needless_range_loop)] // index loops read like the maths
//! Unconstrained minimisation for the likelihoods (on log-parameters): L-BFGS with a
//! backtracking Armijo line search, polished by Newton steps on a Hessian obtained by central
//! finite differences of the *analytic* gradient. The same Hessian gives standard errors.

/// f(x) -> (value, gradient). Non-finite values are treated as "outside the domain": the line
/// search backs off.
pub trait Objective {
    fn eval(&self, x: &[f64]) -> (f64, Vec<f64>);
    /// A reason to stop at an accepted point `x` (the optimum lies at a boundary the
    /// parameters run towards): checked after every step, so a runaway ends early and says why.
    fn stop(&self, _x: &[f64]) -> Option<String> {
        None
    }
    /// `eval` at several points at once (the Hessian's): one pass where evaluations are
    /// expensive to start (a Spark job each).
    fn eval_many(&self, xs: &[Vec<f64>]) -> Vec<(f64, Vec<f64>)> {
        xs.iter().map(|x| self.eval(x)).collect()
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Objective for F {
    fn eval(&self, x: &[f64]) -> (f64, Vec<f64>) {
        self(x)
    }
}

#[derive(Debug, Clone)]
pub struct OptResult {
    pub x: Vec<f64>,
    pub f: f64,
    pub grad: Vec<f64>,
    pub iterations: usize,
    pub converged: bool,
    pub message: String,
    /// Stopped by [`Objective::stop`]; `message` says why.
    pub stopped: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

fn finite(f: f64, g: &[f64]) -> bool {
    f.is_finite() && g.iter().all(|v| v.is_finite())
}

/// Backtracking line search along `dir` from x (value f, gradient g). Returns the new point.
fn line_search<O: Objective>(
    obj: &O,
    x: &[f64],
    f: f64,
    g: &[f64],
    dir: &[f64],
    step0: f64,
) -> Option<(Vec<f64>, f64, Vec<f64>)> {
    let slope = dot(g, dir);
    if slope >= 0.0 {
        return None;
    }
    let mut step = step0;
    for _ in 0..40 {
        let xn: Vec<f64> = x.iter().zip(dir).map(|(a, d)| a + step * d).collect();
        let (fn_, gn) = obj.eval(&xn);
        if finite(fn_, &gn) && fn_ <= f + 1e-4 * step * slope {
            return Some((xn, fn_, gn));
        }
        step *= if finite(fn_, &gn) { 0.5 } else { 0.1 };
    }
    None
}

/// Minimise `obj` from `x0`. Convergence: max |gradient| <= gtol.
pub fn minimize<O: Objective>(obj: &O, x0: &[f64], gtol: f64, max_iter: usize) -> OptResult {
    lbfgs(obj, x0, gtol, max_iter)
}

/// L-BFGS to a loose tolerance, then Newton steps (finite-difference Hessian of the exact
/// gradient: quadratic convergence near the optimum, where L-BFGS crawls and its line search
/// hits the floating-point floor of the objective), then L-BFGS again if Newton could not
/// finish (Hessian not positive definite).
pub fn minimize_hybrid<O: Objective>(obj: &O, x0: &[f64], gtol: f64, max_iter: usize) -> OptResult {
    hybrid_after_lbfgs(
        obj,
        lbfgs(obj, x0, gtol.max(1e-6), max_iter),
        gtol,
        max_iter,
    )
}

/// [`minimize_hybrid`] after its first leg, `res` = `minimize(obj, x0, gtol.max(1e-6),
/// max_iter)` (run by a caller that tried something else from there first).
pub fn hybrid_after_lbfgs<O: Objective>(
    obj: &O,
    mut res: OptResult,
    gtol: f64,
    max_iter: usize,
) -> OptResult {
    if !res.f.is_finite() || res.stopped {
        return res;
    }
    let budget = max_iter.saturating_sub(res.iterations).min(10);
    if budget > 0 {
        res.converged = false;
        newton_polish(obj, &mut res, gtol, budget);
    }
    if let Some(why) = obj.stop(&res.x) {
        res.converged = false;
        res.stopped = true;
        res.message = why;
        return res;
    }
    if !res.converged && res.iterations < max_iter {
        let more = lbfgs(obj, &res.x, gtol, max_iter - res.iterations);
        if more.f <= res.f {
            let it = res.iterations;
            res = more;
            res.iterations += it;
        }
    }
    res
}

fn lbfgs<O: Objective>(obj: &O, x0: &[f64], gtol: f64, max_iter: usize) -> OptResult {
    let n = x0.len();
    let mut x = x0.to_vec();
    let (mut f, mut g) = obj.eval(&x);
    if !finite(f, &g) {
        return OptResult {
            x,
            f,
            grad: g,
            iterations: 0,
            converged: false,
            message: "log-likelihood is not finite at the start values".into(),
            stopped: false,
        };
    }
    let m = 8;
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut iter = 0;
    let mut message = String::from("maximum number of iterations reached");
    let mut converged = false;
    let mut stopped = false;
    while iter < max_iter {
        if max_abs(&g) <= gtol {
            converged = true;
            message = "gradient below tolerance".into();
            break;
        }
        iter += 1;
        // Two-loop recursion.
        let mut q = g.clone();
        let k = s_hist.len();
        let mut alpha = vec![0.0; k];
        for i in (0..k).rev() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            alpha[i] = rho * dot(&s_hist[i], &q);
            for j in 0..n {
                q[j] -= alpha[i] * y_hist[i][j];
            }
        }
        let gamma = if k > 0 {
            dot(&s_hist[k - 1], &y_hist[k - 1]) / dot(&y_hist[k - 1], &y_hist[k - 1])
        } else {
            1.0 / max_abs(&g).max(1.0)
        };
        for v in q.iter_mut() {
            *v *= gamma;
        }
        for i in 0..k {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            let beta = rho * dot(&y_hist[i], &q);
            for j in 0..n {
                q[j] += s_hist[i][j] * (alpha[i] - beta);
            }
        }
        let mut dir: Vec<f64> = q.iter().map(|v| -v).collect();
        if dot(&dir, &g) >= 0.0 {
            s_hist.clear();
            y_hist.clear();
            dir = g.iter().map(|v| -v / max_abs(&g).max(1.0)).collect();
        }
        let Some((xn, fnew, gn)) = line_search(obj, &x, f, &g, &dir, 1.0) else {
            // Restart once from steepest descent before giving up.
            if !s_hist.is_empty() {
                s_hist.clear();
                y_hist.clear();
                continue;
            }
            message = "line search failed".into();
            break;
        };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        if dot(&s, &y) > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            s_hist.push(s);
            y_hist.push(y);
            if s_hist.len() > m {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        let df = f - fnew;
        x = xn;
        f = fnew;
        g = gn;
        if let Some(why) = obj.stop(&x) {
            message = why;
            stopped = true;
            break;
        }
        if df.abs() <= 1e-16 * f.abs().max(1.0) && max_abs(&g) <= gtol * 1e3 {
            converged = true;
            message = "no further decrease (gradient near tolerance)".into();
            break;
        }
    }
    OptResult {
        x,
        f,
        grad: g,
        iterations: iter,
        converged,
        message,
        stopped,
    }
}

/// Hessian by central differences of the analytic gradient, symmetrised.
pub fn hessian<O: Objective>(obj: &O, x: &[f64]) -> Vec<Vec<f64>> {
    let n = x.len();
    let mut h = vec![vec![0.0; n]; n];
    let eps: Vec<f64> = x.iter().map(|v| 1e-5 * v.abs().max(1.0)).collect();
    let points: Vec<Vec<f64>> = (0..2 * n)
        .map(|k| {
            let mut p = x.to_vec();
            p[k / 2] += if k % 2 == 0 { eps[k / 2] } else { -eps[k / 2] };
            p
        })
        .collect();
    let evals = obj.eval_many(&points);
    for i in 0..n {
        let (gp, gm) = (&evals[2 * i].1, &evals[2 * i + 1].1);
        for j in 0..n {
            h[i][j] = (gp[j] - gm[j]) / (2.0 * eps[i]);
        }
    }
    for i in 0..n {
        for j in 0..i {
            let v = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = v;
            h[j][i] = v;
        }
    }
    h
}

/// Hessian by forward differences of the analytic gradient (n evaluations; for Newton steps,
/// where its O(ε) error only slows convergence marginally).
pub fn hessian_forward<O: Objective>(obj: &O, x: &[f64], g: &[f64]) -> Vec<Vec<f64>> {
    let n = x.len();
    let mut h = vec![vec![0.0; n]; n];
    let eps: Vec<f64> = x.iter().map(|v| 1e-6 * v.abs().max(1.0)).collect();
    let points: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut p = x.to_vec();
            p[i] += eps[i];
            p
        })
        .collect();
    let evals = obj.eval_many(&points);
    for i in 0..n {
        let gp = &evals[i].1;
        for j in 0..n {
            h[i][j] = (gp[j] - g[j]) / eps[i];
        }
    }
    for i in 0..n {
        for j in 0..i {
            let v = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = v;
            h[j][i] = v;
        }
    }
    h
}

/// Inverse of a symmetric positive-definite matrix by Cholesky; None if not positive definite.
pub fn spd_inverse(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            if i == j {
                if s.is_nan() || s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    // Solve L L^T X = I column by column.
    let mut inv = vec![vec![0.0; n]; n];
    for c in 0..n {
        let mut y = vec![0.0; n];
        for i in 0..n {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i][k] * y[k];
            }
            y[i] = s / l[i][i];
        }
        let mut xcol = vec![0.0; n];
        for i in (0..n).rev() {
            let mut s = y[i];
            for k in i + 1..n {
                s -= l[k][i] * xcol[k];
            }
            xcol[i] = s / l[i][i];
        }
        for i in 0..n {
            inv[i][c] = xcol[i];
        }
    }
    Some(inv)
}

/// Newton polish: a few damped Newton steps with the finite-difference Hessian.
pub fn newton_polish<O: Objective>(obj: &O, res: &mut OptResult, gtol: f64, steps: usize) {
    for _ in 0..steps {
        if max_abs(&res.grad) <= gtol {
            break;
        }
        let h = hessian_forward(obj, &res.x, &res.grad);
        let Some(hi) = spd_inverse(&h) else { break };
        let dir: Vec<f64> = hi.iter().map(|row| -dot(row, &res.grad)).collect();
        // Near the optimum the decrease of a full Newton step can be below the rounding
        // noise of the objective: accept it when the gradient shrinks and f does not rise
        // beyond that noise.
        let xn: Vec<f64> = res.x.iter().zip(&dir).map(|(a, d)| a + d).collect();
        let (fnew, gn) = obj.eval(&xn);
        if finite(fnew, &gn)
            && fnew <= res.f + 1e-13 * res.f.abs().max(1.0)
            && max_abs(&gn) < 0.5 * max_abs(&res.grad)
        {
            res.x = xn;
            res.f = fnew;
            res.grad = gn;
            res.iterations += 1;
            continue;
        }
        match line_search(obj, &res.x, res.f, &res.grad, &dir, 1.0) {
            Some((xn, fnew, gn)) => {
                res.x = xn;
                res.f = fnew;
                res.grad = gn;
                res.iterations += 1;
            }
            None => break,
        }
    }
    if max_abs(&res.grad) <= gtol {
        res.converged = true;
        if !res.message.starts_with("gradient") {
            res.message = "gradient below tolerance".into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_rosenbrock() {
        let rosen = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let f = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            (f, g)
        };
        let mut r = minimize(&rosen, &[-1.2, 1.0], 1e-10, 500);
        newton_polish(&rosen, &mut r, 1e-10, 5);
        assert!(r.converged, "{}", r.message);
        assert!((r.x[0] - 1.0).abs() < 1e-8 && (r.x[1] - 1.0).abs() < 1e-8);
    }

    #[test]
    fn hessian_and_inverse_of_quadratic() {
        // f = 0.5 x^T A x with A = [[4, 1], [1, 3]].
        let q = |x: &[f64]| {
            let g = vec![4.0 * x[0] + x[1], x[0] + 3.0 * x[1]];
            (0.5 * (x[0] * g[0] + x[1] * g[1]), g)
        };
        let h = hessian(&q, &[0.3, -0.2]);
        assert!((h[0][0] - 4.0).abs() < 1e-8 && (h[0][1] - 1.0).abs() < 1e-8);
        let inv = spd_inverse(&h).unwrap();
        // A^{-1} = 1/11 [[3, -1], [-1, 4]]
        assert!((inv[0][0] - 3.0 / 11.0).abs() < 1e-8);
        assert!((inv[0][1] + 1.0 / 11.0).abs() < 1e-8);
        assert!(spd_inverse(&[vec![1.0, 2.0], vec![2.0, 1.0]]).is_none());
    }
}
