//! Adaptive Gauss–Kronrod quadrature (the 7/15-point pair of QUADPACK's `qk15`), generic over
//! [`Real`] so an integral inside a likelihood carries its exact gradient.
//!
//! Why this rule: the integrands here (GGom/NBD's death-time integral, the discounted
//! lifetimes of DERT) are smooth but can be steep near one end (a large frequency makes
//! (α+y)^−(r+x) fall off over (α+t_x)/(r+x)). The 15-point Kronrod rule integrates
//! polynomials of degree 22 exactly, |K15 − G7| is a conservative error estimate, and
//! bisecting where that estimate is too large puts the nodes where the integrand moves.
//! The nodes are a fixed function of the interval, so on dual numbers the derivative of the
//! result is the derivative of the same quadrature sum.

use super::dual::Real;

/// Kronrod abscissae on [−1, 1] (positive half; the last is 0). Odd indices are the 7-point
/// Gauss abscissae.
pub(super) const XGK: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
pub(super) const WGK: [f64; 8] = [
    0.022_935_322_010_529_22,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_2,
    0.140_653_259_715_525_9,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_727_8,
];
/// Gauss weights of XGK[1], XGK[3], XGK[5], XGK[7].
pub(super) const WG: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

/// K15 estimate of ∫_a^b f and |K15 − G7|.
fn gk15<R: Real>(f: &impl Fn(f64) -> R, a: f64, b: f64) -> (R, f64) {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let fc = f(c);
    let mut k = fc * WGK[7];
    let mut g = fc.val() * WG[3];
    for j in 0..7 {
        let dx = h * XGK[j];
        let s = f(c - dx) + f(c + dx);
        k += s * WGK[j];
        if j % 2 == 1 {
            g += s.val() * WG[j / 2];
        }
    }
    (k * h, ((k.val() - g) * h).abs())
}

/// ∫_a^b f to a relative accuracy of about `rel`, globally adaptive as QUADPACK's `qag`:
/// the panel with the largest error estimate is bisected until the summed estimate is within
/// `rel` of the total (re-read after each bisection, so a first total that missed a steep
/// end does not set the tolerance), or at most `MAX_PANELS` panels.
pub fn integrate<R: Real>(f: &impl Fn(f64) -> R, a: f64, b: f64, rel: f64) -> R {
    const MAX_PANELS: usize = 2000;
    if b <= a {
        return R::cst(0.0);
    }
    // Four starting panels (60 nodes) so a hump between the ends is seen before any
    // panel is accepted.
    const START: usize = 4;
    let h = (b - a) / START as f64;
    let ends = |i: usize| if i == START { b } else { a + i as f64 * h };
    let mut panels: Vec<(f64, f64, R, f64)> = (0..START)
        .map(|i| {
            let (lo, hi) = (ends(i), ends(i + 1));
            let (v, e) = gk15(f, lo, hi);
            (lo, hi, v, e)
        })
        .collect();
    while panels.len() < MAX_PANELS {
        let total: f64 = panels.iter().map(|p| p.2.val()).sum();
        let err: f64 = panels.iter().map(|p| p.3).sum();
        // Rounding floor: no panel is asked for more digits than f64 carries.
        let floor: f64 = panels.iter().map(|p| 1e-15 * p.2.val().abs()).sum();
        // A NaN error estimate stops here too: the NaN reaches the caller, never a runaway.
        let within = err <= (rel * total.abs()).max(floor);
        if within || err.is_nan() {
            break;
        }
        let (k, _) = panels
            .iter()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |m, (i, p)| if p.3 > m.1 { (i, p.3) } else { m },
            );
        let (lo, hi, _, _) = panels.swap_remove(k);
        let mid = 0.5 * (lo + hi);
        if !(mid > lo && mid < hi) {
            break;
        }
        let (vl, el) = gk15(f, lo, mid);
        let (vr, er) = gk15(f, mid, hi);
        panels.push((lo, mid, vl, el));
        panels.push((mid, hi, vr, er));
    }
    let mut acc = R::cst(0.0);
    for p in panels {
        acc += p.2;
    }
    acc
}

/// K15 estimates of ∫_a^b of both components of `f` and their |K15 − G7|.
fn gk15_pair<R: Real>(f: &impl Fn(f64) -> [R; 2], a: f64, b: f64) -> ([R; 2], [f64; 2]) {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let fc = f(c);
    let mut k = [fc[0] * WGK[7], fc[1] * WGK[7]];
    let mut g = [fc[0].val() * WG[3], fc[1].val() * WG[3]];
    for j in 0..7 {
        let dx = h * XGK[j];
        let (l, r) = (f(c - dx), f(c + dx));
        for m in 0..2 {
            let s = l[m] + r[m];
            k[m] += s * WGK[j];
            if j % 2 == 1 {
                g[m] += s.val() * WG[j / 2];
            }
        }
    }
    let err = |m: usize| ((k[m].val() - g[m]) * h).abs();
    ([k[0] * h, k[1] * h], [err(0), err(1)])
}

/// ∫_a^b of a pair of integrands that share their costly parts, each to a relative accuracy
/// of about `rel`, adaptive like [`integrate`] but starting from panels that double in width
/// from `first` at a (one panel when the interval is shorter): it is meant for the short
/// intervals between neighbouring data points (GGom/NBD's likelihood on a grid), where one
/// K15 panel usually suffices, and for integrands that fall off from a over about `first`.
pub fn integrate_pair<R: Real>(
    f: &impl Fn(f64) -> [R; 2],
    a: f64,
    b: f64,
    first: f64,
    rel: f64,
) -> [R; 2] {
    const MAX_PANELS: usize = 2000;
    if b <= a {
        return [R::cst(0.0), R::cst(0.0)];
    }
    // Panels of width `first`, 2·first, 4·first, … from a: an integrand that falls off over
    // `first` from the left end is resolved there however long the interval.
    let mut panels: Vec<(f64, f64, [R; 2], [f64; 2])> = Vec::new();
    let (mut lo, mut w) = (a, if first > 0.0 { first } else { b - a });
    while lo < b {
        let hi = if lo + w >= b || panels.len() >= 64 {
            b
        } else {
            lo + w
        };
        let (v, e) = gk15_pair(f, lo, hi);
        panels.push((lo, hi, v, e));
        lo = hi;
        w *= 2.0;
    }
    while panels.len() < MAX_PANELS {
        let mut worst = (0, 0.0_f64);
        let mut done = true;
        for m in 0..2 {
            let total: f64 = panels.iter().map(|p| p.2[m].val()).sum();
            let err: f64 = panels.iter().map(|p| p.3[m]).sum();
            if err.is_nan() {
                return sum_pair(&panels);
            }
            let tol =
                (rel * total.abs()).max(panels.iter().map(|p| 1e-15 * p.2[m].val().abs()).sum());
            if err > tol {
                done = false;
            }
            // The panel that most exceeds its component's share of the tolerance.
            let scale = tol.max(f64::MIN_POSITIVE);
            for (i, p) in panels.iter().enumerate() {
                if p.3[m] / scale > worst.1 {
                    worst = (i, p.3[m] / scale);
                }
            }
        }
        if done {
            break;
        }
        let (lo, hi, _, _) = panels.swap_remove(worst.0);
        let mid = 0.5 * (lo + hi);
        if !(mid > lo && mid < hi) {
            break;
        }
        let (vl, el) = gk15_pair(f, lo, mid);
        let (vr, er) = gk15_pair(f, mid, hi);
        panels.push((lo, mid, vl, el));
        panels.push((mid, hi, vr, er));
    }
    sum_pair(&panels)
}

fn sum_pair<R: Real>(panels: &[(f64, f64, [R; 2], [f64; 2])]) -> [R; 2] {
    let mut acc = [R::cst(0.0), R::cst(0.0)];
    for p in panels {
        acc[0] += p.2[0];
        acc[1] += p.2[1];
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_for_polynomials_and_accurate_for_smooth_functions() {
        // Degree 22 is integrated exactly by one K15 panel.
        let p = |x: f64| x.powi(22) - 3.0 * x.powi(7) + 1.0;
        let exact = 2.0_f64.powi(23) / 23.0 - 3.0 * 2.0_f64.powi(8) / 8.0 + 2.0;
        let (k, _) = gk15(&p, 0.0, 2.0);
        assert!((k - exact).abs() < 1e-12 * exact, "{k} {exact}");
        // A steep integrand: ∫_0^40 (0.1+y)^−30 dy = (0.1^−29 − 40.1^−29)/29.
        let f = |y: f64| (0.1 + y).powf(-30.0);
        let exact = (0.1f64.powf(-29.0) - 40.1f64.powf(-29.0)) / 29.0;
        let got = integrate(&f, 0.0, 40.0, 1e-13);
        assert!((got / exact - 1.0).abs() < 1e-12, "{got} {exact}");
        // A hump between the ends (the starting panels must see it).
        let g = |y: f64| (-(y - 17.3).powi(2) / 0.5).exp();
        let exact = (std::f64::consts::PI * 0.5).sqrt();
        let got = integrate(&g, 0.0, 40.0, 1e-12);
        assert!((got / exact - 1.0).abs() < 1e-10, "{got} {exact}");
    }

    #[test]
    fn pair_matches_single_integrals() {
        let f = |y: f64| [(0.1 + y).powf(-30.0), (-(y - 17.3).powi(2) / 0.5).exp()];
        let [a, b] = integrate_pair(&f, 0.0, 40.0, 0.0, 1e-12);
        let [c, _] = integrate_pair(&f, 0.0, 40.0, 0.01, 1e-12);
        assert!((c / a - 1.0).abs() < 1e-12, "{c} {a}");
        let ea = (0.1f64.powf(-29.0) - 40.1f64.powf(-29.0)) / 29.0;
        let eb = (std::f64::consts::PI * 0.5).sqrt();
        assert!((a / ea - 1.0).abs() < 1e-11, "{a} {ea}");
        assert!((b / eb - 1.0).abs() < 1e-10, "{b} {eb}");
    }
}
