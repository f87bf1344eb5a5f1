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
//!
//! Files: `likelihood.rs` (log-likelihood and gradient, the fit's hot loop), `hessian.rs`
//! (second derivatives for the Newton fit), `predict.rs` (P(alive), expectations, PMF); this
//! file holds the variant and the trait implementations that connect them to the kernels.

mod hessian;
mod likelihood;
mod predict;
mod rows;

pub use hessian::ll_hess;
pub use likelihood::{ll_grad, ll_row, ll_sum};
pub use predict::{
    bracket, bracket_integral, cond_expected, p_alive, p_purchases, uncond_expected, PAliveTables,
};

use super::compress::Data;
use super::dual::{Dual, Real};
use super::limits;
use super::model::{BtydModel, ConditionalPmf, Likelihood};
use super::simulate::{Purchases, Rng};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Bg,
    Mbg,
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
    fn ll_hess_log(&self, theta: &[f64], d: &Data) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        let p = [
            theta[0].exp(),
            theta[1].exp(),
            theta[2].exp(),
            theta[3].exp(),
        ];
        let (ll, g, h) = ll_hess(p, d, self.0);
        Some((ll, g.to_vec(), h.iter().map(|row| row.to_vec()).collect()))
    }
    fn start_values(&self, d: &Data) -> Vec<f64> {
        let (mx, mt) = d.mean_x_t();
        vec![1.0, mt / mx, 1.0, 3.0]
    }
    fn boundary(&self, p: &[f64], _d: &Data) -> Option<String> {
        let label = match self.0 {
            Variant::Bg => "BG/NBD",
            Variant::Mbg => "MBG/NBD",
        };
        limits::poisson_limit(label, p[0], p[1])
            .or_else(|| limits::beta_dropout_limit(label, p[2], p[3]))
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
    fn pmf_new(&self, p: [f64; 4], t: &[f64], nmax: u64) -> Vec<Vec<f64>> {
        super::new_pmf::bg_nbd_rows(p, t, nmax, self.0 == Variant::Mbg)
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
