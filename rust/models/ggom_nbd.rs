//! GGom/NBD, the Gamma-Gompertz/NBD (Bemmaor & Glady 2012), parameters (r, alpha, b, s, beta).
//!
//! Purchases are Poisson(λ) while alive, λ ~ Gamma(r, α). A customer's lifetime τ is
//! Gompertz with hazard η b e^{bt}, η ~ Gamma(s, β), so S(t) = (β / (β + e^{bt} − 1))^s and
//! f(t) = b s β^s e^{bt} (β + e^{bt} − 1)^−(s+1). The likelihood integrates over a death
//! between the last purchase and T:
//!   L = Γ(r+x) α^r / Γ(r) · [ (α+T)^−(r+x) S(T) + ∫_{t_x}^T (α+y)^−(r+x) f(y) dy ].
//! The integral has no closed form; it is computed by adaptive Gauss–Kronrod (`quad`) in log
//! space (ln(β + e^{y} − 1) is evaluated without overflow or cancellation, so tiny b and β —
//! where the model tends to Pareto/NBD with β/b as its β — and large bT both stay exact).
//!
//! Predictions: alive at T, λ's posterior is Gamma(r+x, α+T) and η's is Gamma(s, β + e^{bT} −
//! 1), independent of each other; the residual lifetime is again Gamma-Gompertz with
//!   β_T = (β + e^{bT} − 1) e^{−bT} = β e^{−bT} − expm1(−bT)
//! (time measured from T). So a customer alive at T restarts as a new GGom/NBD customer with
//! (r+x, α+T, b, s, β_T): the conditional expectation and PMF are the new-customer ones at
//! those parameters, times P(alive) (`ConditionalPmf::Posterior`).

use super::compress::Data;
use super::dual::{Dual, Real};
use super::limits;
use super::model::{BtydModel, ConditionalPmf, Likelihood};
use super::quad::{integrate, integrate_pair};
use super::simulate::{Purchases, Rng};
use super::special::lgamma;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Relative accuracy of the likelihood's integral (the fit's tolerance is ~1e-9 relative).
const LL_REL: f64 = 1e-12;
/// Relative accuracy of the prediction integrals.
const PRED_REL: f64 = 1e-12;

/// ln(β + e^y − 1) for y >= 0.
fn ln_beta_exp<R: Real>(beta: R, y: R) -> R {
    if y.val() > 1.0 {
        y + ((beta - 1.0) * (-y).exp()).ln_1p()
    } else {
        (beta + y.exp_m1()).ln()
    }
}

/// (Tests: the per-pattern form that `ll_sum` replaced.) The two terms of ln L minus their
/// shared ln Γ(r+x) − ln Γ(r) + r ln α + s ln β: alive at T,
/// and dead in (t_x, T] (None when t_x >= T).
#[cfg(test)]
fn ln_terms<R: Real>(p: [R; 5], x: f64, tx: f64, t: f64) -> (R, Option<R>) {
    let [r, alpha, b, s, beta] = p;
    let alive = -(r + x) * (alpha + t).ln() - s * ln_beta_exp(beta, b * t);
    if tx >= t {
        return (alive, None);
    }
    let log_integrand =
        |y: f64| -(r + x) * (alpha + y).ln() - (s + 1.0) * ln_beta_exp(beta, b * y) + b * y;
    // Scale by a constant (no derivative needed) so the integrand neither under- nor overflows.
    let shift = [tx, 0.5 * (tx + t), t]
        .iter()
        .map(|&y| log_integrand(y).val())
        .fold(f64::NEG_INFINITY, f64::max);
    let i = integrate(&|y: f64| (log_integrand(y) - shift).exp(), tx, t, LL_REL);
    (alive, Some(b.ln() + s.ln() + i.ln() + shift))
}

/// Σ_i w_i ln L_i over the patterns, computed per frequency x on the grid of the group's
/// distinct t_x and T values rather than one integral per pattern.
///
/// With g(y) = (α+y)^−(r+x), the pattern's bracket is g(T)S(T) + ∫_{t_x}^T g f. Integrating
/// by parts, it is P(T) + G(t_x) with, up to the group's last grid point U,
///   G(u) = ∫_u^U g f,   P(u) = g(U)S(U) + (r+x) ∫_u^U g S / (α+y),
/// two sums of positive terms (no cancellation) that every pattern of the group shares. Both
/// are built from the end by one integral per grid interval, kept scaled by g(u)S(u) (so
/// large x or bT neither under- nor overflows). On day-grained data a group's grid has at most a few
/// hundred points however many customers it holds: on 1M customers 293k patterns need 15k
/// short intervals where the per-pattern integrals needed 293k long ones.
pub fn ll_sum<R: Real>(p: [R; 5], d: &Data) -> R {
    ll_sum_on(p, d, &cached_grids(d))
}

/// `ll_sum` on the grid of `d`.
fn ll_sum_on<R: Real>(p: [R; 5], d: &Data, grids: &Grids) -> R {
    let [r, alpha, ..] = p;
    let tables = grid_tables(p, grids);
    let base = r * alpha.ln() - r.lgamma();
    grids
        .groups
        .par_iter()
        .zip(tables.par_iter())
        .map(|(grp, tab)| {
            let mut acc = R::cst(0.0);
            let mut wsum = 0.0;
            for (k, &i) in grp.rows.iter().enumerate() {
                let w = d.w[i];
                wsum += w;
                let term = match tab.terms(p, grp, k, d.t[i]) {
                    (alive, Some(dead)) => alive.logaddexp(dead),
                    (alive, None) => alive,
                };
                acc += term * w;
            }
            acc + (base + (r + grp.x).lgamma()) * wsum
        })
        .collect::<Vec<R>>()
        .into_iter()
        // summed in group order: the same bits on every run, whatever the thread scheduling
        .fold(R::cst(0.0), |a, b| a + b)
}

/// P(alive at T) of every row, through the grid of `ll_sum` (one short integral per distinct
/// (x, time) instead of one per row).
pub fn p_alive_rows(p: [f64; 5], x: &[f64], tx: &[f64], t: &[f64]) -> Vec<f64> {
    let d = Data {
        x: x.to_vec(),
        tx: tx.to_vec(),
        t: t.to_vec(),
        w: vec![1.0; x.len()],
        ..Default::default()
    };
    let grids = Grids::new(&d);
    let tables = grid_tables(p, &grids);
    let per_group: Vec<Vec<(usize, f64)>> = grids
        .groups
        .par_iter()
        .zip(tables.par_iter())
        .map(|(grp, tab)| {
            let rows = grp.rows.iter().enumerate();
            // P(alive) = g(T)S(T) / (P(T) + G(t_x)); P(T) is g(T)S(T) only at the grid's end.
            rows.map(|(k, &i)| match tab.terms(p, grp, k, t[i]) {
                (a, Some(dead)) => {
                    let it = grp.at[k].1 as usize;
                    (i, (tab.ln_at[it] - a.logaddexp(dead)).exp().min(1.0))
                }
                (_, None) => (i, 1.0),
            })
            .collect()
        })
        .collect();
    let mut out = vec![1.0; x.len()];
    for (i, v) in per_group.into_iter().flatten() {
        out[i] = v;
    }
    out
}

/// Per grid point u of a group: ln(g(u)S(u)) and ln(G/gS), ln(P/gS) (both in [0, 1], summing
/// to 1), with g(y) = (α+y)^−(r+x), up to the constant shared by all patterns.
struct Table<R> {
    ln_at: Vec<R>,
    ln_hg: Vec<R>,
    ln_hp: Vec<R>,
}

impl<R: Real> Table<R> {
    /// ln P(T) and ln G(t_x) of row `k` of the group, whose sum is the row's bracket (G None
    /// when t_x >= T: then the first is ln g(T)S(T)).
    fn terms(&self, p: [R; 5], grp: &Group, k: usize, t: f64) -> (R, Option<R>) {
        let (itx, it) = grp.at[k];
        if itx == u32::MAX {
            return (ln_gs(p, grp.x, t), None);
        }
        let (itx, it) = (itx as usize, it as usize);
        let alive = self.ln_at[it] + self.ln_hp[it];
        let dead = self.ln_at[itx] + self.ln_hg[itx];
        (alive, (dead.val() > f64::NEG_INFINITY).then_some(dead))
    }
}

/// ln(g(y)S(y)) = −(r+x) ln(α+y) + s (ln β − ln(β + e^{by} − 1)).
fn ln_gs<R: Real>(p: [R; 5], x: f64, y: f64) -> R {
    let [r, alpha, b, s, beta] = p;
    -(r + x) * (alpha + y).ln() + s * (beta.ln() - ln_beta_exp(beta, b * y))
}

fn grid_tables<R: Real>(p: [R; 5], grids: &Grids) -> Vec<Table<R>> {
    let [r, alpha, b, s, beta] = p;
    let ln_bs = b.ln() + s.ln();
    let lbe = |y: f64| ln_beta_exp(beta, b * y);
    let ivs: Vec<[R; 2]> = grids
        .intervals
        .par_iter()
        .with_min_len(64)
        .map(|&(x, lo, hi)| {
            let rx = r + x;
            let inv_lo = R::cst(1.0) / (alpha + lo);
            let l_lo = lbe(lo);
            let h = |y: f64| {
                let l = lbe(y);
                // g(y)S(y) / g(lo)S(lo), times the hazard f/S and times (r+x)/(α+y)
                let q = (-s * (l - l_lo) - rx * (inv_lo * (y - lo)).ln_1p()).exp();
                [q * (ln_bs + b * y - l).exp(), q * rx / (alpha + y)]
            };
            // g·S falls off from lo at the rate (r+x)/(α+lo) + the hazard at lo
            let hazard = (ln_bs + b * lo - l_lo).exp().val();
            let first = 2.0 / (rx.val() / (alpha.val() + lo) + hazard);
            integrate_pair(&h, lo, hi, first, LL_REL)
        })
        .collect();
    grids
        .groups
        .par_iter()
        .map(|grp| {
            let m = grp.grid.len();
            let mut tab = Table {
                ln_at: vec![R::cst(0.0); m],
                ln_hg: vec![R::cst(f64::NEG_INFINITY); m],
                ln_hp: vec![R::cst(0.0); m],
            };
            if m > 0 {
                let (mut hg, mut hp) = (R::cst(0.0), R::cst(1.0));
                tab.ln_at[m - 1] = ln_gs(p, grp.x, grp.grid[m - 1]);
                for j in (0..m - 1).rev() {
                    let [a, c] = ivs[grp.first_interval + j];
                    tab.ln_at[j] = ln_gs(p, grp.x, grp.grid[j]);
                    let rho = (tab.ln_at[j + 1] - tab.ln_at[j]).exp();
                    hg = a + rho * hg;
                    hp = c + rho * hp;
                    tab.ln_hg[j] = hg.ln();
                    tab.ln_hp[j] = hp.ln();
                }
            }
            tab
        })
        .collect()
}

/// Patterns below which the grid is rebuilt rather than looked up.
const CACHE_MIN: usize = 4096;

/// The grid of the data last fitted, with a copy of its columns to recognise them.
struct CachedGrids {
    x: Vec<f64>,
    tx: Vec<f64>,
    t: Vec<f64>,
    grids: Arc<Grids>,
}

static GRID_CACHE: Mutex<Option<CachedGrids>> = Mutex::new(None);

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits())
}

/// `Grids::new(d)`, reused while a fit evaluates the likelihood on the same data again and
/// again: building it (a sort of every group's times) was an eighth of each evaluation on 1M
/// customers. The data are recognised by their contents (compared in full, which costs a
/// fraction of the build), never by address, so other data can never get a stale grid.
fn cached_grids(d: &Data) -> Arc<Grids> {
    if d.len() < CACHE_MIN {
        return Arc::new(Grids::new(d));
    }
    let mut cache = GRID_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = cache.as_ref() {
        if same_bits(&c.x, &d.x) && same_bits(&c.tx, &d.tx) && same_bits(&c.t, &d.t) {
            return c.grids.clone();
        }
    }
    let grids = Arc::new(Grids::new(d));
    *cache = Some(CachedGrids {
        x: d.x.clone(),
        tx: d.tx.clone(),
        t: d.t.clone(),
        grids: grids.clone(),
    });
    grids
}

/// The patterns grouped by frequency, each group with its sorted distinct t_x and T (of the
/// patterns that can have died before T) and each pattern's place in it.
struct Grids {
    groups: Vec<Group>,
    /// (x, lo, hi) of every group's grid intervals, group after group.
    intervals: Vec<(f64, f64, f64)>,
}

struct Group {
    x: f64,
    rows: Vec<usize>,
    grid: Vec<f64>,
    /// Grid indices of each row's (t_x, T); u32::MAX when t_x >= T (alive term only).
    at: Vec<(u32, u32)>,
    first_interval: usize,
}

impl Grids {
    fn new(d: &Data) -> Self {
        let mut order: Vec<usize> = (0..d.len()).collect();
        if !d.x.windows(2).all(|w| w[0] <= w[1]) {
            order.sort_by(|&i, &j| d.x[i].total_cmp(&d.x[j]));
        }
        let mut groups = Vec::new();
        let mut intervals = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let x = d.x[order[start]];
            let mut end = start;
            while end < order.len() && d.x[order[end]] == x {
                end += 1;
            }
            let rows = order[start..end].to_vec();
            let mut grid: Vec<f64> = rows
                .iter()
                .filter(|&&i| d.tx[i] < d.t[i])
                .flat_map(|&i| [d.tx[i], d.t[i]])
                .collect();
            // rebuilt at every evaluation of the fit: unstable sort (equal keys are equal
            // bits, so the grid is the same) copes far better with the many repeated times
            grid.sort_unstable_by(f64::total_cmp);
            grid.dedup();
            let find = |v: f64| grid.partition_point(|&g| g < v) as u32;
            let at = rows
                .iter()
                .map(|&i| {
                    if d.tx[i] < d.t[i] {
                        (find(d.tx[i]), find(d.t[i]))
                    } else {
                        (u32::MAX, u32::MAX)
                    }
                })
                .collect();
            let first_interval = intervals.len();
            intervals.extend(grid.windows(2).map(|w| (x, w[0], w[1])));
            groups.push(Group {
                x,
                rows,
                grid,
                at,
                first_interval,
            });
            start = end;
        }
        Grids { groups, intervals }
    }
}

pub fn ll_row(p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
    ll_sum(p, &Data::row(x, tx, t))
}

pub fn p_alive(p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
    p_alive_rows(p, &[x], &[tx], &[t])[0]
}

/// ∫_0^t S(u) du, the expected time alive in (0, t] of a new customer.
fn expected_lifetime(b: f64, s: f64, beta: f64, t: f64) -> f64 {
    let lb = beta.ln();
    integrate(
        &|u: f64| (s * (lb - ln_beta_exp(beta, b * u))).exp(),
        0.0,
        t,
        PRED_REL,
    )
}

/// E[X(t)] = r/α ∫_0^t S(u) du.
pub fn uncond_expected(p: [f64; 5], t: f64) -> f64 {
    let [r, alpha, b, s, beta] = p;
    if t <= 0.0 {
        return 0.0;
    }
    r / alpha * expected_lifetime(b, s, beta, t)
}

/// The parameters of a customer alive at T with x repeat purchases (see the module note).
pub fn posterior(p: [f64; 5], x: f64, t_obs: f64) -> [f64; 5] {
    let [r, alpha, b, s, beta] = p;
    let bt = b * t_obs;
    [
        r + x,
        alpha + t_obs,
        b,
        s,
        beta * (-bt).exp() - (-bt).exp_m1(),
    ]
}

/// P(X(t) = n) of a new customer: alive throughout with n purchases, or dead at τ < t with n
/// before, NB(n; r, α/(α+τ)) being the gamma–Poisson count up to τ:
///   P = NB(n; r, α/(α+t)) S(t) + ∫_0^t NB(n; r, α/(α+τ)) f(τ) dτ.
pub fn p_purchases(p: [f64; 5], n: u64, t: f64) -> f64 {
    let [r, alpha, b, s, beta] = p;
    let nf = n as f64;
    if t <= 0.0 {
        return if n == 0 { 1.0 } else { 0.0 };
    }
    let lnb_c = lgamma(r + nf) - lgamma(r) - lgamma(nf + 1.0);
    let ln_nb = |tau: f64| -> f64 {
        if tau <= 0.0 {
            return if n == 0 { 0.0 } else { f64::NEG_INFINITY };
        }
        lnb_c + r * (alpha / (alpha + tau)).ln() + nf * (tau / (alpha + tau)).ln()
    };
    let ln_f0 = b.ln() + s.ln() + s * beta.ln();
    let alive = (ln_nb(t) + s * (beta.ln() - ln_beta_exp(beta, b * t))).exp();
    let dead =
        |tau: f64| (ln_nb(tau) + ln_f0 + b * tau - (s + 1.0) * ln_beta_exp(beta, b * tau)).exp();
    alive + integrate(&dead, 0.0, t, PRED_REL)
}

/// GGom/NBD as a model of the kernels.
#[derive(Clone, Copy, Debug)]
pub struct GGomNbd;

impl Likelihood for GGomNbd {
    type Grad = Dual<5>;
    fn kind(&self) -> &'static str {
        "ggom_nbd"
    }
    fn param_names(&self) -> &'static [&'static str] {
        &["r", "alpha", "b", "s", "beta"]
    }
    fn ll_sum<R: Real>(&self, p: &[R], d: &Data) -> R {
        ll_sum([p[0], p[1], p[2], p[3], p[4]], d)
    }
    /// Pareto/NBD's start (r = s = 1, α = mean T / mean x) with b = 1/mean T and β = 1, whose
    /// small-b limit is a Pareto/NBD β of mean T.
    fn start_values(&self, d: &Data) -> Vec<f64> {
        let (mx, mt) = d.mean_x_t();
        vec![1.0, mt / mx, 1.0 / mt, 1.0, 1.0]
    }
    fn boundary(&self, p: &[f64], d: &Data) -> Option<String> {
        let t_max = d.t.iter().fold(0.0, |m: f64, &t| m.max(t));
        limits::poisson_limit("GGom/NBD", p[0], p[1])
            .or_else(|| limits::gompertz_limit(p[3], p[4], p[2], t_max))
    }
}

impl BtydModel for GGomNbd {
    type Params = [f64; 5];
    const CONDITIONAL: ConditionalPmf = ConditionalPmf::Posterior;

    fn p_alive(&self, p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
        p_alive(p, x, tx, t)
    }
    fn ll_row(&self, p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
        ll_row(p, x, tx, t)
    }
    /// P(alive) of all rows at once on the likelihood's grid (`p_alive_rows`).
    fn row_factors<'a>(
        &'a self,
        p: [f64; 5],
        x: &'a [f64],
        tx: &'a [f64],
        t: &'a [f64],
    ) -> impl Fn(usize) -> f64 + Sync + 'a {
        let pa = p_alive_rows(p, x, tx, t);
        move |i| pa[i]
    }
    /// E[Y(t) | alive at T] = (r+x)/(α+T) ∫_0^t S_T(u) du (the posterior's new-customer mean).
    fn bracket(&self, p: [f64; 5], x: f64, t_obs: f64, t: f64) -> f64 {
        uncond_expected(posterior(p, x, t_obs), t)
    }
    /// (r+x)/(α+T) ∫_0^∞ e^{−δu} S_T(u) du with the posterior survival S_T.
    fn dert_bracket(&self, p: [f64; 5], x: f64, t_obs: f64, delta: f64) -> Option<f64> {
        let [r, alpha, b, s, beta] = posterior(p, x, t_obs);
        let lb = beta.ln();
        // u = v/δ: ∫_0^∞ e^{−v} S_T(v/δ) dv / δ, the tail beyond v = 50 below e^{−50}.
        let f = |v: f64| (-v + s * (lb - ln_beta_exp(beta, b * v / delta))).exp();
        Some(r / alpha * integrate(&f, 0.0, 50.0, PRED_REL) / delta)
    }
    fn expected_purchases_new(&self, p: [f64; 5], t: f64) -> f64 {
        uncond_expected(p, t)
    }
    fn p_purchases_new(&self, p: [f64; 5], n: u64, t: f64) -> f64 {
        p_purchases(p, n, t)
    }
    fn pmf_new(&self, p: [f64; 5], t: &[f64], nmax: u64) -> Vec<Vec<f64>> {
        super::new_pmf::ggom_nbd_rows(p, t, nmax)
    }
    fn posterior_pmf(&self, p: [f64; 5], n: u64, t: f64, x: f64, t_obs: f64) -> f64 {
        p_purchases(posterior(p, x, t_obs), n, t)
    }
    /// λ ~ Gamma(r, α), η ~ Gamma(s, β); death where η(e^{bτ} − 1) reaches an Exp(1) draw.
    fn simulate(
        &self,
        p: [f64; 5],
        t_end: f64,
        resolution: Option<f64>,
        rng: &mut Rng,
    ) -> Vec<f64> {
        let [r, alpha, b, s, beta] = p;
        let mut out = Purchases::new(resolution);
        let lambda = rng.gamma(r, alpha);
        let eta = rng.gamma(s, beta);
        let death = (rng.exponential(1.0) / eta).ln_1p() / b;
        let end = death.min(t_end);
        let mut t = 0.0;
        loop {
            t += rng.exponential(lambda);
            if t > end {
                break;
            }
            out.push(t);
        }
        out.into_times()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::pareto_nbd;

    /// Bemmaor & Glady (2012), Table 2 (CDNOW).
    const P: [f64; 5] = [0.553, 10.578, 0.0002, 0.603, 0.0026];
    /// Away from the Pareto/NBD limit: a Gompertz ageing of about a tenth per week.
    const Q: [f64; 5] = [0.85, 4.45, 0.12, 0.75, 9.55];

    /// Brute-force likelihood: the death-time integral by a 400,000-panel composite Simpson.
    fn ll_simpson(p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
        let [r, alpha, b, s, beta] = p;
        let pre = lgamma(r + x) - lgamma(r) + r * alpha.ln();
        let surv = |u: f64| (beta / (beta + (b * u).exp_m1())).powf(s);
        let g = |y: f64| {
            (alpha + y).powf(-(r + x))
                * b
                * s
                * beta.powf(s)
                * (b * y).exp()
                * (beta + (b * y).exp_m1()).powf(-(s + 1.0))
        };
        let n = 400_000;
        let h = (t - tx) / n as f64;
        let mut acc = g(tx) + g(t);
        for k in 1..n {
            acc += g(tx + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
        }
        pre + ((alpha + t).powf(-(r + x)) * surv(t) + acc * h / 3.0).ln()
    }

    #[test]
    fn likelihood_matches_simpson() {
        for p in [P, Q, [2.0, 1.0, 1.5, 3.0, 0.2]] {
            for &(x, tx, t) in &[
                (0.0, 0.0, 38.86),
                (2.0, 30.43, 38.86),
                (5.0, 1.0, 30.0),
                (30.0, 2.0, 39.0),
                (3.0, 20.0, 20.0),
            ] {
                let a = ll_row(p, x, tx, t);
                let b = ll_simpson(p, x, tx, t);
                assert!(
                    (a - b).abs() < 1e-9 * (1.0 + b.abs()),
                    "{p:?} {x} {tx} {t}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn tends_to_pareto_nbd_as_b_goes_to_zero() {
        // S(t) = (β/(β + e^{bt} − 1))^s → ((β/b)/((β/b) + t))^s: Pareto/NBD with β/b.
        let pn = [0.553, 10.578, 0.606, 11.669];
        let b = 1e-9;
        let g = [pn[0], pn[1], b, pn[2], pn[3] * b];
        for &(x, tx, t) in &[(0.0, 0.0, 38.86), (2.0, 30.43, 38.86), (7.0, 35.0, 38.0)] {
            let (a, e) = (ll_row(g, x, tx, t), pareto_nbd::ll_row(pn, x, tx, t));
            assert!((a - e).abs() < 1e-6, "{a} {e}");
            let (a, e) = (p_alive(g, x, tx, t), pareto_nbd::p_alive(pn, x, tx, t));
            assert!((a - e).abs() < 1e-6, "{a} {e}");
            let a = p_alive(g, x, tx, t) * GGomNbd.bracket(g, x, t, 52.0);
            let e = pareto_nbd::cond_expected(pn, x, tx, t, 52.0);
            assert!((a - e).abs() < 1e-6 * e, "{a} {e}");
        }
        // DERT at 15% a year in weeks, against Pareto/NBD's closed form with Tricomi's U.
        let delta = 1.15f64.ln() / 52.0;
        let a = GGomNbd.dert_bracket(g, 2.0, 38.86, delta).unwrap();
        let e = pareto_nbd::dert_alive(pn, 2.0, 38.86, delta);
        assert!((a - e).abs() < 1e-6 * e, "{a} {e}");
        let (a, e) = (
            uncond_expected(g, 39.0),
            pareto_nbd::uncond_expected(pn, 39.0),
        );
        assert!((a - e).abs() < 1e-7, "{a} {e}");
    }

    /// One pattern's ln L through its own death-time integral (`ln_terms`), independent of
    /// the grid that `ll_sum` shares between the patterns of a frequency.
    fn ll_direct(p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
        let [r, alpha, _, s, beta] = p;
        let (alive, dead) = ln_terms(p, x, tx, t);
        let ll = dead.map_or(alive, |d| alive.logaddexp(d));
        r * alpha.ln() + s * beta.ln() - lgamma(r) + lgamma(r + x) + ll
    }

    #[test]
    fn a_cached_grid_is_only_reused_for_the_same_data() {
        // big enough to be cached; the second data differ in one T only
        let n = 3 * CACHE_MIN;
        let d1 = Data {
            x: (0..n).map(|i| (i % 5) as f64).collect(),
            tx: (0..n).map(|i| (i % 5) as f64 * (i % 13) as f64).collect(),
            t: (0..n).map(|i| 60.0 + (i % 17) as f64).collect(),
            w: vec![1.0; n],
            ..Default::default()
        };
        let mut d2 = d1.clone();
        d2.t[n / 2] += 0.5;
        for d in [&d1, &d2, &d1, &d1, &d2] {
            let fresh = ll_sum_on(P, d, &Grids::new(d));
            assert_eq!(ll_sum(P, d).to_bits(), fresh.to_bits());
        }
        assert_ne!(ll_sum(P, &d1), ll_sum(P, &d2));
    }

    #[test]
    fn grid_sum_matches_per_pattern_integrals() {
        // Unsorted rows; frequencies sharing t_x and T values; t_x = T; a heavy buyer.
        let mut d = Data::default();
        let mut k = 0u64;
        for &x in &[3.0, 0.0, 1.0, 12.0, 60.0] {
            for j in 0..25 {
                k = k
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let t = 20.0 + (k >> 40) as f64 % 20.0;
                let tx = if x == 0.0 {
                    0.0
                } else {
                    (t - (j % 7) as f64 * 1.5).max(0.5)
                };
                d.x.push(x);
                d.tx.push(tx);
                d.t.push(t);
                d.w.push(1.0 + (j % 3) as f64);
            }
        }
        for p in [P, Q, [2.0, 1.0, 1.5, 3.0, 0.2]] {
            let direct: f64 = (0..d.len())
                .map(|i| d.w[i] * ll_direct(p, d.x[i], d.tx[i], d.t[i]))
                .sum();
            let grid = ll_sum(p, &d);
            assert!(
                (grid - direct).abs() < 1e-9 * direct.abs(),
                "{p:?}: {grid} {direct}"
            );
        }
    }

    #[test]
    fn p_alive_rows_match_the_per_row_integral() {
        // Rows of one frequency with different T: only the latest T ends its group's grid.
        let x = [0.0, 2.0, 2.0, 7.0, 1.0, 2.0, 30.0, 0.0, 0.0, 2.0];
        let tx = [0.0, 30.43, 10.0, 35.0, 20.0, 38.86, 2.0, 0.0, 0.0, 12.0];
        let t = [
            38.86, 38.86, 38.86, 38.0, 20.0, 38.86, 39.0, 30.0, 21.5, 25.0,
        ];
        for p in [P, Q] {
            let rows = p_alive_rows(p, &x, &tx, &t);
            for i in 0..x.len() {
                let e = match ln_terms(p, x[i], tx[i], t[i]) {
                    (_, None) => 1.0,
                    (alive, Some(dead)) => (-Real::softplus(dead - alive)).exp(),
                };
                assert!((rows[i] - e).abs() < 1e-10, "{i}: {} {e}", rows[i]);
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let d = Data {
            x: vec![0.0, 2.0, 7.0, 1.0],
            tx: vec![0.0, 30.43, 35.0, 20.0],
            t: vec![38.86, 38.86, 38.0, 20.0],
            w: vec![3.0, 1.0, 2.0, 1.0],
            ..Default::default()
        };
        for p in [P, Q] {
            let th = p.map(f64::ln);
            let dual = ll_sum(std::array::from_fn(|i| Dual::<5>::var(th[i], i).exp()), &d);
            for i in 0..5 {
                let h = 1e-5;
                let mut tp = th;
                let mut tm = th;
                tp[i] += h;
                tm[i] -= h;
                let f = |t: [f64; 5]| ll_sum(t.map(f64::exp), &d);
                let fd = (f(tp) - f(tm)) / (2.0 * h);
                assert!((dual.d[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "{i}");
            }
        }
    }

    #[test]
    fn pmf_sums_to_one_and_matches_mean() {
        for p in [P, Q] {
            let t = 39.0;
            let probs: Vec<f64> = (0..300).map(|n| p_purchases(p, n, t)).collect();
            let total: f64 = probs.iter().sum();
            assert!((total - 1.0).abs() < 1e-9, "{total}");
            let mean: f64 = probs.iter().enumerate().map(|(n, p)| n as f64 * p).sum();
            assert!((mean - uncond_expected(p, t)).abs() < 1e-7, "{mean}");
        }
    }

    #[test]
    fn posterior_survival_is_the_conditional_survival() {
        // S_T(u) of the posterior parameters equals S(T+u)/S(T) for every η mixed over its
        // posterior: check at the population level, where both are Gamma-Gompertz ratios.
        let [_, _, b, s, beta] = Q;
        let (t0, u) = (10.0, 7.5);
        let surv = |beta: f64, t: f64| (beta / (beta + (b * t).exp_m1())).powf(s);
        let post = posterior(Q, 0.0, t0);
        let direct = surv(beta, t0 + u) / surv(beta, t0);
        assert!((surv(post[4], u) - direct).abs() < 1e-13);
    }

    #[test]
    fn simulated_means_match_the_expectation() {
        let n = 40_000;
        let total: usize = (0..n)
            .map(|i| {
                let mut rng = crate::models::simulate::rng_for(7, i);
                GGomNbd.simulate(Q, 30.0, None, &mut rng).len()
            })
            .sum();
        let mean = total as f64 / n as f64;
        let e = uncond_expected(Q, 30.0);
        assert!((mean - e).abs() < 0.03 * e, "{mean} {e}");
    }

    #[test]
    fn extremes_are_finite() {
        for p in [P, Q, [0.5, 0.01, 5.0, 3.0, 1e-6]] {
            for &(x, tx, t) in &[
                (500.0, 9999.0, 10_000.0),
                (500.0, 1.0, 10_000.0),
                (0.0, 0.0, 1e5),
            ] {
                let ll = ll_row(p, x, tx, t);
                let pa = p_alive(p, x, tx, t);
                let e = pa * GGomNbd.bracket(p, x, t, 52.0);
                assert!(
                    ll.is_finite() && pa.is_finite() && e.is_finite(),
                    "{p:?} {x} {tx} {t}: {ll} {pa} {e}"
                );
                assert!((0.0..=1.0).contains(&pa));
            }
        }
        // Ageing fast (b = 5), a heavy buyer last seen at 1 of 10,000 is dead: the mass of
        // the death-time integral sits within 0.1 of t_x, where a single long panel misses it.
        let pa = p_alive([0.5, 0.01, 5.0, 3.0, 1e-6], 500.0, 1.0, 10_000.0);
        assert!(pa < 1e-6, "{pa}");
    }
}
