use super::*;
use crate::models::bgnbd::p_purchases as bg_scalar;
use crate::models::bgnbd::Variant;
use crate::models::quad::integrate;
use crate::models::{ggom_nbd, pareto_nbd};

/// An independent form of the death-time mixture: with u = 1 − S(τ) (the probability of
/// having died by τ) as the variable, P(n, t) = NB(n; t) S(t) + ∫_0^{1−S(t)} NB(n; τ(u)) du,
/// integrated by `quad::integrate` (no density, another variable, another integrator).
/// `tau_of(v)` is τ at −ln(1 − u) = v.
fn by_death_probability(
    r: f64,
    alpha: f64,
    n: u64,
    t: f64,
    ln_s_t: f64,
    tau_of: impl Fn(f64) -> f64,
) -> f64 {
    let nf = n as f64;
    let ln_nb = |tau: f64| {
        let nq = if n == 0 {
            0.0
        } else {
            nf * (tau / (alpha + tau)).ln()
        };
        lgamma(r + nf) - lgamma(r) - lgamma(nf + 1.0) - r * (tau / alpha).ln_1p() + nq
    };
    let u_end = -ln_s_t.exp_m1();
    let dead = integrate(
        &|u: f64| ln_nb(tau_of(-(-u).ln_1p())).exp(),
        0.0,
        u_end,
        1e-13,
    );
    (ln_nb(t) + ln_s_t).exp() + dead
}

fn pareto_reference(p: [f64; 4], n: u64, t: f64) -> f64 {
    let [r, alpha, s, beta] = p;
    let ln_s_t = -s * (t / beta).ln_1p();
    by_death_probability(r, alpha, n, t, ln_s_t, |v| beta * (v / s).exp_m1())
}

fn ggom_reference(p: [f64; 5], n: u64, t: f64) -> f64 {
    let [r, alpha, b, s, beta] = p;
    let life = Gompertz { b, s, beta };
    by_death_probability(r, alpha, n, t, life.ln_survival(t), |v| {
        (beta * (v / s).exp_m1()).ln_1p() / b
    })
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs() + 1e-300
}

const PARETO: [[f64; 4]; 4] = [
    [0.553, 10.58, 0.606, 11.67], // CDNOW (weeks)
    [2.0, 0.1, 0.01, 0.001],
    [0.3, 20.0, 5.0, 100.0],
    [4.0, 2.0, 0.5, 30.0],
];
const GGOM: [[f64; 5]; 3] = [
    [0.55, 10.6, 0.03, 0.6, 0.4],
    [2.0, 5.0, 0.5, 3.0, 20.0],
    [0.5, 8.0, 1e-6, 0.6, 1e-5],
];

#[test]
fn pareto_matches_the_death_probability_form() {
    for p in PARETO {
        let ts = [0.5, 3.0, 39.0, 78.0, 1000.0];
        let rows = pareto_nbd_rows(p, &ts, 12);
        for (t, row) in ts.iter().zip(&rows) {
            for (n, &v) in row.iter().enumerate() {
                let want = pareto_reference(p, n as u64, *t);
                assert!(close(v, want, 1e-10), "{p:?} n={n} t={t}: {v} vs {want}");
                // The scalar: one count, the whole interval at once.
                let one = pareto_nbd(p, n as u64, *t);
                assert!(close(one, v, 1e-11), "{p:?} n={n} t={t}: {one} vs {v}");
            }
        }
    }
}

#[test]
fn ggom_matches_the_death_probability_form_and_its_scalar() {
    for p in GGOM {
        let ts = [0.5, 39.0, 78.0, 500.0];
        let rows = ggom_nbd_rows(p, &ts, 10);
        for (t, row) in ts.iter().zip(&rows) {
            for (n, &v) in row.iter().enumerate() {
                let want = ggom_reference(p, n as u64, *t);
                assert!(close(v, want, 1e-10), "{p:?} n={n} t={t}: {v} vs {want}");
                let old = ggom_nbd::p_purchases(p, n as u64, *t);
                assert!(close(old, v, 1e-10), "{p:?} n={n} t={t}: {old} vs {v}");
                let one = ggom_nbd(p, n as u64, *t);
                assert!(close(one, v, 1e-11), "{p:?} n={n} t={t}: {one} vs {v}");
            }
        }
    }
}

/// Σ_n P(n) = 1 and Σ_n n P(n) = E[X(t)] (closed form for Pareto/NBD; GGom/NBD's is a
/// different integral, r/α ∫ S), with counts far enough that the tail is negligible.
#[test]
fn pmf_sums_to_one_and_to_the_mean() {
    let ts = [1.0, 39.0, 200.0];
    let check = |rows: Vec<Vec<f64>>, mean: &dyn Fn(f64) -> f64| {
        for (t, row) in ts.iter().zip(rows) {
            let total: f64 = row.iter().sum();
            let m: f64 = row.iter().enumerate().map(|(n, v)| n as f64 * v).sum();
            assert!((total - 1.0).abs() < 1e-10, "t={t}: Σ P = {total}");
            assert!(close(m, mean(*t), 1e-9), "t={t}: {m} vs {}", mean(*t));
        }
    };
    let p = [0.553, 10.58, 0.606, 11.67];
    check(pareto_nbd_rows(p, &ts, 3000), &|t| {
        pareto_nbd::uncond_expected(p, t)
    });
    let g = [0.55, 10.6, 0.03, 0.6, 0.4];
    check(ggom_nbd_rows(g, &ts, 3000), &|t| {
        ggom_nbd::uncond_expected(g, t)
    });
}

/// Values the scalar adaptive Simpson (absolute 1e-14, depth 50) took more than 30 s each to
/// compute (large t, tiny s and β, extreme α/β): bounded now, and still right.
#[test]
fn formerly_runaway_values_are_right() {
    for (p, n, t) in [
        ([0.55, 10.5, 0.6, 12.0], 1, 1e6),
        ([0.1, 1e-3, 0.01, 1e-6], 0, 100.0),
        ([0.8, 5.0, 2.0, 1e-3], 0, 1e4),
        ([3.0, 0.5, 0.2, 0.05], 0, 500.0),
        ([0.3, 20.0, 0.002, 1e-5], 1, 1e7),
    ] {
        let got = pareto_nbd(p, n, t);
        let want = pareto_reference(p, n, t);
        assert!(close(got, want, 1e-9), "{p:?} n={n} t={t}: {got} vs {want}");
        let row = &pareto_nbd_rows(p, &[t], n)[0];
        assert!(close(row[n as usize], want, 1e-9), "{row:?} vs {want}");
    }
}

#[test]
fn bg_rows_match_the_scalar() {
    for v in [Variant::Bg, Variant::Mbg] {
        for p in [
            [0.243, 4.414, 0.793, 2.426],
            [0.01, 1.0, 0.5, 3.0], // mass at 0: the upper-sum tails
            [5.0, 0.5, 2.0, 1.0],
        ] {
            let ts = [0.0, 0.3, 39.0, 1000.0];
            for (t, row) in ts.iter().zip(bg_nbd_rows(p, &ts, 15, v == Variant::Mbg)) {
                for (n, &got) in row.iter().enumerate() {
                    let want = bg_scalar(p, n as u64, *t, v);
                    let want = if *t == 0.0 { unit(n as u64) } else { want };
                    assert!(
                        close(got, want, 1e-12),
                        "{v:?} {p:?} n={n} t={t}: {got} {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn horizons_outside_the_domain() {
    let p = [0.553, 10.58, 0.606, 11.67];
    let rows = pareto_nbd_rows(p, &[0.0, -1.0, f64::NAN, f64::INFINITY, 2.0, 2.0], 2);
    assert_eq!(rows[0], vec![1.0, 0.0, 0.0]);
    assert_eq!(rows[1], vec![1.0, 0.0, 0.0]);
    assert!(rows[2].iter().chain(&rows[3]).all(|v| v.is_nan()));
    assert_eq!(rows[4], rows[5]);
    let bg = bg_nbd_rows([0.243, 4.414, 0.793, 2.426], &[f64::NAN], 1, false);
    assert!(bg[0].iter().all(|v| v.is_nan()));
}
