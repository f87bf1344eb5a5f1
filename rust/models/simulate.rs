//! Seeded simulators of each model's data-generating process (xoshiro256** generator,
//! Marsaglia–Tsang gamma variates). Used for parameter-recovery tests and benchmarks.

pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }
    /// Uniform on (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    pub fn exponential(&mut self, rate: f64) -> f64 {
        -self.uniform().ln() / rate
    }
    /// Gamma(shape, rate).
    pub fn gamma(&mut self, shape: f64, rate: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform();
            return self.gamma(shape + 1.0, rate) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v / rate;
            }
        }
    }
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a, 1.0);
        let y = self.gamma(b, 1.0);
        x / (x + y)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BgNbd,
    MbgNbd,
    ParetoNbd,
    BgBb,
}

/// Floor a purchase time to the period grid (None: continuous time).
fn grid(t: f64, res: Option<f64>) -> f64 {
    match res {
        Some(r) => (t / r).floor() * r,
        None => t,
    }
}

/// Purchase times after the first purchase (at 0), up to `t_end`, for one customer.
/// Returns the repeat purchase times (already merged per period when `res` is given).
pub fn customer_times(
    kind: Kind,
    p: [f64; 4],
    t_end: f64,
    res: Option<f64>,
    rng: &mut Rng,
) -> Vec<f64> {
    let mut times = Vec::new();
    let mut last = 0.0;
    let mut push = |tau: f64, times: &mut Vec<f64>| {
        let g = grid(tau, res);
        if g > last {
            times.push(g);
            last = g;
        }
    };
    match kind {
        Kind::BgNbd | Kind::MbgNbd => {
            let lambda = rng.gamma(p[0], p[1]);
            let pd = rng.beta(p[2], p[3]);
            if kind == Kind::MbgNbd && rng.uniform() < pd {
                return times;
            }
            let mut t = 0.0;
            loop {
                t += rng.exponential(lambda);
                if t > t_end {
                    break;
                }
                push(t, &mut times);
                if rng.uniform() < pd {
                    break;
                }
            }
        }
        Kind::ParetoNbd => {
            let lambda = rng.gamma(p[0], p[1]);
            let mu = rng.gamma(p[2], p[3]);
            let death = rng.exponential(mu);
            let end = death.min(t_end);
            let mut t = 0.0;
            loop {
                t += rng.exponential(lambda);
                if t > end {
                    break;
                }
                push(t, &mut times);
            }
        }
        Kind::BgBb => {
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
        }
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_and_beta_moments() {
        let mut rng = Rng::new(42);
        let n = 200_000;
        for &(shape, rate) in &[(0.3, 2.0), (4.0, 0.5)] {
            let xs: Vec<f64> = (0..n).map(|_| rng.gamma(shape, rate)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            assert!(
                (mean - shape / rate).abs() < 0.02 * shape / rate,
                "{shape} {mean}"
            );
        }
        let m = (0..n).map(|_| rng.beta(0.8, 2.4)).sum::<f64>() / n as f64;
        assert!((m - 0.25).abs() < 0.005);
    }
}
