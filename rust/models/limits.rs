//! Boundary diagnoses shared by the purchase models (`Likelihood::boundary`): a fit whose
//! likelihood keeps rising as parameters run to infinity (or zero) along a ridge has no
//! optimum, only a limit model; the fit stops there and says which parameters ran away and
//! what the limit means, instead of grinding on until a line search fails. Pareto/NBD's own
//! β → ∞ diagnosis is in `pareto_nbd.rs`; these are the ones BG/NBD, MBG/NBD and GGom/NBD
//! share or have.

/// A Gamma or Beta shape beyond this: the mixing distribution's coefficient of variation is
/// below 1 %, so the data cannot tell customers apart on that quantity, and the fit is
/// running to the homogeneous limit (the shapes of real fits are 0.1–10).
pub const SHAPE_RUNAWAY: f64 = 1e4;
/// A mean dropout probability per purchase below this: no dropout in the data (a real
/// population loses far more than one customer in a million per purchase).
pub const NO_DROPOUT: f64 = 1e-6;

/// λ ~ Gamma(r, α) with r → ∞ (and α with it): every customer buys at the one rate r/α.
pub fn poisson_limit(label: &str, r: f64, alpha: f64) -> Option<String> {
    if r.is_nan() || r <= SHAPE_RUNAWAY || !alpha.is_finite() {
        return None;
    }
    Some(format!(
        "boundary: r and alpha grow without bound (r = {}, alpha = {}) with r/alpha -> {} \
         purchases per time unit: the data cannot tell customers' purchase rates apart: \
         {label} reduces to a Poisson purchase process with one rate for every customer; the \
         parameters are not an optimum",
        sig4(r),
        sig4(alpha),
        sig4(r / alpha),
    ))
}

/// Dropout probability per purchase p ~ Beta(a, b) (BG/NBD, MBG/NBD): its mean a/(a+b)
/// running to 0 (no dropout), or a + b running to infinity (one probability for everyone).
pub fn beta_dropout_limit(label: &str, a: f64, b: f64) -> Option<String> {
    let q = a / (a + b);
    let tail = "the parameters are not an optimum";
    if q < NO_DROPOUT {
        return Some(format!(
            "boundary: a/(a+b), the mean probability of dropping out after a purchase, runs \
             to 0 (a = {}, b = {}, a/(a+b) = {}): the data show no dropout: {label} reduces \
             to the NBD (customers never drop out); {tail}",
            sig4(a),
            sig4(b),
            sig4(q),
        ));
    }
    if a + b > SHAPE_RUNAWAY && a.is_finite() && b.is_finite() {
        return Some(format!(
            "boundary: a and b grow without bound (a = {}, b = {}) with a/(a+b) -> {}: the \
             data cannot tell customers' dropout probabilities apart: {label} reduces to one \
             dropout probability a/(a+b) after each purchase for every customer; {tail}",
            sig4(a),
            sig4(b),
            sig4(q),
        ));
    }
    None
}

/// GGom/NBD's lifetime: Gompertz hazard η b e^{bt}, η ~ Gamma(s, β). Nobody dies within
/// the longest T (S(T) = (β / (β + e^{bT} − 1))^s above 1 − 1e-6: β → ∞, or s and b → 0),
/// or s → ∞ with β: one η for every customer.
pub fn gompertz_limit(s: f64, beta: f64, b: f64, t_max: f64) -> Option<String> {
    let tail = "the parameters are not an optimum";
    // 1 − S(T) = −expm1(−s ln(1 + expm1(bT)/β)), without cancellation
    let dead = -(-s * ((b * t_max).exp_m1() / beta).ln_1p()).exp_m1();
    if dead < NO_DROPOUT {
        return Some(format!(
            "boundary: the share of customers dropping out within the longest T runs to 0 \
             (s = {}, beta = {}, b = {}: a share {}): the data show no dropout: GGom/NBD \
             reduces to the NBD (customers never drop out); {tail}",
            sig4(s),
            sig4(beta),
            sig4(b),
            sig4(dead),
        ));
    }
    if s > SHAPE_RUNAWAY && beta.is_finite() {
        return Some(format!(
            "boundary: s and beta grow without bound (s = {}, beta = {}) with s/beta -> {}: \
             the data cannot tell customers' dropout hazards apart: GGom/NBD reduces to one \
             Gompertz lifetime (hazard (s/beta) b e^(b t), b = {}) for every customer; {tail}",
            sig4(s),
            sig4(beta),
            sig4(s / beta),
            sig4(b),
        ));
    }
    None
}

/// Four significant digits, as Python's `:.4g`.
pub fn sig4(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        let d = (3 - v.abs().max(1e-300).log10().floor() as i32).max(0) as usize;
        format!("{v:.d$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_runaway_parameters_are_named() {
        // CDNOW's BG/NBD optimum (FHL 2005) is no boundary
        assert!(poisson_limit("BG/NBD", 0.243, 4.414).is_none());
        assert!(beta_dropout_limit("BG/NBD", 0.793, 2.426).is_none());
        let m = poisson_limit("BG/NBD", 4.1e9, 8.2e10).unwrap();
        assert!(
            m.contains("r and alpha") && m.contains("r/alpha -> 0.05") && m.contains("Poisson")
        );
        let m = beta_dropout_limit("MBG/NBD", 6.7e-5, 2010.0).unwrap();
        assert!(
            m.contains("no dropout") && m.contains("a/(a+b) = 3.333e-8"),
            "{m}"
        );
        let m = beta_dropout_limit("BG/NBD", 3e11, 1.2e12).unwrap();
        assert!(
            m.contains("a and b grow") && m.contains("a/(a+b) -> 0.2000"),
            "{m}"
        );
        assert!(poisson_limit("BG/NBD", f64::NAN, 1.0).is_none());
        // Bemmaor & Glady's CDNOW estimates (weeks, T up to 39): no boundary
        assert!(gompertz_limit(0.603, 0.0026, 0.0002, 39.0).is_none());
        let m = gompertz_limit(0.6, 1e9, 0.1, 39.0).unwrap();
        assert!(m.contains("no dropout") && m.contains("runs to 0"), "{m}");
        let m = gompertz_limit(2e6, 1e7, 0.05, 39.0).unwrap();
        assert!(
            m.contains("s/beta -> 0.2000") && m.contains("one Gompertz"),
            "{m}"
        );
    }
}
