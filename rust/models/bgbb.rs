//! BG/BB (Fader, Hardie & Shang 2010) for discrete opportunities; parameters
//! (alpha, beta, gamma, delta); x transactions in n opportunities, the last at t_x.
//!
//! L = B(α+x, β+n−x)/B(α,β) · B(γ, δ+n)/B(γ,δ)
//!   + Σ_{i=0}^{n−t_x−1} B(α+x, β+t_x−x+i)/B(α,β) · B(γ+1, δ+t_x+i)/B(γ,δ)
//!
//! summed in log space; consecutive summands differ by ratios of linear terms, so each one
//! costs four logarithms instead of four log-gammas.

use super::compress::{par_sum, Data};
use super::dual::{Dual, Real};
use super::model::{BtydModel, ConditionalPmf, Likelihood};
use super::simulate::Rng;
use super::special::{digamma, lbeta, lgamma};

pub fn ll_generic<R: Real>(p: [R; 4], x: f64, tx: f64, n: f64) -> R {
    let [al, be, ga, de] = p;
    let lab = R::lbeta(al, be);
    let lgd = R::lbeta(ga, de);
    let mut acc = R::lbeta(al + x, be + (n - x)) - lab + R::lbeta(ga, de + n) - lgd;
    let m = (n - tx) as i64;
    if m > 0 {
        let mut term = R::lbeta(al + x, be + (tx - x)) - lab + R::lbeta(ga + 1.0, de + tx) - lgd;
        acc = acc.logaddexp(term);
        for i in 1..m {
            let k = (i - 1) as f64;
            // B(α+x, β+j+1)/B(α+x, β+j) = (β+j)/(α+β+x+j); B(γ+1, δ+k+1)/B(γ+1, δ+k) likewise.
            term += (be + (tx - x + k)).ln() - (al + be + (tx + k)).ln() + (de + (tx + k)).ln()
                - (ga + de + (tx + k + 1.0)).ln();
            acc = acc.logaddexp(term);
        }
    }
    acc
}

pub fn ll_sum<R: Real>(p: [R; 4], d: &Data) -> R {
    par_sum(d.len(), |i| ll_generic(p, d.x[i], d.tx[i], d.t[i]) * d.w[i])
}

pub fn p_alive(p: [f64; 4], x: f64, tx: f64, n: f64) -> f64 {
    let [al, be, ga, de] = p;
    (lbeta(al + x, be + n - x) - lbeta(al, be) + lbeta(ga, de + n + 1.0)
        - lbeta(ga, de)
        - ll_generic(p, x, tx, n))
    .exp()
}

/// δ/(γ−1) · Γ(γ+δ)/Γ(1+δ) · [Γ(1+δ+n)/Γ(γ+δ+n) − Γ(1+δ+n+m)/Γ(γ+δ+n+m)], continuous at γ = 1.
fn survival_sum(ga: f64, de: f64, n: f64, m: f64) -> f64 {
    if (ga - 1.0).abs() < 1e-9 {
        return de * (digamma(1.0 + de + n + m) - digamma(1.0 + de + n));
    }
    let la = lgamma(1.0 + de + n) - lgamma(ga + de + n);
    let lb = lgamma(1.0 + de + n + m) - lgamma(ga + de + n + m);
    de / (ga - 1.0) * (lgamma(ga + de) - lgamma(1.0 + de)).exp() * la.exp() * (-(lb - la).exp_m1())
}

/// Expected transactions in the next m opportunities given (x, t_x, n) (FHS 2010 eq. 13).
pub fn cond_expected(p: [f64; 4], x: f64, tx: f64, n: f64, m: f64) -> f64 {
    let [al, be, ga, de] = p;
    if m <= 0.0 {
        return 0.0;
    }
    (lbeta(al + x + 1.0, be + n - x) - lbeta(al, be) - ll_generic(p, x, tx, n)).exp()
        * survival_sum(ga, de, n, m)
}

/// P(X(n, n+m) = k | x, t_x, n): the number of transactions in the next m opportunities
/// (Fader, Hardie & Shang 2010, appendix). Given (p, θ), a customer alive through n survives
/// each later opportunity with probability 1−θ and then transacts with probability p; one who
/// dies at the start of opportunity n+1+j (j < m) made Binomial(j, p) transactions. Joining
/// with the history and integrating over the Beta priors:
///
///   P(k | ·) = [k = 0] · (1 − A/L)
///            + C(m, k) B(α+x+k, β+n−x+m−k) B(γ, δ+n+m) / (B(α,β) B(γ,δ) L)
///            + Σ_{j=k}^{m−1} C(j, k) B(α+x+k, β+n−x+j−k) B(γ+1, δ+n+j) / (B(α,β) B(γ,δ) L)
///
/// with L the likelihood of the history (`ll_generic`) and A = B(α+x, β+n−x) B(γ, δ+n) /
/// (B(α,β) B(γ,δ)) its alive-through-n part. Summed in log space; consecutive terms of the
/// sum differ by ratios of linear factors. m and k are whole numbers.
pub fn cond_p_purchases(p: [f64; 4], k: u64, m: u64, x: f64, tx: f64, n: f64) -> f64 {
    let [al, be, ga, de] = p;
    if k > m {
        return 0.0;
    }
    let ln_l = ll_generic(p, x, tx, n);
    let lab = lbeta(al, be);
    let lgd = lbeta(ga, de);
    let (kf, mf) = (k as f64, m as f64);
    let lchoose = |a: f64, b: f64| lgamma(a + 1.0) - lgamma(b + 1.0) - lgamma(a - b + 1.0);
    let mut acc = lchoose(mf, kf) + lbeta(al + x + kf, be + n - x + mf - kf) - lab
        + lbeta(ga, de + n + mf)
        - lgd;
    if k < m {
        // j = k, then term_{j+1}/term_j = (j+1)/(j+1−k) · (β+n−x+j−k)/(α+β+n+j)
        //                                 · (δ+n+j)/(γ+δ+n+j+1).
        let mut term = lbeta(al + x + kf, be + n - x) - lab + lbeta(ga + 1.0, de + n + kf) - lgd;
        acc = Real::logaddexp(acc, term);
        for j in k..m - 1 {
            let jf = j as f64;
            term += (jf + 1.0).ln() - (jf + 1.0 - kf).ln() + (be + n - x + jf - kf).ln()
                - (al + be + n + jf).ln()
                + (de + n + jf).ln()
                - (ga + de + n + jf + 1.0).ln();
            acc = Real::logaddexp(acc, term);
        }
    }
    let alive_part = (acc - ln_l).exp();
    if k == 0 {
        // 1 − A/L as −expm1: exact 0 when the history leaves no room to have died (t_x = n).
        let ln_a = lbeta(al + x, be + n - x) - lab + lbeta(ga, de + n) - lgd;
        let dead = -(ln_a - ln_l).min(0.0).exp_m1();
        dead + alive_part
    } else {
        alive_part
    }
}

/// E[X(n)] for a new customer over the first n opportunities (FHS 2010 eq. 7).
pub fn uncond_expected(p: [f64; 4], n: f64) -> f64 {
    let [al, be, ga, de] = p;
    al / (al + be) * survival_sum(ga, de, 0.0, n)
}

/// P(X(n) = x) (FHS 2010 eq. 8).
pub fn p_purchases(p: [f64; 4], x: u64, n: u64) -> f64 {
    let [al, be, ga, de] = p;
    if x > n {
        return 0.0;
    }
    let (xf, nf) = (x as f64, n as f64);
    let lchoose = |a: f64, b: f64| lgamma(a + 1.0) - lgamma(b + 1.0) - lgamma(a - b + 1.0);
    let mut s = (lchoose(nf, xf) + lbeta(al + xf, be + nf - xf) - lbeta(al, be)
        + lbeta(ga, de + nf)
        - lbeta(ga, de))
    .exp();
    for i in x..n {
        let i = i as f64;
        s += (lchoose(i, xf) + lbeta(al + xf, be + i - xf) - lbeta(al, be)
            + lbeta(ga + 1.0, de + i)
            - lbeta(ga, de))
        .exp();
    }
    s
}

/// BG/BB as a model of the kernels: T is the number of opportunities n.
#[derive(Clone, Copy, Debug)]
pub struct BgBb;

impl Likelihood for BgBb {
    type Grad = Dual<4>;
    fn kind(&self) -> &'static str {
        "bg_bb"
    }
    fn param_names(&self) -> &'static [&'static str] {
        &["alpha", "beta", "gamma", "delta"]
    }
    fn ll_sum<R: Real>(&self, p: &[R], d: &Data) -> R {
        ll_sum([p[0], p[1], p[2], p[3]], d)
    }
    fn start_values(&self, _d: &Data) -> Vec<f64> {
        vec![1.0; 4]
    }
}

impl BtydModel for BgBb {
    type Params = [f64; 4];
    const CONDITIONAL: ConditionalPmf = ConditionalPmf::History;
    const DISCRETE_TIME: bool = true;

    fn p_alive(&self, p: [f64; 4], x: f64, tx: f64, n: f64) -> f64 {
        p_alive(p, x, tx, n)
    }
    fn ll_row(&self, p: [f64; 4], x: f64, tx: f64, n: f64) -> f64 {
        ll_generic(p, x, tx, n)
    }
    /// The factor of `cond_expected` before the survival sum.
    fn row_factor(&self, p: [f64; 4], x: f64, tx: f64, n: f64) -> f64 {
        let [al, be, _, _] = p;
        (lbeta(al + x + 1.0, be + n - x) - lbeta(al, be) - ll_generic(p, x, tx, n)).exp()
    }
    fn bracket(&self, p: [f64; 4], _x: f64, n: f64, m: f64) -> f64 {
        let [_, _, ga, de] = p;
        if m <= 0.0 {
            0.0
        } else {
            survival_sum(ga, de, n, m)
        }
    }
    fn expected_purchases_new(&self, p: [f64; 4], n: f64) -> f64 {
        uncond_expected(p, n)
    }
    fn p_purchases_new(&self, p: [f64; 4], k: u64, n: f64) -> f64 {
        p_purchases(p, k, n as u64)
    }
    fn history_pmf(&self, p: [f64; 4], k: u64, m: u64, x: f64, tx: f64, n: f64) -> f64 {
        cond_p_purchases(p, k, m, x, tx, n)
    }
    /// p ~ Beta(α, β), θ ~ Beta(γ, δ); at each opportunity the customer dies with
    /// probability θ, else transacts with probability p.
    fn simulate(
        &self,
        p: [f64; 4],
        t_end: f64,
        _resolution: Option<f64>,
        rng: &mut Rng,
    ) -> Vec<f64> {
        let mut times = Vec::new();
        let pt = rng.beta(p[0], p[1]);
        let th = rng.beta(p[2], p[3]);
        let n = t_end as u64;
        for i in 1..=n {
            if rng.uniform() < th {
                break;
            }
            if rng.uniform() < pt {
                times.push(i as f64);
            }
        }
        times
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [f64; 4] = [1.204, 0.750, 0.657, 2.783];

    #[test]
    fn likelihood_matches_direct_sum() {
        for &(x, tx, n) in &[
            (0.0, 0.0, 6.0),
            (3.0, 4.0, 6.0),
            (6.0, 6.0, 6.0),
            (1.0, 1.0, 6.0),
        ] {
            let [al, be, ga, de] = P;
            let mut l = (lbeta(al + x, be + n - x) - lbeta(al, be) + lbeta(ga, de + n)
                - lbeta(ga, de))
            .exp();
            let mut i = 0.0;
            while i <= n - tx - 1.0 {
                l += (lbeta(al + x, be + tx - x + i) - lbeta(al, be)
                    + lbeta(ga + 1.0, de + tx + i)
                    - lbeta(ga, de))
                .exp();
                i += 1.0;
            }
            assert!((ll_generic(P, x, tx, n) - l.ln()).abs() < 1e-12);
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let d = Data {
            x: vec![0.0, 3.0, 6.0],
            tx: vec![0.0, 4.0, 6.0],
            t: vec![6.0, 6.0, 6.0],
            w: vec![100.0, 20.0, 5.0],
            ..Default::default()
        };
        let th = P.map(f64::ln);
        let dual = ll_sum(std::array::from_fn(|i| Dual::<4>::var(th[i], i).exp()), &d);
        for i in 0..4 {
            let h = 1e-6;
            let (mut tp, mut tm) = (th, th);
            tp[i] += h;
            tm[i] -= h;
            let f = |t: [f64; 4]| ll_sum(t.map(f64::exp), &d);
            let fd = (f(tp) - f(tm)) / (2.0 * h);
            assert!((dual.d[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()));
        }
    }

    #[test]
    fn conditional_pmf_sums_to_one_and_mean_is_conditional_expectation() {
        for p in [P, [0.3, 4.0, 2.5, 0.4], [25.0, 3.0, 0.05, 60.0]] {
            for &(x, tx, n) in &[
                (0.0, 0.0, 6.0),
                (3.0, 4.0, 6.0),
                (6.0, 6.0, 6.0),
                (1.0, 1.0, 6.0),
                (40.0, 70.0, 200.0),
            ] {
                for m in [0u64, 1, 5, 30] {
                    let probs: Vec<f64> = (0..=m + 2)
                        .map(|k| cond_p_purchases(p, k, m, x, tx, n))
                        .collect();
                    assert!(probs.iter().all(|q| (0.0..=1.0 + 1e-12).contains(q)));
                    assert_eq!(probs[m as usize + 1], 0.0);
                    let total: f64 = probs.iter().sum();
                    let mean: f64 = probs.iter().enumerate().map(|(k, q)| k as f64 * q).sum();
                    let e = cond_expected(p, x, tx, n, m as f64);
                    assert!(
                        (total - 1.0).abs() < 1e-12,
                        "{p:?} {x} {tx} {n} {m}: {total}"
                    );
                    assert!((mean - e).abs() < 1e-10 * (1.0 + e), "{mean} vs {e}");
                }
            }
        }
        // Seen at the last opportunity: certainly alive through n, so with one more
        // opportunity P(1) = E[p | history] = (α+x)/(α+β+n) times survival (δ+n)/(γ+δ+n).
        let q1 = cond_p_purchases(P, 1, 1, 6.0, 6.0, 6.0);
        let [al, be, ga, de] = P;
        let expect = (al + 6.0) / (al + be + 6.0) * (de + 6.0) / (ga + de + 6.0);
        assert!((q1 - expect).abs() < 1e-13, "{q1} vs {expect}");
    }

    #[test]
    fn pmf_sums_to_one_and_mean_matches() {
        let n = 6;
        let probs: Vec<f64> = (0..=n).map(|x| p_purchases(P, x, n)).collect();
        let total: f64 = probs.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        let mean: f64 = probs.iter().enumerate().map(|(x, p)| x as f64 * p).sum();
        assert!((mean - uncond_expected(P, n as f64)).abs() < 1e-10);
    }
}
