//! BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).
//!
//! Parameters (r, alpha, a, b). With x repeat purchases, last at t_x, observed for T:
//!
//! BG/NBD:  ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b) − (r+x) ln(α+T)
//!                 + δ(x>0) · softplus( ln a − ln(b+x−1) + (r+x)(ln(α+T) − ln(α+t_x)) )
//! MBG/NBD: ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x+1) − ln B(a, b) − (r+x) ln(α+T)
//!                 + softplus( ln a − ln(b+x) + (r+x)(ln(α+T) − ln(α+t_x)) )
//! (the softplus form is FHL's sum of two terms divided by the first, in log space: no
//! overflow at high frequency or long T). P(alive) = 1 / (1 + e^D) with D the softplus argument.

use super::compress::{log_shift, par_sum, Data};
use super::dual::{Dual, Real};
use super::model::{BtydModel, ConditionalPmf, Likelihood};
use super::simulate::{Purchases, Rng};
use super::special::{hyp2f1_series, lbeta, lgamma};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Bg,
    Mbg,
}

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
    use super::special::digamma;
    let [r, alpha, a, b] = p;
    let mbg = v == Variant::Mbg;
    let base = r * alpha.ln() - lgamma(r) - lbeta(a, b);
    let (psi_r, psi_ab, psi_b) = (digamma(r), digamma(a + b), digamma(b));
    // Per x: [c, ∂c/∂r, ∂c/∂a, ∂c/∂b, lr, ∂lr/∂b] (∂lr/∂a = 1/a for every x).
    let xterm = |xf: f64| -> [f64; 6] {
        let xp = if mbg { xf + 1.0 } else { xf };
        let psi_abx = digamma(a + b + xp);
        let c = lgamma(r + xf) + lbeta(a, b + xp) + base;
        let cr = digamma(r + xf) - psi_r + alpha.ln();
        let ca = psi_ab - psi_abx;
        let cb = digamma(b + xp) - psi_abx - psi_b + psi_ab;
        let (lr, lrb) = if mbg || xf > 0.0 {
            let bb = b + (xp - 1.0);
            (a.ln() - bb.ln(), -1.0 / bb)
        } else {
            (0.0, 0.0)
        };
        [c, cr, ca, cb, lr, lrb]
    };
    let xmax = d.max_x();
    let table: Option<Vec<[f64; 6]>> =
        (xmax <= 2 * d.len() + 1024).then(|| (0..=xmax).map(|x| xterm(x as f64)).collect());
    // ln(α+v) and 1/(α+v) per level of a column, or computed per row.
    let shift = |lv: &Option<super::compress::Levels>| -> Option<Vec<(f64, f64)>> {
        lv.as_ref().map(|l| {
            l.values
                .iter()
                .map(|&v| ((alpha + v).ln(), 1.0 / (alpha + v)))
                .collect()
        })
    };
    let (sh_t, sh_tx) = (shift(&d.t_levels), shift(&d.tx_levels));
    let get = |sh: &Option<Vec<(f64, f64)>>,
               lv: &Option<super::compress::Levels>,
               col: &[f64],
               i: usize|
     -> (f64, f64) {
        match (sh, lv) {
            (Some(s), Some(l)) => s[l.index[i] as usize],
            _ => ((alpha + col[i]).ln(), 1.0 / (alpha + col[i])),
        }
    };
    let inv_a = 1.0 / a;
    let acc: Dual<4> = par_sum(d.len(), |i| {
        let xf = d.x[i];
        let wi = d.w[i];
        let [c, cr, ca, cb, lr, lrb] = match &table {
            Some(t) => t[xf as usize],
            None => xterm(xf),
        };
        let rx = r + xf;
        let (l_t, i_t) = get(&sh_t, &d.t_levels, &d.t, i);
        let mut ll = c - rx * l_t;
        let mut g = [cr - l_t, -rx * i_t, ca, cb];
        if mbg || xf > 0.0 {
            let (l_tx, i_tx) = get(&sh_tx, &d.tx_levels, &d.tx, i);
            let u = lr + rx * (l_t - l_tx);
            // softplus(u) and σ(u) from one exponential of −|u|. ln(1 + e) rather than
            // ln_1p(e): its absolute error (≤ 1.2e-16, what the sum needs) is the same and
            // glibc's log is several times faster than its log1p (the fit's hottest call).
            let e = (-u.abs()).exp();
            let l1e = (1.0 + e).ln();
            let (sp, sig) = if u > 0.0 {
                (u + l1e, 1.0 / (1.0 + e))
            } else {
                (l1e, e / (1.0 + e))
            };
            ll += sp;
            g[0] += sig * (l_t - l_tx);
            g[1] += sig * rx * (i_t - i_tx);
            g[2] += sig * inv_a;
            g[3] += sig * lrb;
        }
        Dual {
            v: ll * wi,
            d: [g[0] * wi, g[1] * wi, g[2] * wi, g[3] * wi],
        }
    });
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

fn log_odds_dead(p: [f64; 4], x: f64, tx: f64, t: f64, v: Variant) -> Option<f64> {
    let [r, alpha, a, b] = p;
    let lr = match v {
        Variant::Bg if x == 0.0 => return None,
        Variant::Bg => a.ln() - (b + x - 1.0).ln(),
        Variant::Mbg => a.ln() - (b + x).ln(),
    };
    Some(lr + (r + x) * ((alpha + t).ln() - (alpha + tx).ln()))
}

/// `p_alive` over many rows whose x, t_x and T are small whole numbers (day-grained
/// summaries): the logarithms come from tables indexed by value, so a row costs one exp and
/// one ln_1p instead of six transcendental calls. Same operations on the same values as
/// `p_alive`, hence the same results bit for bit.
pub struct PAliveTables {
    ln_shift: Vec<f64>,
    lr: Vec<f64>,
}

impl PAliveTables {
    const MAX: f64 = 65_536.0;

    pub fn new(p: [f64; 4], x: &[f64], tx: &[f64], t: &[f64], v: Variant) -> Option<Self> {
        use super::compress::whole_max;
        let [_, alpha, a, b] = p;
        let (mx, mtx, mt) = (whole_max(x)?, whole_max(tx)?, whole_max(t)?);
        if mx > Self::MAX || mtx.max(mt) > Self::MAX {
            return None;
        }
        let ln_shift = (0..=mtx.max(mt) as usize)
            .map(|k| (alpha + k as f64).ln())
            .collect();
        let lr = (0..=mx as usize)
            .map(|k| {
                let x = k as f64;
                match v {
                    Variant::Bg => a.ln() - (b + x - 1.0).ln(),
                    Variant::Mbg => a.ln() - (b + x).ln(),
                }
            })
            .collect();
        Some(PAliveTables { ln_shift, lr })
    }

    /// P(alive) of a row of the columns the tables were built from.
    #[inline]
    pub fn get(&self, p: [f64; 4], x: f64, tx: f64, t: f64, v: Variant) -> f64 {
        if v == Variant::Bg && x == 0.0 {
            return 1.0;
        }
        let dd = self.lr[x as usize]
            + (p[0] + x) * (self.ln_shift[t as usize] - self.ln_shift[tx as usize]);
        (-Real::softplus(dd)).exp()
    }
}

/// P(alive | x, t_x, T).
pub fn p_alive(p: [f64; 4], x: f64, tx: f64, t: f64, v: Variant) -> f64 {
    match log_odds_dead(p, x, tx, t, v) {
        None => 1.0,
        Some(dd) => (-Real::softplus(dd)).exp(),
    }
}

/// The part of E[Y(t) | x, t_x, T] that does not depend on t_x:
/// E = bracket(x, T, t) · P(alive). BG/NBD (FHL 2005 eq. 10):
///   bracket = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z)],
///   z = t/(α+T+t).
/// Euler's transformation 2F1(A,B;C;z) = (1−z)^(C−A−B) 2F1(C−A, C−B; C; z) turns the product
/// into (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z), whose parameters do not grow with x and
/// whose prefactor cannot overflow. MBG/NBD is the same with b → b+1 in the 2F1 and
/// (a+b+x)/(a−1) in front.
pub fn bracket(p: [f64; 4], x: f64, t_obs: f64, t: f64, v: Variant) -> f64 {
    let [r, alpha, a, b] = p;
    if t <= 0.0 {
        return 0.0;
    }
    if (a - 1.0).abs() < 1e-7 {
        // Removable singularity at a = 1: average the two sides.
        let h = 1e-6;
        return 0.5
            * (bracket([r, alpha, 1.0 + h, b], x, t_obs, t, v)
                + bracket([r, alpha, 1.0 - h, b], x, t_obs, t, v));
    }
    let z = t / (alpha + t_obs + t);
    if z > 0.9 {
        // The series converges like z^k: near z = 1 use the integral form instead.
        return bracket_integral(p, x, t_obs, t, v);
    }
    let (front, a2, c2) = match v {
        Variant::Bg => (a + b + x - 1.0, a + b - 1.0 - r, a + b + x - 1.0),
        Variant::Mbg => (a + b + x, a + b - r, a + b + x),
    };
    let Some(s) = hyp2f1_series(a2, a - 1.0, c2, z) else {
        return bracket_integral(p, x, t_obs, t, v);
    };
    // 1 − (1−z)^(a−1) · s, as −expm1(...) for accuracy when the product is near 1.
    let inner = if s > 0.0 {
        -((a - 1.0) * (-z).ln_1p() + s.ln()).exp_m1()
    } else {
        1.0 - (1.0 - z).powf(a - 1.0) * s
    };
    front / (a - 1.0) * inner
}

/// The same bracket as an expectation over the posterior drop-out probability of a customer
/// alive at T: given λ and p, E[Y(t)] = (1 − e^(−λpt))/p; λ | x, T ~ Gamma(r+x, α+T) gives
/// E_λ = (1 − (1 + pt/(α+T))^−(r+x))/p, and p ~ Beta(a, b+x) (MBG/NBD: Beta(a, b+x+1)).
/// The integral over p ∈ (0, 1) is done by tanh-sinh quadrature in log space (endpoint
/// singularities of the Beta density are harmless), accurate to ~1e-10 at any z unless a or
/// b+x is below ~0.01.
pub fn bracket_integral(p: [f64; 4], x: f64, t_obs: f64, t: f64, v: Variant) -> f64 {
    let [r, alpha, a, b] = p;
    let b2 = match v {
        Variant::Bg => b + x,
        Variant::Mbg => b + x + 1.0,
    };
    let c = t / (alpha + t_obs);
    let lb = lbeta(a, b2);
    let h = 1.0 / 32.0;
    let half_pi = std::f64::consts::FRAC_PI_2;
    let mut acc = 0.0;
    for k in -240..=240 {
        let tau = k as f64 * h;
        let sv = half_pi * tau.sinh();
        // p = 1/(1 + e^(−2s)), 1 − p = 1/(1 + e^(2s)), both without cancellation.
        let ln_p = -Real::softplus(-2.0 * sv);
        let ln_q = -Real::softplus(2.0 * sv);
        let pv = ln_p.exp();
        let e = (-2.0 * sv.abs()).exp();
        let ln_w = (h * half_pi * tau.cosh()).ln() + 2f64.ln() - 2.0 * sv.abs() - 2.0 * e.ln_1p();
        let pc = pv * c;
        let g = if pc < 1e-8 {
            // (1 − (1+pc)^−(r+x))/p to second order; exact in the limit p → 0.
            (r + x) * c * (1.0 - 0.5 * (r + x + 1.0) * pc)
        } else {
            -(-(r + x) * pc.ln_1p()).exp_m1() / pv
        };
        if g <= 0.0 || !g.is_finite() {
            continue;
        }
        acc += ((a - 1.0) * ln_p + (b2 - 1.0) * ln_q - lb + ln_w + g.ln()).exp();
    }
    // Mass beyond the outermost nodes (p < p_min or 1 − p < q_min, both ~e^−232), which
    // matters when a or b+x is tiny: there g is constant to first order, (r+x)·c near 0 and
    // g(1) near 1, and the Beta density integrates to p_min^a / (a B) (resp. q_min^b2 / (b2 B)).
    let s_max = half_pi * (240.0 * h).sinh();
    let ln_edge = -Real::softplus(2.0 * s_max);
    let g1 = -(-(r + x) * c.ln_1p()).exp_m1();
    acc +=
        (r + x) * c * (a * ln_edge - a.ln() - lb).exp() + g1 * (b2 * ln_edge - b2.ln() - lb).exp();
    acc
}

/// E[Y(t) | x, t_x, T] (expected purchases in the next t).
pub fn cond_expected(p: [f64; 4], x: f64, tx: f64, t_obs: f64, t: f64, v: Variant) -> f64 {
    bracket(p, x, t_obs, t, v) * p_alive(p, x, tx, t_obs, v)
}

/// E[X(t)] for a new customer (observed from their first purchase).
/// BG/NBD: the conditional formula at x = 0, T = 0. MBG/NBD: Batislam et al. eq. (7),
/// E[X(t)] = b/(a−1) · [1 − (α/(α+t))^r 2F1(r, b+1; a+b; t/(α+t))], which also equals the
/// conditional form at x = 0, T = 0 (P(alive) = b/(a+b) there).
pub fn uncond_expected(p: [f64; 4], t: f64, v: Variant) -> f64 {
    cond_expected(p, 0.0, 0.0, 0.0, t, v)
}

/// P(X(t) = n) for a new customer, BG/NBD (FHL 2005 eq. 8):
/// B(a,b+n)/B(a,b) · NB(n; r, α/(α+t)) + δ(n>0) B(a+1,b+n−1)/B(a,b) · P(NB >= n)... where the
/// last factor is 1 − Σ_{j<n} NB(j). MBG/NBD (Batislam eq. 6): first term with B(a, b+n+1),
/// second term B(a+1, b+n)/B(a,b) · (1 − Σ_{j<=n}... ) as below.
pub fn p_purchases(p: [f64; 4], n: u64, t: f64, v: Variant) -> f64 {
    let [r, alpha, a, b] = p;
    let nf = n as f64;
    let lq = (alpha / (alpha + t)).ln(); // ln P(success)
    let lp = (t / (alpha + t)).ln();
    let lnb = |j: f64| lgamma(r + j) - lgamma(r) - lgamma(j + 1.0) + r * lq + j * lp;
    // Tail P(NB >= k) = 1 − CDF(k−1), computed from whichever side is smaller.
    let tail = |k: u64| -> f64 {
        if k == 0 {
            return 1.0;
        }
        let cdf: f64 = (0..k).map(|j| lnb(j as f64).exp()).sum();
        if cdf < 0.5 {
            1.0 - cdf
        } else {
            let mut s = 0.0;
            let mut j = k;
            loop {
                let term = lnb(j as f64).exp();
                s += term;
                j += 1;
                if term <= 1e-17 * s || j > k + 10_000_000 {
                    break;
                }
            }
            s
        }
    };
    let lb = lbeta(a, b);
    match v {
        Variant::Bg => {
            let first = (lbeta(a, b + nf) - lb + lnb(nf)).exp();
            if n == 0 {
                first
            } else {
                first + (lbeta(a + 1.0, b + nf - 1.0) - lb).exp() * tail(n)
            }
        }
        Variant::Mbg => {
            let first = (lbeta(a, b + nf + 1.0) - lb + lnb(nf)).exp();
            first + (lbeta(a + 1.0, b + nf) - lb).exp() * tail(n)
        }
    }
}

/// BG/NBD or MBG/NBD as a model of the kernels.
#[derive(Clone, Copy, Debug)]
pub struct BgNbd(pub Variant);

impl Likelihood for BgNbd {
    type Grad = Dual<4>;
    fn kind(&self) -> &'static str {
        match self.0 {
            Variant::Bg => "bg_nbd",
            Variant::Mbg => "mbg_nbd",
        }
    }
    fn param_names(&self) -> &'static [&'static str] {
        &["r", "alpha", "a", "b"]
    }
    fn ll_sum<R: Real>(&self, p: &[R], d: &Data) -> R {
        ll_sum([p[0], p[1], p[2], p[3]], d, self.0)
    }
    fn ll_grad_log(&self, theta: &[f64], d: &Data) -> (f64, Vec<f64>) {
        let p = [
            theta[0].exp(),
            theta[1].exp(),
            theta[2].exp(),
            theta[3].exp(),
        ];
        let (ll, g) = ll_grad(p, d, self.0);
        (ll, g.to_vec())
    }
    fn start_values(&self, d: &Data) -> Vec<f64> {
        let (mx, mt) = d.mean_x_t();
        vec![1.0, mt / mx, 1.0, 3.0]
    }
}

impl BtydModel for BgNbd {
    type Params = [f64; 4];
    const CONDITIONAL: ConditionalPmf = ConditionalPmf::Posterior;

    fn p_alive(&self, p: [f64; 4], x: f64, tx: f64, t: f64) -> f64 {
        p_alive(p, x, tx, t, self.0)
    }
    fn row_factors<'a>(
        &'a self,
        p: [f64; 4],
        x: &'a [f64],
        tx: &'a [f64],
        t: &'a [f64],
    ) -> impl Fn(usize) -> f64 + Sync + 'a {
        let v = self.0;
        let tables = PAliveTables::new(p, x, tx, t, v);
        move |i| match &tables {
            Some(tab) => tab.get(p, x[i], tx[i], t[i], v),
            None => p_alive(p, x[i], tx[i], t[i], v),
        }
    }
    fn bracket(&self, p: [f64; 4], x: f64, t_obs: f64, t: f64) -> f64 {
        bracket(p, x, t_obs, t, self.0)
    }
    fn expected_purchases_new(&self, p: [f64; 4], t: f64) -> f64 {
        uncond_expected(p, t, self.0)
    }
    fn p_purchases_new(&self, p: [f64; 4], n: u64, t: f64) -> f64 {
        p_purchases(p, n, t, self.0)
    }
    /// BG/NBD(r+x, α+T, a, b+x); MBG/NBD: BG/NBD(r+x, α+T, a, b+x+1) (see `conditional`).
    fn posterior_pmf(&self, p: [f64; 4], n: u64, t: f64, x: f64, t_obs: f64) -> f64 {
        let [r, alpha, a, b] = p;
        let b_post = match self.0 {
            Variant::Bg => b + x,
            Variant::Mbg => b + x + 1.0,
        };
        p_purchases([r + x, alpha + t_obs, a, b_post], n, t, Variant::Bg)
    }
    /// λ ~ Gamma(r, α), p ~ Beta(a, b); a drop-out coin after each purchase (MBG/NBD: also
    /// one at time 0).
    fn simulate(
        &self,
        p: [f64; 4],
        t_end: f64,
        resolution: Option<f64>,
        rng: &mut Rng,
    ) -> Vec<f64> {
        let mut out = Purchases::new(resolution);
        let lambda = rng.gamma(p[0], p[1]);
        let pd = rng.beta(p[2], p[3]);
        if self.0 == Variant::Mbg && rng.uniform() < pd {
            return out.into_times();
        }
        let mut t = 0.0;
        loop {
            t += rng.exponential(lambda);
            if t > t_end {
                break;
            }
            out.push(t);
            if rng.uniform() < pd {
                break;
            }
        }
        out.into_times()
    }
}

#[cfg(test)]
mod tests {
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
    fn integral_form_matches_series() {
        for v in [Variant::Bg, Variant::Mbg] {
            for &(p, x, t_obs, t) in &[
                (P, 0.0, 0.0, 10.0),
                (P, 3.0, 38.86, 39.0),
                ([0.5, 3.0, 5.0, 2.0], 7.0, 20.0, 15.0),
                ([2.0, 8.0, 0.4, 0.7], 1.0, 5.0, 30.0),
                ([0.3, 4.0, 0.02, 3.0], 2.0, 5.0, 20.0),
            ] {
                let series = bracket(p, x, t_obs, t, v);
                let integral = bracket_integral(p, x, t_obs, t, v);
                assert!(
                    (series - integral).abs() < 1e-10 * series.abs(),
                    "{v:?} {p:?} {x} {t_obs} {t}: {series} vs {integral}"
                );
            }
        }
        // Far beyond the series' range (z ≈ 1 − 1e-7) the bracket stays finite and below
        // its limit E[1/p] = (a+b+x−1)/(a−1) for a > 1.
        let p = [0.243, 4.414, 5.0, 2.426];
        let e = bracket(p, 0.0, 5.0, 1e8, Variant::Bg);
        assert!(e.is_finite() && e > 0.0 && e < (5.0 + 2.426 - 1.0) / 4.0);
    }

    #[test]
    fn p_alive_tables_reproduce_p_alive_exactly() {
        let x: Vec<f64> = (0..500).map(|i| (i % 17) as f64).collect();
        let t: Vec<f64> = (0..500).map(|i| 30.0 + (i % 11) as f64).collect();
        let tx: Vec<f64> = (0..500)
            .map(|i| if x[i] == 0.0 { 0.0 } else { (i % 31) as f64 })
            .collect();
        for v in [Variant::Bg, Variant::Mbg] {
            let tab = PAliveTables::new(P, &x, &tx, &t, v).unwrap();
            for i in 0..x.len() {
                assert_eq!(
                    tab.get(P, x[i], tx[i], t[i], v),
                    p_alive(P, x[i], tx[i], t[i], v)
                );
            }
        }
        assert!(PAliveTables::new(P, &[1.0], &[0.5], &[2.0], Variant::Bg).is_none());
        assert!(PAliveTables::new(P, &[1.0], &[1.0], &[1e6], Variant::Bg).is_none());
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

    #[test]
    fn p_purchases_sums_to_one() {
        for v in [Variant::Bg, Variant::Mbg] {
            let s: f64 = (0..400).map(|n| p_purchases(P, n, 39.0, v)).sum();
            assert!((s - 1.0).abs() < 1e-9, "{v:?} {s}");
        }
    }
}
