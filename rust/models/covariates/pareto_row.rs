#![allow(clippy::needless_range_loop)] // index loops read like the maths
//! One row's Pareto/NBD log-likelihood with its gradient and Hessian in the row's
//! log-parameters (ln r, ln α_i, ln s, ln β_i), derived by hand. Why: the Newton fit of
//! `pareto.rs` evaluates this on every pattern of every pass; written on generic jets each
//! of its ~50 operations carried a 4 × 4 Hessian, and the series of ln F was summed with two
//! divisions per term. Here the row is a handful of closed-form pieces (the first term,
//! ln F(T), ln F(t_x)) with their own sparse derivatives, combined once by the chain rule;
//! and the series' coefficients, which depend on (r, s, x) but not on the row's α_i, β_i,
//! come from a table built once per frequency and pass ([`Series`]).
//!
//! Same likelihood, branches and stopping rule as `pareto_nbd::ll_sum` (see its notes for
//! the formulas). Rows whose series would be slow (α_i and β_i far apart) return None: the
//! caller evaluates them on jets through `pareto_nbd::log_odds`' quadrature.

use crate::models::jet::Jet;
use crate::models::pareto_nbd::series_slow;

type J = Jet<4>;

/// The coefficients of S(z) = Σ_k c_k z^k, c_k = Π_{j<k} (b+j)/(c+j), and of its derivatives
/// in (b, c, z), for one (b, c). With A_k = Σ_{j<k} 1/(b+j), C_k = Σ_{j<k} 1/(c+j) and
/// their squares' sums A2_k, C2_k: ∂c_k/∂b = c_k A_k, ∂c_k/∂c = −c_k C_k,
/// ∂²c_k/∂b² = c_k (A_k² − A2_k), ∂²c_k/∂c² = c_k (C_k² + C2_k), ∂²c_k/∂b∂c = −c_k A_k C_k;
/// the z-derivatives bring the factors k and k(k−1). Row k−1 holds, for k ≥ 1,
/// [c, cA, cC, c(A² − A2), c(C² + C2), cAC, kc, k(k−1)c, kcA, kcC]: a row's sums are then
/// dot products with the powers of its z, with no division per term.
pub(super) struct Series {
    b: f64,
    c: f64,
    rows: Vec<[[f64; 2]; 5]>,
    /// (c_k, A_k, A2_k, C_k, C2_k) after the last row
    state: [f64; 5],
}

impl Series {
    pub(super) fn new(b: f64, c: f64) -> Self {
        Series {
            b,
            c,
            rows: Vec::with_capacity(64),
            state: [1.0, 0.0, 0.0, 0.0, 0.0],
        }
    }

    fn grow(&mut self) {
        let [mut cf, mut a1, mut a2, mut c1, mut c2] = self.state;
        for _ in 0..32 {
            let k = self.rows.len() as f64;
            let (ib, ic) = (1.0 / (self.b + k), 1.0 / (self.c + k));
            cf *= (self.b + k) * ic;
            a1 += ib;
            a2 += ib * ib;
            c1 += ic;
            c2 += ic * ic;
            let k1 = k + 1.0;
            self.rows.push([
                [cf, cf * a1],
                [cf * c1, cf * (a1 * a1 - a2)],
                [cf * (c1 * c1 + c2), cf * a1 * c1],
                [cf * k1, cf * k1 * k],
                [cf * a1 * k1, cf * c1 * k1],
            ]);
        }
        self.state = [cf, a1, a2, c1, c2];
    }

    /// ln S at z with its gradient and Hessian in (b, c, z) (as `pareto::ln_series`, same
    /// terms and stopping rule).
    fn eval(&mut self, z: f64) -> (f64, [f64; 3], [[f64; 3]; 3]) {
        let (bv, cv) = (self.b, self.c);
        if z == 0.0 {
            let q = bv / cv;
            let q2 = bv * (bv + 1.0) / (cv * (cv + 1.0));
            let h = [
                [0.0, 0.0, 1.0 / cv],
                [0.0, 0.0, -q / cv],
                [1.0 / cv, -q / cv, 2.0 * q2 - q * q],
            ];
            return (0.0, [0.0, 0.0, q], h);
        }
        // S and the nine sums of its derivatives, in pairs the compiler keeps in one vector
        // register each; the stopping rule reads its own scalar sum, so no lane is pulled
        // out of a register per term.
        let mut acc = [[1.0, 0.0], [0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]];
        let mut sum = 1.0;
        let mut zk = 1.0;
        let mut k = 0;
        loop {
            if k == self.rows.len() {
                self.grow();
            }
            let row = &self.rows[k];
            zk *= z;
            for j in 0..5 {
                acc[j][0] += zk * row[j][0];
                acc[j][1] += zk * row[j][1];
            }
            let term = zk * row[0][0];
            sum += term;
            k += 1;
            if term <= 1e-17 * sum || k > 5_000_000 {
                break;
            }
        }
        let s = acc.as_flattened();
        // s: S, Σ cA, Σ cC, Σ c(A² − A2), Σ c(C² + C2), Σ cAC, Σ kc, Σ k(k−1)c, Σ kcA, Σ kcC
        // (each term times z^k)
        let iz = 1.0 / z;
        let is = 1.0 / sum;
        let g = [s[1] * is, -s[2] * is, s[6] * iz * is];
        let hs = [
            [s[3], -s[5], s[8] * iz],
            [-s[5], s[4], -s[9] * iz],
            [s[8] * iz, -s[9] * iz, s[7] * iz * iz],
        ];
        let mut h = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                h[i][j] = hs[i][j] * is - g[i] * g[j];
            }
        }
        (sum.ln(), g, h)
    }
}

/// The series tables of the current frequency: one per branch (b = r + x when α_i ≥ β_i,
/// b = s + 1 otherwise; c = r + s + x + 1 in both). Rows sorted by frequency (as
/// `compress_cov` leaves them) build each table once per chunk of rows.
pub(super) struct Tables {
    r: f64,
    s: f64,
    x: f64,
    hi_alpha: Option<Series>,
    hi_beta: Option<Series>,
}

impl Tables {
    pub(super) fn new(r: f64, s: f64) -> Self {
        Tables {
            r,
            s,
            x: f64::NAN,
            hi_alpha: None,
            hi_beta: None,
        }
    }

    fn get(&mut self, x: f64, alpha_hi: bool) -> &mut Series {
        if x != self.x {
            self.x = x;
            self.hi_alpha = None;
            self.hi_beta = None;
        }
        let (r, s) = (self.r, self.s);
        let c = r + s + (x + 1.0);
        if alpha_hi {
            self.hi_alpha.get_or_insert_with(|| Series::new(r + x, c))
        } else {
            self.hi_beta.get_or_insert_with(|| Series::new(s + 1.0, c))
        }
    }
}

/// A jet (value, gradient, Hessian) that is zero but for the given entries.
fn zero() -> J {
    Jet {
        v: 0.0,
        g: [0.0; 4],
        h: [[0.0; 4]; 4],
    }
}

/// −k_a ln(α+t) − k_b ln(β+t) with k_a = r + x + da, k_b = s + db, in natural parameters.
fn log_terms(p: [f64; 4], x: f64, t: f64, da: f64, db: f64) -> J {
    let [r, a, s, b] = p;
    let (ia, ib) = (1.0 / (a + t), 1.0 / (b + t));
    let (la, lb) = ((a + t).ln(), (b + t).ln());
    let (ka, kb) = (r + x + da, s + db);
    let mut o = zero();
    o.v = -ka * la - kb * lb;
    o.g = [-la, -ka * ia, -lb, -kb * ib];
    o.h[0][1] = -ia;
    o.h[1][0] = -ia;
    o.h[1][1] = ka * ia * ia;
    o.h[2][3] = -ib;
    o.h[3][2] = -ib;
    o.h[3][3] = kb * ib * ib;
    o
}

/// ln F(t) (`pareto_nbd::ln_f`) in natural parameters (r, α, s, β).
fn ln_f(p: [f64; 4], x: f64, t: f64, tabs: &mut Tables) -> J {
    let alpha_hi = p[1] >= p[3];
    // α ≥ β: −(r+x) ln(α+t) − s ln(β+t) + ln S(r+x, c, (α−β)/(α+t));
    // α < β: −(r+x−1) ln(α+t) − (s+1) ln(β+t) + ln S(s+1, c, (β−α)/(β+t)).
    let (mut o, hi, lo, ib) = if alpha_hi {
        (log_terms(p, x, t, 0.0, 0.0), 1, 3, 0)
    } else {
        (log_terms(p, x, t, -1.0, 1.0), 3, 1, 2)
    };
    // z = (p_hi − p_lo)/(p_hi + t)
    let ih = 1.0 / (p[hi] + t);
    let z = (p[hi] - p[lo]) * ih;
    let (v, g3, h3) = tabs.get(x, alpha_hi).eval(z);
    o.v += v;
    // Jacobian of (b, c, z) in (r, α, s, β)
    let mut ju = [[0.0; 4]; 3];
    ju[0][ib] = 1.0;
    ju[1][0] = 1.0;
    ju[1][2] = 1.0;
    ju[2][hi] = (p[lo] + t) * ih * ih;
    ju[2][lo] = -ih;
    let mut w = [[0.0; 4]; 3];
    for a in 0..3 {
        for i in 0..4 {
            o.g[i] += g3[a] * ju[a][i];
            w[a][i] = h3[a][0] * ju[0][i] + h3[a][1] * ju[1][i] + h3[a][2] * ju[2][i];
        }
    }
    for i in 0..4 {
        for j in 0..4 {
            o.h[i][j] += ju[0][i] * w[0][j] + ju[1][i] * w[1][j] + ju[2][i] * w[2][j];
        }
    }
    // z's own curvature: ∂²z/∂p_hi² = −2(p_lo+t)/(p_hi+t)³, ∂²z/∂p_hi∂p_lo = 1/(p_hi+t)²
    o.h[hi][hi] -= g3[2] * 2.0 * (p[lo] + t) * ih * ih * ih;
    o.h[hi][lo] += g3[2] * ih * ih;
    o.h[lo][hi] += g3[2] * ih * ih;
    o
}

/// Adds c · u (value, gradient and Hessian) into `o`.
fn axpy(o: &mut J, c: f64, u: &J) {
    o.v += c * u.v;
    for i in 0..4 {
        o.g[i] += c * u.g[i];
        for j in 0..4 {
            o.h[i][j] += c * u.h[i][j];
        }
    }
}

/// Adds c · d dᵀ to the Hessian of `o`.
fn outer(o: &mut J, c: f64, d: &[f64; 4]) {
    for i in 0..4 {
        for j in 0..4 {
            o.h[i][j] += c * d[i] * d[j];
        }
    }
}

/// The row's log-likelihood without ln Γ(r+x) − ln Γ(r), with gradient and Hessian in the
/// log-parameters θ = ln p; None where its series is slow (the caller's quadrature path).
pub(super) fn row(p: [f64; 4], x: f64, tx: f64, t: f64, tabs: &mut Tables) -> Option<J> {
    let [r, a, s, b] = p;
    if tx < t && series_slow(a, b, tx) {
        return None;
    }
    // r ln α + s ln β
    let mut o = zero();
    o.v = r * a.ln() + s * b.ln();
    o.g = [a.ln(), r / a, b.ln(), s / b];
    o.h[0][1] = 1.0 / a;
    o.h[1][0] = 1.0 / a;
    o.h[1][1] = -r / (a * a);
    o.h[2][3] = 1.0 / b;
    o.h[3][2] = 1.0 / b;
    o.h[3][3] = -s / (b * b);
    // the first term, ln[(α+T)^−(r+x) (β+T)^−s]
    let first = log_terms(p, x, t, 0.0, 0.0);
    let second = if tx < t {
        let f_tx = ln_f(p, x, tx, tabs);
        let f_t = ln_f(p, x, t, tabs);
        let d = f_t.v - f_tx.v;
        (d < 0.0).then(|| {
            // ln s − ln(r+s+x) + ln F(t_x) + φ(ln F(T) − ln F(t_x)), φ(d) = ln(1 − e^d)
            let m = r + s + x;
            let (im, is) = (1.0 / m, 1.0 / s);
            let mut bt = zero();
            bt.v = s.ln() - m.ln() + (-d.exp_m1()).ln();
            bt.g = [-im, 0.0, is - im, 0.0];
            bt.h[0][0] = im * im;
            bt.h[0][2] = im * im;
            bt.h[2][0] = im * im;
            bt.h[2][2] = im * im - is * is;
            let q = d.exp();
            let om = -d.exp_m1();
            let (d1, d2) = (-q / om, -q / (om * om));
            bt.v += f_tx.v; // φ(d) is already in
            let mut dg = [0.0; 4];
            for i in 0..4 {
                dg[i] = f_t.g[i] - f_tx.g[i];
                bt.g[i] += (1.0 - d1) * f_tx.g[i] + d1 * f_t.g[i];
                for j in 0..4 {
                    bt.h[i][j] += (1.0 - d1) * f_tx.h[i][j] + d1 * f_t.h[i][j];
                }
            }
            outer(&mut bt, d2, &dg);
            bt
        })
    } else {
        None
    };
    // ln(e^first + e^second) = first + softplus(second − first)
    match second {
        None => axpy(&mut o, 1.0, &first),
        Some(bt) => {
            let v = bt.v - first.v;
            let (sp, pw) = if v > 0.0 {
                let e = (-v).exp();
                (v + e.ln_1p(), 1.0 / (1.0 + e))
            } else {
                let e = v.exp();
                (e.ln_1p(), e / (1.0 + e))
            };
            let mut dg = [0.0; 4];
            for i in 0..4 {
                dg[i] = bt.g[i] - first.g[i];
            }
            o.v += first.v + sp;
            for i in 0..4 {
                o.g[i] += first.g[i] + pw * dg[i];
                for j in 0..4 {
                    o.h[i][j] += first.h[i][j] + pw * (bt.h[i][j] - first.h[i][j]);
                }
            }
            outer(&mut o, pw * (1.0 - pw), &dg);
        }
    }
    // to θ = ln p: ∂/∂θ_i = p_i ∂/∂p_i, ∂²/∂θ_i∂θ_j = p_i p_j ∂²/∂p_i∂p_j + δ_ij p_i ∂/∂p_i
    for i in 0..4 {
        for j in 0..4 {
            o.h[i][j] *= p[i] * p[j];
        }
        o.g[i] *= p[i];
        o.h[i][i] += o.g[i];
    }
    Some(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::covariates::pareto::row_ll;
    use crate::models::dual::Real;

    #[test]
    fn hand_derived_row_matches_the_jet_row() {
        // α > β, α < β, α = β (z = 0), and a frequency far above the others; the tables
        // are shared across rows, as in a chunk.
        for p in [
            [0.8, 6.0, 0.9, 9.0],
            [0.8, 9.0, 0.9, 3.0],
            [1.3, 4.0, 0.5, 4.0],
            [0.5, 2.0, 2.0, 30.0],
        ] {
            let mut tabs = Tables::new(p[0], p[2]);
            let mut fast = 0;
            for (x, tx, t) in [
                (0.0, 0.0, 40.0),
                (1.0, 10.0, 38.0),
                (1.0, 0.5, 52.0),
                (3.0, 30.0, 39.0),
                (5.0, 35.0, 35.0),
                (40.0, 39.0, 40.0),
                (1.0, 37.9, 38.0),
                (0.0, 0.0, 0.5),
            ] {
                let th = p.map(f64::ln);
                let jets: [J; 4] = std::array::from_fn(|i| Jet::var(th[i], i).exp());
                let want = row_ll(jets, x, tx, t);
                let Some(got) = row(p, x, tx, t, &mut tabs) else {
                    continue;
                };
                fast += 1;
                let close = |a: f64, b: f64| (a - b).abs() < 1e-10 * (1.0 + b.abs());
                assert!(close(got.v, want.v), "{p:?} {x} {tx} {t}");
                for i in 0..4 {
                    assert!(close(got.g[i], want.g[i]), "{p:?} {x} {tx} {t} g{i}");
                    for j in 0..4 {
                        assert!(
                            close(got.h[i][j], want.h[i][j]),
                            "{p:?} {x} {tx} {t} h{i}{j}: {} vs {}",
                            got.h[i][j],
                            want.h[i][j]
                        );
                    }
                }
            }
            assert!(fast >= 7, "{p:?}: {fast} rows on the fast path");
        }
    }
}
