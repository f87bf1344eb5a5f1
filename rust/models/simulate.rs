//! Seeded simulators of each model's data-generating process (xoshiro256** generator,
//! Marsaglia–Tsang gamma variates). Used for parameter-recovery tests and benchmarks. Each
//! model's own process is its `BtydModel::simulate`; this module holds the generator and the
//! per-customer drivers.

use rayon::prelude::*;

use super::model::BtydModel;

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

/// Repeat purchase times of one customer, floored to the period grid (None: continuous
/// time) and merged per period, as a summary with that period would count them.
pub struct Purchases {
    times: Vec<f64>,
    last: f64,
    resolution: Option<f64>,
}

impl Purchases {
    pub fn new(resolution: Option<f64>) -> Self {
        Purchases {
            times: Vec::new(),
            last: 0.0,
            resolution,
        }
    }
    pub fn push(&mut self, tau: f64) {
        let g = match self.resolution {
            Some(r) => (tau / r).floor() * r,
            None => tau,
        };
        if g > self.last {
            self.times.push(g);
            self.last = g;
        }
    }
    pub fn into_times(self) -> Vec<f64> {
        self.times
    }
}

/// Customer i's generator: independent of the others and of the thread schedule.
pub fn rng_for(seed: u64, i: usize) -> Rng {
    Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Simulated (frequency, recency) of customers observed for t[i] from their first purchase.
pub fn summaries<M: BtydModel>(
    m: &M,
    p: M::Params,
    t: &[f64],
    seed: u64,
    resolution: Option<f64>,
) -> (Vec<f64>, Vec<f64>) {
    let out: Vec<(f64, f64)> = t
        .par_iter()
        .enumerate()
        .with_min_len(4096)
        .map(|(i, &te)| {
            let times = m.simulate(p, te, resolution, &mut rng_for(seed, i));
            (times.len() as f64, times.last().copied().unwrap_or(0.0))
        })
        .collect();
    out.into_iter().unzip()
}

/// Simulated repeat purchase times of customers observed for t[i] (same draws as
/// `summaries` with the same seed).
pub fn purchase_times<M: BtydModel>(
    m: &M,
    p: M::Params,
    t: &[f64],
    seed: u64,
    resolution: Option<f64>,
) -> Vec<Vec<f64>> {
    t.par_iter()
        .enumerate()
        .map(|(i, &te)| m.simulate(p, te, resolution, &mut rng_for(seed, i)))
        .collect()
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
