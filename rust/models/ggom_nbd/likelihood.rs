//! GGom/NBD's log-likelihood on compressed patterns, and P(alive) through the same tables.
//!
//! Why a grid: the likelihood of a pattern integrates over a death between t_x and T, and on
//! 1M customers one integral per pattern (293k of them) cost seconds per evaluation. Every
//! pattern of a frequency x shares the integrand up to where it starts and stops, so the
//! integrals are built once per group over its sorted distinct times (`grid.rs`) and each
//! pattern reads its two terms off the group's table (see `ll_sum`).

use super::grid::{cached_grids, Grids, Group};
use super::{ln_beta_exp, LL_REL};
use crate::models::compress::Data;
use crate::models::dual::Real;
#[cfg(test)]
use crate::models::quad::integrate;
use crate::models::quad::integrate_pair;
use rayon::prelude::*;

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
    ll_sum_life(p, Life::of(p), d, grids)
}

/// Σ_i w_i ln L_i with the lifetime `life` (r and α from `p`), on the grid of `d`.
fn ll_sum_life<R: Real>(p: [R; 5], life: Life<R>, d: &Data, grids: &Grids) -> R {
    let [r, alpha, ..] = p;
    let tables = grid_tables(p, life, grids);
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
                let term = match tab.terms(p, life, grp, k, d.t[i]) {
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

/// Σ_i w_i ln L_i at `q` = (r, α, s, β_P) and b, with β = b·β_P (`Life::ridge`): the same
/// likelihood as `ll_sum`, in coordinates where b = 0 is Pareto/NBD with β_P (and b may be
/// exactly 0). `b` None: b = 0 and not differentiated (the limit's own fit), which skips
/// its terms.
pub(super) fn ll_sum_ridge<R: Real>(q: [R; 4], b: Option<R>, d: &Data) -> R {
    let [r, alpha, s, beta_p] = q;
    let p = [r, alpha, b.unwrap_or(R::cst(0.0)), s, beta_p];
    ll_sum_life(p, Life::ridge(b, s, beta_p), d, &cached_grids(d))
}

/// expm1(b·y)/b, smooth through b = 0 (where it is y) with its derivatives in b.
fn em1_over<R: Real>(b: R, y: f64) -> R {
    let z = b.val() * y;
    if z.abs() < 1e-3 {
        // y Σ (by)^k/(k+1)!, to (by)^4: the next term is below 1e-18 relative
        let bz = b * y;
        ((((bz * (1.0 / 120.0) + 1.0 / 24.0) * bz + 1.0 / 6.0) * bz + 0.5) * bz + 1.0) * y
    } else {
        (b * y).exp_m1() / b
    }
}

/// The lifetime part of the likelihood, in one of two parametrisations of (b, s, β):
/// ln S(y) = s (c − l(y)) and the hazard f/S = e^{k + by − l(y)}, with
/// - `of` (the model's own): l = ln(β + e^{by} − 1), c = ln β, k = ln(bs);
/// - `ridge` (β = b·β_P): l = ln(β_P + expm1(by)/b), c = ln β_P, k = ln s, which stays
///   finite at b = 0, where it is Pareto/NBD's (β_P/(β_P + y))^s with hazard s/(β_P + y).
#[derive(Clone, Copy)]
pub(super) struct Life<R> {
    b: R,
    s: R,
    beta: R,
    c: R,
    k: R,
    ridge: bool,
    /// b = 0, a constant: l = ln(β_P + y), and no b·y in the hazard
    b_zero: bool,
}

impl<R: Real> Life<R> {
    fn of(p: [R; 5]) -> Self {
        let [_, _, b, s, beta] = p;
        Life {
            b,
            s,
            beta,
            c: beta.ln(),
            k: b.ln() + s.ln(),
            ridge: false,
            b_zero: false,
        }
    }
    fn ridge(b: Option<R>, s: R, beta_p: R) -> Self {
        Life {
            b: b.unwrap_or(R::cst(0.0)),
            s,
            beta: beta_p,
            c: beta_p.ln(),
            k: s.ln(),
            ridge: true,
            b_zero: b.is_none(),
        }
    }
    #[inline]
    fn l(&self, y: f64) -> R {
        if self.b_zero {
            (self.beta + y).ln()
        } else if self.ridge {
            (self.beta + em1_over(self.b, y)).ln()
        } else {
            ln_beta_exp(self.beta, self.b * y)
        }
    }
    /// ln of the hazard f/S at y, given l(y).
    #[inline]
    fn ln_hazard(&self, y: f64, l: R) -> R {
        if self.b_zero {
            self.k - l
        } else {
            self.k + self.b * y - l
        }
    }
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
    let life = Life::of(p);
    let tables = grid_tables(p, life, &grids);
    let per_group: Vec<Vec<(usize, f64)>> = grids
        .groups
        .par_iter()
        .zip(tables.par_iter())
        .map(|(grp, tab)| {
            let rows = grp.rows.iter().enumerate();
            // P(alive) = g(T)S(T) / (P(T) + G(t_x)); P(T) is g(T)S(T) only at the grid's end.
            rows.map(|(k, &i)| match tab.terms(p, life, grp, k, t[i]) {
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
    fn terms(&self, p: [R; 5], life: Life<R>, grp: &Group, k: usize, t: f64) -> (R, Option<R>) {
        let (itx, it) = grp.at[k];
        if itx == u32::MAX {
            return (ln_gs(p, life, grp.x, t), None);
        }
        let (itx, it) = (itx as usize, it as usize);
        let alive = self.ln_at[it] + self.ln_hp[it];
        let dead = self.ln_at[itx] + self.ln_hg[itx];
        (alive, (dead.val() > f64::NEG_INFINITY).then_some(dead))
    }
}

/// ln(g(y)S(y)) = −(r+x) ln(α+y) + ln S(y) (see `Life`).
fn ln_gs<R: Real>(p: [R; 5], life: Life<R>, x: f64, y: f64) -> R {
    let [r, alpha, ..] = p;
    -(r + x) * (alpha + y).ln() + life.s * (life.c - life.l(y))
}

fn grid_tables<R: Real>(p: [R; 5], life: Life<R>, grids: &Grids) -> Vec<Table<R>> {
    let [r, alpha, ..] = p;
    let s = life.s;
    let lbe = |y: f64| life.l(y);
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
                [q * life.ln_hazard(y, l).exp(), q * rx / (alpha + y)]
            };
            // g·S falls off from lo at the rate (r+x)/(α+lo) + the hazard at lo
            let hazard = life.ln_hazard(lo, l_lo).exp().val();
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
                tab.ln_at[m - 1] = ln_gs(p, life, grp.x, grp.grid[m - 1]);
                for j in (0..m - 1).rev() {
                    let [a, c] = ivs[grp.first_interval + j];
                    tab.ln_at[j] = ln_gs(p, life, grp.x, grp.grid[j]);
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

pub fn ll_row(p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
    ll_sum(p, &Data::row(x, tx, t))
}

pub fn p_alive(p: [f64; 5], x: f64, tx: f64, t: f64) -> f64 {
    p_alive_rows(p, &[x], &[tx], &[t])[0]
}

#[cfg(test)]
mod tests {
    use super::super::grid::CACHE_MIN;
    use super::*;
    use crate::models::dual::Dual;
    use crate::models::special::lgamma;

    /// Bemmaor & Glady (2012), Table 2 (CDNOW).
    const P: [f64; 5] = [0.553, 10.578, 0.0002, 0.603, 0.0026];
    /// Away from the Pareto/NBD limit: a Gompertz ageing of about a tenth per week.
    const Q: [f64; 5] = [0.85, 4.45, 0.12, 0.75, 9.55];

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
}
