//! BG/NBD and MBG/NBD log-likelihood and its gradient: what every evaluation of a fit runs.
//! Separate from the predictions (`predict.rs`), which use none of it, and from the second
//! derivatives (`hessian.rs`), which only the Newton fit needs.

use super::rows::{sum_runs, Run, SUMS};
use super::Variant;
use crate::models::compress::{log_shift, par_sum, Data};
use crate::models::dual::{Dual, Real};
use crate::models::special::{lbeta, lgamma};

/// Weighted log-likelihood sum.
pub fn ll_sum<R: Real>(p: [R; 4], d: &Data, v: Variant) -> R {
    let [r, alpha, a, b] = p;
    let base = r * alpha.ln() - r.lgamma() - R::lbeta(a, b);
    let ln_a = a.ln();
    let mbg = v == Variant::Mbg;
    let xterm = |xf: f64| -> (R, R) {
        let c = (r + xf).lgamma()
            + if mbg {
                R::lbeta(a, b + (xf + 1.0))
            } else {
                R::lbeta(a, b + xf)
            }
            + base;
        let lr = if mbg {
            ln_a - (b + xf).ln()
        } else if xf > 0.0 {
            ln_a - (b + (xf - 1.0)).ln()
        } else {
            R::cst(0.0)
        };
        (c, lr)
    };
    let xmax = d.max_x();
    let table: Option<Vec<(R, R)>> =
        (xmax <= 2 * d.len() + 1024).then(|| (0..=xmax).map(|x| xterm(x as f64)).collect());
    let log_t = log_shift(alpha, &d.t_levels);
    let log_tx = log_shift(alpha, &d.tx_levels);
    par_sum(d.len(), |i| {
        let xf = d.x[i];
        let (c, lr) = match &table {
            Some(t) => t[xf as usize],
            None => xterm(xf),
        };
        let rx = r + xf;
        let l_t = log_t.get(i, &d.t, &d.t_levels);
        let mut ll = c - rx * l_t;
        if mbg || xf > 0.0 {
            let l_tx = log_tx.get(i, &d.tx, &d.tx_levels);
            ll += (lr + rx * (l_t - l_tx)).softplus();
        }
        ll * d.w[i]
    })
}

/// Weighted log-likelihood sum and its gradient with respect to (ln r, ln α, ln a, ln b),
/// hand-derived in f64: the same terms as `ll_sum`, but the per-row work is one exp, one
/// ln_1p and a handful of multiply-adds instead of dual-number arithmetic carrying four
/// derivatives through every operation (the fit's hot loop). `ll_sum` with dual numbers stays
/// the reference it is tested against.
///
/// With u = lr(x) + (r+x)(L_T − L_tx), L_v = ln(α+v), σ = softplus':
///   ∂/∂r = ψ(r+x) − ψ(r) + ln α − L_T + σ(u)(L_T − L_tx)
///   ∂/∂α = r/α − (r+x)/(α+T) + σ(u)(r+x)(1/(α+T) − 1/(α+t_x))
///   ∂/∂a = ψ(a+b) − ψ(a+b+x') + σ(u)/a
///   ∂/∂b = ψ(b+x') − ψ(a+b+x') − ψ(b) + ψ(a+b) − σ(u)/(b+x'−1)
/// where x' = x (BG/NBD) or x+1 (MBG/NBD).
pub fn ll_grad(p: [f64; 4], d: &Data, v: Variant) -> (f64, [f64; 4]) {
    use crate::models::special::digamma;
    let [r, alpha, a, b] = p;
    let mbg = v == Variant::Mbg;
    let base = r * alpha.ln() - lgamma(r) - lbeta(a, b);
    let (psi_r, psi_ab, psi_b) = (digamma(r), digamma(a + b), digamma(b));
    let (ln_a, inv_a) = (a.ln(), 1.0 / a);
    // Per run of one x: [c, ∂c/∂r, ∂c/∂a, ∂c/∂b, ∂lr/∂b, r+x] (∂lr/∂a = 1/a for every x).
    let consts = |xf: f64| -> (Run, [f64; 6]) {
        let xp = if mbg { xf + 1.0 } else { xf };
        let psi_abx = digamma(a + b + xp);
        let c = lgamma(r + xf) + lbeta(a, b + xp) + base;
        let cr = digamma(r + xf) - psi_r + alpha.ln();
        let ca = psi_ab - psi_abx;
        let cb = digamma(b + xp) - psi_abx - psi_b + psi_ab;
        let soft = mbg || xf > 0.0;
        let bb = b + (xp - 1.0);
        let (lr, lrb) = if soft {
            (ln_a - bb.ln(), -1.0 / bb)
        } else {
            (0.0, 0.0)
        };
        let run = Run {
            rx: r + xf,
            lr,
            soft,
        };
        (run, [c, cr, ca, cb, lrb, r + xf])
    };
    let combine = |k: &[f64; 6], s: &[f64; SUMS]| -> Dual<4> {
        let [c, cr, ca, cb, lrb, rx] = *k;
        let (w, s_lt, s_it) = (s[0], s[1], s[2]);
        let (sp, sig, sig_dl, sig_di) = (s[4], s[5], s[6], s[7]);
        Dual {
            v: w * c - rx * s_lt + sp,
            d: [
                w * cr - s_lt + sig_dl,
                rx * (sig_di - s_it),
                w * ca + inv_a * sig,
                w * cb + lrb * sig,
            ],
        }
    };
    let acc: Dual<4> = sum_runs::<false, _, _>(d, alpha, consts, combine);
    // ∂/∂ln θ = θ ∂/∂θ; the constant r/α of ∂/∂α is added once per unit of weight.
    let wsum = d.total_weight();
    let g = [
        acc.d[0] * r,
        (acc.d[1] + r / alpha * wsum) * alpha,
        acc.d[2] * a,
        acc.d[3] * b,
    ];
    (acc.v, g)
}

/// Per-row log-likelihood (f64).
pub fn ll_row(p: [f64; 4], x: f64, tx: f64, t: f64, v: Variant) -> f64 {
    ll_sum(p, &Data::row(x, tx, t), v)
}

#[cfg(test)]
mod tests {
    use super::super::predict::{cond_expected, p_alive};
    use super::*;

    const P: [f64; 4] = [0.243, 4.414, 0.793, 2.426];

    #[test]
    fn hand_case_likelihood() {
        // x = 0: L = B(a,b)/B(a,b) · (α/(α+T))^r.
        let t: f64 = 38.86;
        let ll = ll_row(P, 0.0, 0.0, t, Variant::Bg);
        let expect = P[0] * (P[1] / (P[1] + t)).ln();
        assert!((ll - expect).abs() < 1e-13);
        // x = 2, t_x = 30.43, T = 38.86: FHL eq. 6 written out directly.
        let (x, tx) = (2.0, 30.43);
        let (r, al, a, b) = (P[0], P[1], P[2], P[3]);
        let pre = (lgamma(r + x) - lgamma(r) + r * al.ln()).exp();
        let l1 = (lbeta(a, b + x) - lbeta(a, b)).exp() / (al + t).powf(r + x);
        let l2 = (lbeta(a + 1.0, b + x - 1.0) - lbeta(a, b)).exp() / (al + tx).powf(r + x);
        let direct = (pre * (l1 + l2)).ln();
        assert!((ll_row(P, x, tx, t, Variant::Bg) - direct).abs() < 1e-12);
        // MBG/NBD at x = 0 has the drop-out-at-zero term.
        let l0 = (lbeta(a, b + 1.0) - lbeta(a, b)).exp()
            * ((al / (al + t)).powf(r) + a / b * (al / al).powf(r));
        assert!((ll_row(P, 0.0, 0.0, t, Variant::Mbg) - l0.ln()).abs() < 1e-12);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let d = Data {
            x: vec![0.0, 2.0, 7.0, 1.0],
            tx: vec![0.0, 30.43, 35.0, 1.0],
            t: vec![38.86, 38.86, 38.0, 20.0],
            w: vec![3.0, 1.0, 2.0, 1.0],
            ..Default::default()
        };
        for v in [Variant::Bg, Variant::Mbg] {
            let th = [P[0].ln(), P[1].ln(), P[2].ln(), P[3].ln()];
            let dual = ll_sum(
                std::array::from_fn(|i| Dual::<4>::var(th[i], i).exp()),
                &d,
                v,
            );
            for i in 0..4 {
                let h = 1e-6;
                let mut tp = th;
                let mut tm = th;
                tp[i] += h;
                tm[i] -= h;
                let f = |t: [f64; 4]| ll_sum(t.map(f64::exp), &d, v);
                let fd = (f(tp) - f(tm)) / (2.0 * h);
                assert!(
                    (dual.d[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{v:?} {i}"
                );
            }
        }
    }

    #[test]
    fn analytic_gradient_matches_dual_numbers() {
        // Rows without levels (computed per row) and compressed rows with levels.
        let raw = Data {
            x: vec![0.0, 2.0, 7.0, 1.0, 40.0],
            tx: vec![0.0, 30.43, 35.0, 1.0, 37.5],
            t: vec![38.86, 38.86, 38.0, 20.0, 38.0],
            w: vec![3.0, 1.0, 2.0, 1.0, 0.5],
            ..Default::default()
        };
        let n = 5000;
        let xs: Vec<f64> = (0..n).map(|i| (i % 13) as f64).collect();
        let ts: Vec<f64> = (0..n).map(|i| 30.0 + (i % 7) as f64).collect();
        let txs: Vec<f64> = (0..n)
            .map(|i| if xs[i] == 0.0 { 0.0 } else { (i % 29) as f64 })
            .collect();
        let packed = crate::models::compress::compress(&xs, &txs, &ts, None);
        assert!(packed.t_levels.is_some() && packed.tx_levels.is_some());
        for d in [&raw, &packed] {
            for v in [Variant::Bg, Variant::Mbg] {
                for p in [P, [1.7, 0.3, 3.5, 0.2], [0.05, 80.0, 0.01, 40.0]] {
                    let th = p.map(f64::ln);
                    let dual = ll_sum(
                        std::array::from_fn(|i| Dual::<4>::var(th[i], i).exp()),
                        d,
                        v,
                    );
                    let (f, g) = ll_grad(p, d, v);
                    assert!((f - dual.v).abs() <= 1e-12 * dual.v.abs(), "{v:?} {p:?}");
                    for (i, (gi, di)) in g.iter().zip(dual.d).enumerate() {
                        // ∂/∂b at a = 0.01 is a difference of nearly equal digammas in
                        // both forms: agreement to ~1e-10 is the rounding floor there.
                        let tol = 1e-9 * (1.0 + di.abs());
                        assert!((gi - di).abs() <= tol, "{v:?} {p:?} {i} {gi} {di}");
                    }
                }
            }
        }
    }

    #[test]
    fn extremes_are_finite() {
        let ll = ll_row(P, 500.0, 9999.0, 10_000.0, Variant::Bg);
        assert!(ll.is_finite());
        let pa = p_alive(P, 500.0, 10.0, 10_000.0, Variant::Bg);
        assert!(pa.is_finite() && (0.0..=1.0).contains(&pa));
        let e = cond_expected(P, 500.0, 9999.0, 10_000.0, 52.0, Variant::Bg);
        assert!(e.is_finite() && e > 0.0);
    }
}
