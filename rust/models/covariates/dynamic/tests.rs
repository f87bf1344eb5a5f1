use super::*;
use crate::models::compress::compress;
use crate::models::covariates::{compress_cov, Cov, CovKernels, Link, Spec};
use crate::models::model::Likelihood;
use crate::models::pareto_nbd::ParetoNbd;

/// Customers cut into weekly pieces starting at a fractional offset; covariates per piece
/// from `z(customer, piece)`.
fn data(z: impl Fn(usize, usize) -> (Vec<f64>, Vec<f64>), kt: usize, kl: usize) -> DynData {
    let rows = [
        (0.0, 0.0, 40.3),
        (1.0, 10.2, 38.0),
        (3.0, 30.5, 39.1),
        (2.0, 12.0, 20.0),
        (0.0, 0.0, 25.7),
        (25.0, 35.0, 40.0),
        (1.0, 0.4, 0.9),
    ];
    let mut d = DynData {
        kt,
        kl,
        off: vec![0],
        ..Default::default()
    };
    for (i, &(x, tx, t)) in rows.iter().enumerate() {
        d.x.push(x);
        d.tx.push(tx);
        d.t.push(t);
        let first = 0.37 + 0.1 * i as f64;
        let mut c = 0.0;
        let mut k = 0;
        let mut st = vec![0.0; kt];
        while c < t {
            let len = if k == 0 { first } else { 1.0 };
            let e = (c + len).min(t);
            let (zt, zl) = z(i, k);
            // One repeat purchase at t_x, the others spread evenly before it.
            let n_in = (1..=x as usize)
                .map(|j| tx * j as f64 / x)
                .filter(|&tj| tj > c && tj <= e)
                .count();
            st.iter_mut()
                .zip(&zt)
                .for_each(|(s, v)| *s += n_in as f64 * v);
            d.dur.push(e - c);
            d.zt.extend(zt);
            d.zl.extend(zl);
            c = e;
            k += 1;
        }
        d.st.extend(st);
        d.off.push(d.dur.len());
    }
    d
}

fn varying(i: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let v = ((i * 7 + k * 3) % 5) as f64 / 4.0;
    (vec![v, (k % 2) as f64], vec![1.0 - v])
}

#[test]
fn gradient_matches_finite_differences() {
    let d = data(varying, 2, 1);
    let th = [
        0.8_f64.ln(),
        6.0_f64.ln(),
        0.9_f64.ln(),
        11.0_f64.ln(),
        0.3,
        -0.5,
        0.4,
    ];
    let (_, g) = ll_grad(&th, &d);
    for j in 0..th.len() {
        let h = 1e-5;
        let f = |e: f64| {
            let mut q = th.to_vec();
            q[j] += e;
            ll_grad(&q, &d).0
        };
        let fd = (f(h) - f(-h)) / (2.0 * h);
        assert!(
            (fd - g[j]).abs() < 1e-6 * (1.0 + fd.abs()),
            "{j}: {fd} vs {}",
            g[j]
        );
    }
}

#[test]
fn constant_covariates_are_the_static_model() {
    let zc = |i: usize| (i % 3) as f64 - 0.5;
    let d = data(|i, _| (vec![zc(i)], vec![zc(i) * 0.5, 1.0]), 1, 2);
    let n = d.len();
    let zt: Vec<f64> = (0..n).map(zc).collect();
    let zl: Vec<f64> = (0..n).flat_map(|i| [zc(i) * 0.5, 1.0]).collect();
    let sd = compress_cov(&d.x, &d.tx, &d.t, None, &zt, 1, &zl, 2);
    let spec = Spec {
        tidx: vec![0],
        lidx: vec![1, 2],
        n_coef: 3,
        l2: vec![0.0; 3],
    };
    let stat = Cov(
        ParetoNbd,
        &[Link::Fixed, Link::Trans(-1), Link::Fixed, Link::Life(-1)],
    );
    // typical, steep (small alpha and beta: the integrand falls fast near t_x) and flat
    for p in [
        [0.8, 6.0, 0.9, 11.0, 0.3, -0.5, 0.4],
        [2.5, 0.05, 0.3, 0.2, 1.2, -0.8, 0.6],
        [0.2, 30.0, 3.0, 0.5, -0.4, 0.9, -1.1],
    ] {
        let (want, gw) = stat.ll_grad(&spec, &p, &sd);
        let (got, gg) = ll_grad(&to_free(&p), &d);
        assert!(
            (got - want).abs() < 1e-10 * want.abs(),
            "{p:?}: {got} vs {want}"
        );
        for (a, b) in gg.iter().zip(&gw) {
            assert!((a - b).abs() < 1e-8 * (1.0 + b.abs()), "{gg:?} vs {gw:?}");
        }
    }
}

#[test]
fn zero_coefficients_are_the_plain_model() {
    let d = data(varying, 2, 1);
    let base = compress(&d.x, &d.tx, &d.t, None);
    let p = [0.8, 6.0, 0.9, 11.0];
    let want = ParetoNbd.ll_grad_log(&to_free(&p), &base).0;
    let mut q = p.to_vec();
    q.extend([0.0; 3]);
    let got = ll_grad(&to_free(&q), &d).0;
    assert!((got - want).abs() < 1e-10 * want.abs(), "{got} vs {want}");
}

#[test]
fn gauss_legendre_integrates_degree_19_exactly() {
    let s: f64 = gauss_legendre().iter().map(|(x, w)| w * x.powi(19)).sum();
    assert!((s - 1.0 / 20.0).abs() < 1e-15);
}

#[test]
fn merging_equal_pieces_keeps_likelihood_and_gradient() {
    // covariates change every third piece
    let d = data(|i, k| varying(i, k / 3), 2, 1);
    let m = d.clone().merged();
    assert!(m.dur.len() * 2 < d.dur.len());
    let th = [
        0.8_f64.ln(),
        6.0_f64.ln(),
        0.9_f64.ln(),
        11.0_f64.ln(),
        0.3,
        -0.5,
        0.4,
    ];
    let (a, ga) = ll_grad(&th, &d);
    let (b, gb) = ll_grad(&th, &m);
    assert!((a - b).abs() < 1e-10 * a.abs(), "{a} vs {b}");
    for (x, y) in ga.iter().zip(&gb) {
        assert!((x - y).abs() < 1e-8 * (1.0 + x.abs()));
    }
}

fn theta() -> Vec<f64> {
    vec![0.8_f64.ln(), 6.0_f64.ln(), 0.9_f64.ln(), 11.0_f64.ln()]
}

/// Column 0 of both processes constrained to coefficient 0; transaction column 1 free.
fn constrained(l2: f64) -> Spec {
    Spec {
        tidx: vec![0, 1],
        lidx: vec![0],
        n_coef: 2,
        l2: vec![0.0, l2],
    }
}

fn shared(i: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let (zt, _) = varying(i, k);
    (zt.clone(), vec![zt[0]])
}

#[test]
fn a_constrained_coefficient_is_one_value_in_both_columns() {
    let d = data(shared, 2, 1);
    let spec = constrained(0.0);
    let mut th = theta();
    th.extend([0.35, -0.5]);
    // by hand: the free model with the shared value written into both columns
    let mut by_hand = theta();
    by_hand.extend([0.35, -0.5, 0.35]);
    let (ll, g) = fit::ll_grad_free(&spec, &th, &d);
    let (want, gw) = ll_grad(&by_hand, &d);
    assert_eq!(ll, want);
    assert_eq!(&g[..4], &gw[..4]);
    assert!((g[4] - (gw[4] + gw[6])).abs() < 1e-12 * (1.0 + g[4].abs()));
    assert_eq!(g[5], gw[5]);
}

#[test]
fn penalised_objective_gradient_matches_finite_differences() {
    let d = data(shared, 2, 1);
    let spec = constrained(0.7);
    let n = d.len() as f64;
    let mut th = theta();
    th.extend([0.35, -0.5]);
    let (_, g) = fit::objective(&spec, &d, n, &th);
    for j in 0..th.len() {
        let h = 1e-5;
        let f = |e: f64| {
            let mut q = th.clone();
            q[j] += e;
            fit::objective(&spec, &d, n, &q).0
        };
        let fd = (f(h) - f(-h)) / (2.0 * h);
        assert!(
            (fd - g[j]).abs() < 1e-7 * (1.0 + fd.abs()),
            "{j}: {fd} vs {}",
            g[j]
        );
    }
}

#[test]
fn a_large_l2_penalty_shrinks_the_coefficients_to_zero() {
    let d = data(varying, 2, 1);
    let free = fit::fit(&d, &fit::free_spec(2, 1), None, 500);
    let mut spec = fit::free_spec(2, 1);
    spec.l2 = vec![1e6; 3];
    let pen = fit::fit(&d, &spec, None, 500);
    assert!(
        free.params[4..].iter().any(|b| b.abs() > 0.05),
        "{:?}",
        free.params
    );
    assert!(
        pen.params[4..].iter().all(|b| b.abs() < 1e-5),
        "{:?}",
        pen.params
    );
    // and the fit is the plain Pareto/NBD fit's (s and beta run off together on this tiny
    // data set's flat ridge, so compare r, alpha and the likelihood)
    let base = compress(&d.x, &d.tx, &d.t, None);
    let plain = crate::models::fit::fit_data(&ParetoNbd, &base, None, 500);
    for (a, b) in pen.params[..2].iter().zip(&plain.params) {
        assert!(
            (a / b - 1.0).abs() < 1e-3,
            "{:?} vs {:?}",
            pen.params,
            plain.params
        );
    }
    assert!((pen.ll - plain.ll).abs() < 1e-6 * plain.ll.abs());
}

#[test]
fn the_constrained_fit_is_the_free_fit_restricted() {
    let d = data(shared, 2, 1);
    let spec = constrained(0.0);
    let c = fit::fit(&d, &spec, None, 500);
    let f = fit::fit(&d, &fit::free_spec(2, 1), None, 500);
    assert!(
        c.ll.is_finite() && c.ll <= f.ll + 1e-9,
        "{} vs {}",
        c.ll,
        f.ll
    );
    // its optimum: the free model's gradient at (γ, γ) sums to zero over the pair
    let th = to_free(&c.params);
    let mut e = th[..4].to_vec();
    e.extend([th[4], th[5], th[4]]);
    let (_, g) = ll_grad(&e, &d);
    let scale = d.len() as f64;
    assert!((g[4] + g[6]).abs() / scale < 1e-5, "{g:?}");
    assert!(g[5].abs() / scale < 1e-5, "{g:?}");
}

/// Weekly future pieces of `weeks` (the first one fractional) per customer of `d`.
fn future_of(d: &DynData, weeks: f64, z: impl Fn(usize, usize) -> (Vec<f64>, Vec<f64>)) -> DynData {
    let mut f = DynData {
        kt: d.kt,
        kl: d.kl,
        off: vec![0],
        ..Default::default()
    };
    for i in 0..d.len() {
        let mut c = 0.0;
        let mut k = 0;
        while c < weeks {
            let len = if k == 0 { 0.6 } else { 1.0 };
            let e = (c + len).min(weeks);
            let (zt, zl) = z(i, k + 100);
            f.dur.push(e - c);
            f.zt.extend(zt);
            f.zl.extend(zl);
            c = e;
            k += 1;
        }
        f.off.push(f.dur.len());
    }
    f
}

#[test]
fn pmf_sums_to_one_and_its_mean_is_the_expected_purchases() {
    let d = data(varying, 2, 1);
    let f = future_of(&d, 13.0, varying);
    let p = [0.8, 6.0, 0.9, 11.0, 0.3, -0.5, 0.4];
    let (_, ex) = predict(&p, &d, &f);
    let probs: Vec<Vec<f64>> = (0..120).map(|n| pmf::pmf(&p, &d, &f, n)).collect();
    for i in 0..d.len() {
        let total: f64 = probs.iter().map(|q| q[i]).sum();
        let mean: f64 = probs.iter().enumerate().map(|(n, q)| n as f64 * q[i]).sum();
        assert!((total - 1.0).abs() < 1e-9, "{i}: {total}");
        assert!(
            (mean - ex[i]).abs() < 1e-8 * (1.0 + ex[i]),
            "{i}: {mean} vs {}",
            ex[i]
        );
    }
}

#[test]
fn pmf_at_zero_coefficients_is_the_plain_conditional_pmf() {
    let d = data(varying, 2, 1);
    let f = future_of(&d, 9.3, varying);
    let p = [0.8, 6.0, 0.9, 11.0, 0.0, 0.0, 0.0];
    for n in [0, 1, 2, 5, 30] {
        let got = pmf::pmf(&p, &d, &f, n);
        for (i, g) in got.iter().enumerate() {
            let want = crate::models::conditional::cond_p_purchases(
                &ParetoNbd,
                [0.8, 6.0, 0.9, 11.0],
                n as u64,
                9.3,
                d.x[i],
                d.tx[i],
                d.t[i],
            )
            .unwrap();
            assert!(
                (g - want).abs() < 1e-10 * (1e-3 + want),
                "n={n} i={i}: {g} vs {want}"
            );
        }
    }
}
