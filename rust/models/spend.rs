//! Gamma-Gamma's conditional mean spend, E[mean spend | x repeat purchases, mean m], on its
//! own: the interval and delta-method kernels need the formula, and taking it from
//! `gamma_gamma.rs` (which implements the kernels trait) would tie them in a circle.

/// E[M | x, m] = p (v + m x) / (p x + q - 1) for parameters `[p, q, v]`.
pub fn expected_spend(p: [f64; 3], x: f64, m: f64) -> f64 {
    let [pp, q, v] = p;
    pp * (v + m * x) / (pp * x + q - 1.0)
}
