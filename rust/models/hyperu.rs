//! Tricomi's confluent hypergeometric U in the one form the models need (DERT's z^a U(a, a, z)),
//! computed by quadrature. It has a room of its own because it is the one special function built
//! on `quad`, and `quad` itself is generic over the dual numbers that use `special`.

/// z^a · U(a, a, z), Tricomi's confluent hypergeometric function of the second kind scaled,
/// for a > 0, z > 0. From U's integral representation,
///   z^a U(a, a, z) = ∫_0^∞ e^{−v} (1 + v/z)^{−a} dv ∈ (0, 1],
/// a bounded, monotone integrand; computed by adaptive Gauss–Kronrod on [0, 50] (the tail
/// beyond is below e^{−50} of an integral that is at least ∫_0^z e^{−v} 2^{−a} dv).
/// The scaled form does not overflow where U itself does (small z, large a).
pub fn hyperu_aa_scaled(a: f64, z: f64) -> f64 {
    if !(a > 0.0 && z > 0.0) {
        return f64::NAN;
    }
    let f = |v: f64| (-v - a * (v / z).ln_1p()).exp();
    super::quad::integrate(&f, 0.0, 50.0, 1e-13)
}

#[cfg(test)]
mod hyperu_tests {
    use super::*;

    #[test]
    fn closed_forms_of_u_a_a() {
        // U(1, 1, z) = e^z E1(z); E1(1) = 0.219383934395520273677163775460121649...
        let v = hyperu_aa_scaled(1.0, 1.0) * std::f64::consts::E;
        assert!((v / (0.219_383_934_395_520_3 * std::f64::consts::E.powi(2)) - 1.0).abs() < 1e-12);
        // U(1/2, 1/2, z) = √π e^z erfc(√z): z = 1 → √π · e · erfc(1), erfc(1) = 0.157299207050285130658779364917390740703933
        let v = hyperu_aa_scaled(0.5, 1.0);
        let e = std::f64::consts::PI.sqrt() * std::f64::consts::E * 0.157_299_207_050_285_13;
        assert!((v / e - 1.0).abs() < 1e-12, "{v} {e}");
        // Large z: z^a U(a, a, z) → 1 − a/z + a(a+1)/z² ...
        let v = hyperu_aa_scaled(0.6, 1e6);
        assert!((v - (1.0 - 0.6e-6 + 0.96e-12)).abs() < 1e-15);
    }
}
