//! The absorbing-chain kernel: absorption values `x = r + Q x` of an absorbing Markov chain from
//! one start state, for the full chain and for scenarios in which sets of states are made
//! absorbing-null (a removed channel's states), each scenario solved on its own thread.
//!
//! Layout. The chain arrives as an edge list over transient states (absorption into conversion
//! is folded into the reward `r`, absorption into null is the row's missing probability mass).
//! [`Chain::new`] keeps only the states reachable from the start (nothing else can change the
//! answer), finds their strongly connected components with an iterative Tarjan walk from the
//! start, and renumbers the states in the order Tarjan emits them: components come sinks first
//! (a reverse topological order of the condensation) and, inside a component, deepest-first.
//! The edges are then stored as CSR rows in that order (`u32` column + `f64` probability,
//! 12 bytes an edge, self-loops moved to a per-state diagonal), so every sweep reads the rows
//! front to back and most successors of a row were written earlier in the same sweep.
//! A scenario needs one `f64` and one `bool` per state (9 bytes; 21 scenarios of 168k states
//! are 32 MB) on top of the shared chain.
//!
//! Solve. A component of one state is exact in one evaluation,
//! `x_s = (r_s + Σ p x_t) / (1 − p_ss)`, since all its successors are final. A larger component
//! (a loop between channels) is swept Gauss–Seidel, in place, until a sweep changes no value by
//! more than `tol` relative to the largest value so far *and* the error bound of a geometric
//! tail, `Δ·ρ/(1 − ρ)` with ρ the ratio of the last two changes, is below it too (a slowly
//! contracting loop can still be far off when its last change is small). A dead state is 0,
//! which is exactly "made absorbing-null": the topological order of the full chain stays valid
//! when states die, so the scenarios share it. A component that does not settle within
//! `max_sweeps` (or whose values overflow) is an error naming its size, never a silent value.
//!
//! The full chain is solved first; each scenario then starts its sweeps from the full chain's
//! values (a removal moves values by its removal effect, so fewer sweeps should remain than
//! from 0; measured: 4.8 s against 5.1 s, within the noise of this machine).
//!
//! Trade-offs, measured on the order-4 benchmark chain (`benches/bench_journey.py -k
//! sparse_solve`: 168,111 states, 625,175 transient edges, 20 channels, 2 cores at load 9-17).
//! Windows of 4 channels chain into each other across paths (a de Bruijn-like graph), so
//! 145,147 states form one loop and 22,963 are singletons: the kernel's time is the
//! Gauss–Seidel sweeps over that component, ~5 s for all 21 scenarios. The whole `solve_all`
//! took 9.9 s (load ~9) against 60.5 s (load ~17) for the Polars Jacobi iteration this
//! replaces; the other ~5 s are Polars naming the states and building the edge list.
//! Solving the scenarios together (x as states × scenarios, the CSR read once per sweep) would
//! save memory bandwidth, but would make every scenario sweep as often as the slowest;
//! per-scenario solves are simpler and spread over the rayon pool. SOR could cut sweeps
//! further, but its best factor depends on the chain and a wrong one slows or breaks
//! convergence; Gauss–Seidel on `I − Q` (an M-matrix) always converges when the loop leaks.

use rayon::prelude::*;

use super::graph::{components, csr};

/// The renumbered chain (see the module comment). Indices are positions in the solve order.
pub struct Chain {
    /// original state index of each position
    pub state: Vec<u32>,
    /// position of each original state, `u32::MAX` when unreachable from the start
    pub pos: Vec<u32>,
    offsets: Vec<usize>,
    cols: Vec<u32>,
    probs: Vec<f64>,
    /// `1 / (1 − p_ss)`, or 0 for a state that never leaves (its value is then 0)
    inv_stay: Vec<f64>,
    stays: Vec<bool>,
    reward: Vec<f64>,
    /// component `c` is positions `bounds[c]..bounds[c + 1]`
    bounds: Vec<usize>,
}

/// Rows sum to at most 1 up to rounding of normalised weights.
const ROW_SLACK: f64 = 1e-9;

impl Chain {
    /// Validate the edge list (`src[i] → dst[i]` with probability `prob[i]`, states `0..n` with
    /// `n = reward.len()`) and lay it out for solving from `start`. Errors name the edge row
    /// (numbered from 1) or the state.
    pub fn new(
        src: &[u32],
        dst: &[u32],
        prob: &[f64],
        reward: &[f64],
        start: usize,
    ) -> Result<Self, String> {
        let n = reward.len();
        if src.len() != dst.len() || src.len() != prob.len() {
            return Err(format!(
                "edge columns differ in length (from {}, to {}, probability {})",
                src.len(),
                dst.len(),
                prob.len()
            ));
        }
        if start >= n {
            return Err(format!("start state {start} is not below the {n} states"));
        }
        let mut rows = vec![0.0f64; n];
        for (i, ((&s, &d), &p)) in src.iter().zip(dst).zip(prob).enumerate() {
            if s as usize >= n || d as usize >= n {
                return Err(format!(
                    "edge row {}: state {} is not below the {n} states",
                    i + 1,
                    if s as usize >= n { s } else { d }
                ));
            }
            if !(p.is_finite() && p >= 0.0) {
                return Err(format!(
                    "edge row {}: probability {p} is not a finite number >= 0",
                    i + 1
                ));
            }
            rows[s as usize] += p;
        }
        if let Some(s) = rows.iter().position(|&t| t > 1.0 + ROW_SLACK) {
            return Err(format!(
                "state {s}: its transition probabilities sum to {}, more than 1",
                rows[s]
            ));
        }
        if let Some(s) = reward.iter().position(|r| !r.is_finite()) {
            return Err(format!("state {s}: reward {} is not finite", reward[s]));
        }
        let (off, cols, probs) = csr(n, src, dst, prob);
        let (state, bounds) = components(start, &off, &cols);
        let mut pos = vec![u32::MAX; n];
        for (k, &s) in state.iter().enumerate() {
            pos[s as usize] = k as u32;
        }
        let m = state.len();
        let mut offsets = Vec::with_capacity(m + 1);
        offsets.push(0);
        let mut new_cols = Vec::new();
        let mut new_probs = Vec::new();
        let mut inv_stay = vec![0.0; m];
        let mut stays = vec![false; m];
        for (k, &s) in state.iter().enumerate() {
            let s = s as usize;
            let mut diag = 0.0;
            for e in off[s]..off[s + 1] {
                let d = cols[e] as usize;
                if d == s {
                    diag += probs[e];
                } else {
                    new_cols.push(pos[d]);
                    new_probs.push(probs[e]);
                }
            }
            offsets.push(new_cols.len());
            // A state that returns to itself with probability 1 (within rounding) never leaves.
            stays[k] = diag >= 1.0 - 1e-15;
            inv_stay[k] = if stays[k] { 0.0 } else { 1.0 / (1.0 - diag) };
        }
        let reward = state.iter().map(|&s| reward[s as usize]).collect();
        Ok(Chain {
            state,
            pos,
            offsets,
            cols: new_cols,
            probs: new_probs,
            inv_stay,
            stays,
            reward,
            bounds,
        })
    }

    /// Reachable states.
    pub fn len(&self) -> usize {
        self.state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    #[inline]
    fn eval(&self, x: &[f64], s: usize) -> f64 {
        let mut acc = self.reward[s];
        for e in self.offsets[s]..self.offsets[s + 1] {
            acc += self.probs[e] * x[self.cols[e] as usize];
        }
        acc * self.inv_stay[s]
    }

    /// The start's absorption value with the states at positions where `dead` is true made
    /// absorbing-null (`dead` is indexed by position; empty means none).
    pub fn solve(&self, dead: &[bool], tol: f64, max_sweeps: usize) -> Result<f64, String> {
        self.values(dead, None, tol, max_sweeps)
            .map(|x| x[x.len() - 1])
    }

    /// Every position's value (see [`Chain::solve`]); the loops' sweeps start from `warm` (the
    /// full chain's values, close to a scenario's) when given, else from 0.
    fn values(
        &self,
        dead: &[bool],
        warm: Option<&[f64]>,
        tol: f64,
        max_sweeps: usize,
    ) -> Result<Vec<f64>, String> {
        let m = self.len();
        let alive = |s: usize| dead.is_empty() || !dead[s];
        let mut x = warm.map_or_else(|| vec![0.0f64; m], <[f64]>::to_vec);
        for (s, v) in x.iter_mut().enumerate() {
            if !alive(s) {
                *v = 0.0;
            }
        }
        let mut largest = 0.0f64;
        for c in 0..self.bounds.len() - 1 {
            let (a, b) = (self.bounds[c], self.bounds[c + 1]);
            for s in a..b {
                if alive(s) && self.stays[s] && self.reward[s] != 0.0 {
                    return Err(format!(
                        "state {} never leaves itself but earns a reward: its value is unbounded",
                        self.state[s]
                    ));
                }
            }
            if b - a == 1 {
                if alive(a) {
                    x[a] = self.eval(&x, a);
                    largest = largest.max(x[a].abs());
                }
                continue;
            }
            let mut last = f64::INFINITY;
            let mut done = false;
            for sweep in 1..=max_sweeps {
                let mut change = 0.0f64;
                let mut big = 0.0f64;
                for s in a..b {
                    if alive(s) {
                        let v = self.eval(&x, s);
                        change = change.max((v - x[s]).abs());
                        big = big.max(v.abs());
                        x[s] = v;
                    }
                }
                if !(change.is_finite() && big.is_finite()) {
                    break; // overflow: reported as not converging
                }
                let limit = tol * largest.max(big).max(f64::MIN_POSITIVE);
                let rho = change / last;
                if change == 0.0
                    || (sweep > 1
                        && change <= limit
                        && rho < 1.0
                        && change * rho / (1.0 - rho) <= limit)
                {
                    largest = largest.max(big);
                    done = true;
                    break;
                }
                last = change;
            }
            if !done {
                return Err(format!(
                    "the absorption values of a loop of {} states did not converge in {max_sweeps} \
                     sweeps (tolerance {tol:e})",
                    b - a
                ));
            }
        }
        // the start is the root of the walk: Tarjan emits it last
        let v = x[m - 1];
        if !v.is_finite() {
            return Err(format!("the value from the start overflowed ({v})"));
        }
        Ok(x)
    }

    /// The full chain's value, then each scenario's (positions to kill per scenario, as
    /// original state indices; unreachable ones are ignored), solved in parallel.
    pub fn solve_all(
        &self,
        scenarios: &[Vec<u32>],
        tol: f64,
        max_sweeps: usize,
    ) -> Result<Vec<f64>, String> {
        let m = self.len();
        let full = self
            .values(&[], None, tol, max_sweeps)
            .map_err(|e| format!("full chain: {e}"))?;
        let mut out = vec![full[m - 1]];
        let rest: Result<Vec<f64>, String> = scenarios
            .par_iter()
            .enumerate()
            .map(|(k, kill)| {
                let mut dead = vec![false; m];
                for &s in kill {
                    let p = self.pos[s as usize];
                    if p != u32::MAX {
                        dead[p as usize] = true;
                    }
                }
                self.values(&dead, Some(&full), tol, max_sweeps)
                    .map(|x| x[m - 1])
                    .map_err(|e| format!("scenario {k}: {e}"))
            })
            .collect();
        out.extend(rest?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // start(0) → A(1) 1/2, → B(2) 1/2; A → conv 1/2, A → B 1/4, (null 1/4);
    // B → conv 1/3, B → A 1/3, (null 1/3). A loop A ⇄ B, solved by hand:
    // x_A = 1/2 + x_B/4, x_B = 1/3 + x_A/3 → x_A = 14/22 = 7/11, x_B = 1/3 + 7/33 = 6/11;
    // x_start = (7/11 + 6/11)/2 = 13/22. Without A: x_B = 1/3, x_start = 1/6.
    // Without B: x_A = 1/2, x_start = 1/4.
    fn hand() -> Chain {
        let src = [0, 0, 1, 2];
        let dst = [1, 2, 2, 1];
        let prob = [0.5, 0.5, 0.25, 1.0 / 3.0];
        let reward = [0.0, 0.5, 1.0 / 3.0];
        Chain::new(&src, &dst, &prob, &reward, 0).unwrap()
    }

    #[test]
    fn a_loop_solved_by_hand() {
        let got = hand()
            .solve_all(&[vec![1], vec![2]], 1e-12, 10_000)
            .unwrap();
        let want = [13.0 / 22.0, 1.0 / 6.0, 1.0 / 4.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn acyclic_chain_is_exact_and_self_loops_fold_into_the_diagonal() {
        // start → A (1); A → A 1/2, A → conv 1/4 (null 1/4): x_A = (1/4)/(1/2) = 1/2
        let c = Chain::new(&[0, 1], &[1, 1], &[1.0, 0.5], &[0.0, 0.25], 0).unwrap();
        assert_eq!(c.solve(&[], 1e-12, 1).unwrap(), 0.5);
        // an unreachable state is left out and may not be touched
        let c = Chain::new(&[0, 2], &[1, 1], &[1.0, 1.0], &[0.0, 0.3, 9.0], 0).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.solve_all(&[vec![2]], 1e-12, 1).unwrap(), vec![0.3, 0.3]);
    }

    #[test]
    fn convergence_guard_raises_instead_of_answering() {
        // A ⇄ B keeping 0.99 of the mass: far from settled after 10 sweeps
        let c = Chain::new(
            &[0, 1, 2],
            &[1, 2, 1],
            &[1.0, 0.99, 1.0],
            &[0.0, 0.01, 0.0],
            0,
        )
        .unwrap();
        let err = c.solve_all(&[], 1e-12, 10).unwrap_err();
        assert!(
            err.contains("loop of 2 states did not converge in 10 sweeps"),
            "{err}"
        );
        // with room, the same chain converges to its true value 1
        let v = c.solve(&[], 1e-12, 100_000).unwrap();
        assert!((v - 1.0).abs() < 1e-9, "{v}");
    }

    #[test]
    fn an_unbounded_value_and_bad_edges_are_errors() {
        let c = Chain::new(&[0, 1], &[1, 1], &[1.0, 1.0], &[0.0, 0.5], 0);
        // rows sum to 1 + reward: the reward check is at solve time
        let err = c.unwrap().solve(&[], 1e-12, 10).unwrap_err();
        assert!(err.contains("never leaves itself"), "{err}");
        let err = Chain::new(&[0], &[3], &[1.0], &[0.0, 0.0], 0)
            .err()
            .unwrap();
        assert!(err.contains("edge row 1: state 3"), "{err}");
        let err = Chain::new(&[0, 0], &[1, 1], &[0.7, 0.7], &[0.0, 0.0], 0)
            .err()
            .unwrap();
        assert!(
            err.contains("state 0") && err.contains("more than 1"),
            "{err}"
        );
        let err = Chain::new(&[0], &[1], &[f64::NAN], &[0.0, 0.0], 0)
            .err()
            .unwrap();
        assert!(err.contains("edge row 1: probability NaN"), "{err}");
        assert!(Chain::new(&[], &[], &[], &[0.0], 4).is_err());
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // elimination reads clearer with indices
    fn matches_a_dense_solve_on_a_random_chain() {
        // 40 states, random sparse rows with loops; dense Gaussian elimination of (I − Q) x = r
        let n = 40usize;
        let mut rng = crate::models::rng::Rng::new(3);
        let (mut src, mut dst, mut prob) = (vec![], vec![], vec![]);
        let mut reward = vec![0.0; n];
        for s in 0..n {
            let k = 1 + (rng.next_u64() % 4) as usize;
            let w: Vec<f64> = (0..=k)
                .map(|_| 1.0 + (rng.next_u64() % 100) as f64)
                .collect();
            let total: f64 = w.iter().sum::<f64>() * 1.2; // 1/6 of each row to null
            for &wi in &w[..k] {
                src.push(s as u32);
                dst.push((rng.next_u64() % n as u64) as u32);
                prob.push(wi / total);
            }
            reward[s] = w[k] / total;
        }
        let dense = |dead: &[bool]| {
            let mut a = vec![vec![0.0; n + 1]; n];
            for s in 0..n {
                a[s][s] = 1.0;
                if !dead[s] {
                    a[s][n] = reward[s];
                }
            }
            for ((&s, &d), &p) in src.iter().zip(&dst).zip(&prob) {
                if !dead[s as usize] && !dead[d as usize] {
                    a[s as usize][d as usize] -= p;
                }
            }
            for c in 0..n {
                let piv = (c..n)
                    .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
                    .unwrap();
                a.swap(c, piv);
                for r in 0..n {
                    if r != c {
                        let f = a[r][c] / a[c][c];
                        for k in c..=n {
                            a[r][k] -= f * a[c][k];
                        }
                    }
                }
            }
            a[0][n] / a[0][0]
        };
        let c = Chain::new(&src, &dst, &prob, &reward, 0).unwrap();
        let kill: Vec<Vec<u32>> = (1..6)
            .map(|k| (0..n as u32).filter(|s| s % 7 == k).collect())
            .collect();
        let got = c.solve_all(&kill, 1e-12, 100_000).unwrap();
        let mut want = vec![dense(&vec![false; n])];
        for k in &kill {
            let mut d = vec![false; n];
            k.iter().for_each(|&s| d[s as usize] = true);
            want.push(dense(&d));
        }
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-10, "{got:?} vs {want:?}");
        }
    }
}
