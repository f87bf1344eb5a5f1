//! Adaptive Gauss–Kronrod quadrature (`quad.rs`'s 7/15-point pair) of a vector of integrands
//! that share their costly parts: the new-customer PMF P(X(t) = n) for n = 0..N integrates
//! NB(n; τ) · f(τ) over the death time τ, and every NB(n; τ) comes from the same two logs.
//!
//! Each component gets its own relative tolerance (a tail probability of 1e-30 is computed
//! to the same relative accuracy as the mode); the panel that most exceeds its components'
//! shares is bisected, at most `MAX_PANELS` panels, so the cost is bounded whatever the
//! parameters (the scalar adaptive Simpson it replaces had an absolute tolerance and a
//! recursion depth of 50: seconds, once more than 100 s, for one value).

use super::quad::{WG, WGK, XGK};

/// Most panels of one integral: about 1000 · 15 · K evaluations at worst.
const MAX_PANELS: usize = 1000;
/// Below this a component counts as zero (its error too): subnormal tails are not refined.
const TINY: f64 = 1e-300;

struct Panel {
    lo: f64,
    hi: f64,
    val: Vec<f64>,
    err: Vec<f64>,
}

/// K15 estimates of ∫_lo^hi of the K components of `f` and their |K15 − G7|. `f(τ, out)`
/// writes the K integrands at τ into `out`.
fn gk15_vec(f: &impl Fn(f64, &mut [f64]), k: usize, lo: f64, hi: f64, buf: &mut [f64]) -> Panel {
    let c = 0.5 * (lo + hi);
    let h = 0.5 * (hi - lo);
    let mut kr = vec![0.0; k];
    let mut g = vec![0.0; k];
    f(c, &mut buf[..k]);
    for m in 0..k {
        kr[m] = buf[m] * WGK[7];
        g[m] = buf[m] * WG[3];
    }
    for j in 0..7 {
        let dx = h * XGK[j];
        let (l, r) = buf.split_at_mut(k);
        f(c - dx, l);
        f(c + dx, &mut r[..k]);
        for m in 0..k {
            let s = l[m] + r[m];
            kr[m] += s * WGK[j];
            if j % 2 == 1 {
                g[m] += s * WG[j / 2];
            }
        }
    }
    let err = (0..k).map(|m| ((kr[m] - g[m]) * h).abs()).collect();
    for v in kr.iter_mut() {
        *v *= h;
    }
    Panel {
        lo,
        hi,
        val: kr,
        err,
    }
}

/// ∫_a^b of the K components of `f`, each to a relative accuracy of about `rel`. The start
/// panels double in width from `first` at a (one panel when `first` is not below b − a), so
/// an integrand that changes over `first` near a is resolved there however long the
/// interval; then globally adaptive as `quad::integrate`.
pub fn integrate_vec(
    f: &impl Fn(f64, &mut [f64]),
    k: usize,
    a: f64,
    b: f64,
    first: f64,
    rel: f64,
) -> Vec<f64> {
    // (also when a or b is NaN)
    if b.partial_cmp(&a) != Some(std::cmp::Ordering::Greater) || k == 0 {
        return vec![0.0; k];
    }
    let mut buf = vec![0.0; 2 * k];
    let mut panels: Vec<Panel> = Vec::new();
    let (mut lo, mut w) = (a, if first > 0.0 { first } else { b - a });
    while lo < b {
        let hi = if lo + w >= b || panels.len() >= 64 {
            b
        } else {
            lo + w
        };
        panels.push(gk15_vec(f, k, lo, hi, &mut buf));
        lo = hi;
        w *= 2.0;
    }
    let mut tol = vec![0.0; k];
    while panels.len() < MAX_PANELS {
        let mut done = true;
        for (m, t) in tol.iter_mut().enumerate() {
            let (mut total, mut err, mut floor) = (0.0, 0.0, 0.0);
            for p in &panels {
                total += p.val[m];
                err += p.err[m];
                floor += 1e-15 * p.val[m].abs();
            }
            if err.is_nan() {
                // The NaN reaches the caller, never a runaway.
                return sum(&panels, k);
            }
            *t = (rel * total.abs()).max(floor).max(TINY);
            if err > *t {
                done = false;
            }
        }
        if done {
            break;
        }
        // The panel that most exceeds a component's tolerance.
        let mut worst = (0, 0.0_f64);
        for (i, p) in panels.iter().enumerate() {
            for (e, t) in p.err.iter().zip(&tol) {
                let q = e / t;
                if q > worst.1 {
                    worst = (i, q);
                }
            }
        }
        let p = panels.swap_remove(worst.0);
        let mid = 0.5 * (p.lo + p.hi);
        if !(mid > p.lo && mid < p.hi) {
            panels.push(p);
            break;
        }
        panels.push(gk15_vec(f, k, p.lo, mid, &mut buf));
        panels.push(gk15_vec(f, k, mid, p.hi, &mut buf));
    }
    sum(&panels, k)
}

fn sum(panels: &[Panel], k: usize) -> Vec<f64> {
    let mut acc = vec![0.0; k];
    for p in panels {
        for (a, v) in acc.iter_mut().zip(&p.val) {
            *a += v;
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::quad::integrate;

    #[test]
    fn each_component_as_accurate_as_alone() {
        // A steep end, a hump between the ends and a tiny smooth component.
        let f = |y: f64, out: &mut [f64]| {
            out[0] = (0.1 + y).powf(-30.0);
            out[1] = (-(y - 17.3).powi(2) / 0.5).exp();
            out[2] = 1e-200 * (-y).exp();
        };
        for first in [0.0, 0.01] {
            let v = integrate_vec(&f, 3, 0.0, 40.0, first, 1e-13);
            let e0 = (0.1f64.powf(-29.0) - 40.1f64.powf(-29.0)) / 29.0;
            let e1 = (std::f64::consts::PI * 0.5).sqrt();
            let e2 = 1e-200 * -(-40.0f64).exp_m1();
            assert!((v[0] / e0 - 1.0).abs() < 1e-12, "{} {e0}", v[0]);
            assert!((v[1] / e1 - 1.0).abs() < 1e-11, "{} {e1}", v[1]);
            assert!((v[2] / e2 - 1.0).abs() < 1e-12, "{} {e2}", v[2]);
            let alone = integrate(
                &|y: f64| (-(y - 17.3).powi(2) / 0.5).exp(),
                0.0,
                40.0,
                1e-13,
            );
            assert!((v[1] / alone - 1.0).abs() < 1e-11);
        }
        // Empty and reversed intervals are zero.
        assert_eq!(integrate_vec(&f, 3, 1.0, 1.0, 0.0, 1e-12), vec![0.0; 3]);
        assert_eq!(integrate_vec(&f, 3, 2.0, 1.0, 0.0, 1e-12), vec![0.0; 3]);
    }

    #[test]
    fn nan_is_returned_not_refined() {
        let f = |y: f64, out: &mut [f64]| out[0] = if y > 0.5 { f64::NAN } else { y };
        assert!(integrate_vec(&f, 1, 0.0, 1.0, 0.0, 1e-12)[0].is_nan());
    }
}
