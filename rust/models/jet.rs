#![allow(clippy::needless_range_loop)] // index loops read like the maths
//! Second-order forward-mode differentiation: `Jet<N>` carries a value, its N partial
//! derivatives and its N×N Hessian, and implements `Real`, so a likelihood written once over
//! `Real` gives its exact Hessian too. Why: a Newton fit needs the Hessian of every row, and
//! finite differences of the gradient cost 2N more passes over the data (and lose half the
//! digits). `Dual<N>` (`dual.rs`) stays the cheaper type where only a gradient is needed.
//!
//! Hot loops that know their own derivatives (a series in three arguments, say) build their
//! result with [`Jet::compose`] from the jets of their arguments instead of running the loop
//! on jets.

use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

use super::dual::Real;
use super::special::{digamma, lgamma, trigamma};

/// A value with its gradient `g` and (symmetric) Hessian `h` in N variables.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jet<const N: usize> {
    pub v: f64,
    pub g: [f64; N],
    pub h: [[f64; N]; N],
}

impl<const N: usize> Jet<N> {
    /// The i-th independent variable with value v.
    pub fn var(v: f64, i: usize) -> Self {
        let mut j = Self::cst(v);
        j.g[i] = 1.0;
        j
    }
    /// f(self) from f = `f0`, f' = `f1`, f'' = `f2` at the value.
    #[inline]
    pub fn chain(self, f0: f64, f1: f64, f2: f64) -> Self {
        let mut out = Jet {
            v: f0,
            g: [0.0; N],
            h: [[0.0; N]; N],
        };
        for i in 0..N {
            out.g[i] = f1 * self.g[i];
            for j in 0..N {
                out.h[i][j] = f1 * self.h[i][j] + f2 * self.g[i] * self.g[j];
            }
        }
        out
    }
    /// f(u_0, …, u_{M−1}) from its value `f0`, gradient `f1` and Hessian `f2` in the u's.
    pub fn compose<const M: usize>(u: [Self; M], f0: f64, f1: [f64; M], f2: [[f64; M]; M]) -> Self {
        let mut out = Self::cst(f0);
        for a in 0..M {
            for i in 0..N {
                out.g[i] += f1[a] * u[a].g[i];
            }
        }
        // Σ_a f_a ∇²u_a + Σ_ab f_ab ∇u_a ∇u_bᵀ
        let mut w = [[0.0; N]; M];
        for a in 0..M {
            for b in 0..M {
                for i in 0..N {
                    w[a][i] += f2[a][b] * u[b].g[i];
                }
            }
        }
        for i in 0..N {
            for j in 0..N {
                let mut acc = 0.0;
                for a in 0..M {
                    acc += f1[a] * u[a].h[i][j] + u[a].g[i] * w[a][j];
                }
                out.h[i][j] = acc;
            }
        }
        out
    }
    #[inline]
    fn recip(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(r, -r * r, 2.0 * r * r * r)
    }
}

impl<const N: usize> Add for Jet<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: Self) -> Self {
        self += o;
        self
    }
}

impl<const N: usize> AddAssign for Jet<N> {
    #[inline]
    fn add_assign(&mut self, o: Self) {
        self.v += o.v;
        for i in 0..N {
            self.g[i] += o.g[i];
            for j in 0..N {
                self.h[i][j] += o.h[i][j];
            }
        }
    }
}

impl<const N: usize> Neg for Jet<N> {
    type Output = Self;
    #[inline]
    fn neg(mut self) -> Self {
        // element by element (the values of `self * -1.0`, without its chain rule's products)
        self.v = -self.v;
        for i in 0..N {
            self.g[i] = -self.g[i];
            for j in 0..N {
                self.h[i][j] = -self.h[i][j];
            }
        }
        self
    }
}

impl<const N: usize> Sub for Jet<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: Self) -> Self {
        // element by element: the values of `self + (-o)` in one pass
        self.v -= o.v;
        for i in 0..N {
            self.g[i] -= o.g[i];
            for j in 0..N {
                self.h[i][j] -= o.h[i][j];
            }
        }
        self
    }
}

impl<const N: usize> Mul for Jet<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        let mut out = Self::cst(self.v * o.v);
        for i in 0..N {
            out.g[i] = self.v * o.g[i] + o.v * self.g[i];
            for j in 0..N {
                out.h[i][j] = self.v * o.h[i][j]
                    + o.v * self.h[i][j]
                    + self.g[i] * o.g[j]
                    + o.g[i] * self.g[j];
            }
        }
        out
    }
}

impl<const N: usize> Div for Jet<N> {
    type Output = Self;
    #[inline]
    // a / b = a · (1/b): the reciprocal's chain rule holds the quotient's second derivatives
    #[allow(clippy::suspicious_arithmetic_impl)]
    fn div(self, o: Self) -> Self {
        self * o.recip()
    }
}

impl<const N: usize> Add<f64> for Jet<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: f64) -> Self {
        self.v += o;
        self
    }
}

impl<const N: usize> Sub<f64> for Jet<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: f64) -> Self {
        self.v -= o;
        self
    }
}

impl<const N: usize> Mul<f64> for Jet<N> {
    type Output = Self;
    #[inline]
    fn mul(mut self, o: f64) -> Self {
        // a scaling: the chain rule with f'' = 0, without its zero products
        self.v *= o;
        for i in 0..N {
            self.g[i] *= o;
            for j in 0..N {
                self.h[i][j] *= o;
            }
        }
        self
    }
}

impl<const N: usize> Div<f64> for Jet<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: f64) -> Self {
        self * (1.0 / o)
    }
}

impl<const N: usize> Real for Jet<N> {
    #[inline]
    fn cst(v: f64) -> Self {
        Jet {
            v,
            g: [0.0; N],
            h: [[0.0; N]; N],
        }
    }
    #[inline]
    fn val(&self) -> f64 {
        self.v
    }
    #[inline]
    fn ln(self) -> Self {
        let r = 1.0 / self.v;
        self.chain(self.v.ln(), r, -r * r)
    }
    #[inline]
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e, e)
    }
    #[inline]
    fn ln_1p(self) -> Self {
        let r = 1.0 / (1.0 + self.v);
        self.chain(self.v.ln_1p(), r, -r * r)
    }
    #[inline]
    fn exp_m1(self) -> Self {
        let e = self.v.exp();
        self.chain(self.v.exp_m1(), e, e)
    }
    #[inline]
    fn lgamma(self) -> Self {
        self.chain(lgamma(self.v), digamma(self.v), trigamma(self.v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f<R: Real>(x: R, y: R) -> R {
        (x * y + x.exp()).ln() / (y + 1.0).lgamma() + (x / y).ln_1p() * (y.exp_m1() - 2.0)
    }

    #[test]
    fn hessian_matches_finite_differences_of_the_gradient() {
        let (x, y) = (0.7, 2.3);
        let j = f(Jet::<2>::var(x, 0), Jet::<2>::var(y, 1));
        assert!((j.v - f(x, y)).abs() < 1e-14);
        let grad = |x: f64, y: f64| {
            let d = f(
                super::super::dual::Dual::<2>::var(x, 0),
                super::super::dual::Dual::<2>::var(y, 1),
            );
            d.d
        };
        let h = 1e-5;
        let g0 = grad(x, y);
        for i in 0..2 {
            assert!((j.g[i] - g0[i]).abs() < 1e-12 * (1.0 + g0[i].abs()));
            let (p, m) = if i == 0 {
                (grad(x + h, y), grad(x - h, y))
            } else {
                (grad(x, y + h), grad(x, y - h))
            };
            for k in 0..2 {
                let fd = (p[k] - m[k]) / (2.0 * h);
                assert!((j.h[i][k] - fd).abs() < 1e-7 * (1.0 + fd.abs()), "{i}{k}");
            }
        }
    }

    #[test]
    fn compose_equals_the_chain_of_its_operations() {
        // f(u, v) = u·v written by hand against the jet product.
        let (u, v) = (
            Jet::<2>::var(0.4, 0).exp() * 1.5,
            (Jet::<2>::var(1.2, 1) + Jet::var(0.4, 0)).ln(),
        );
        let c = Jet::compose([u, v], u.v * v.v, [v.v, u.v], [[0.0, 1.0], [1.0, 0.0]]);
        let p = u * v;
        assert!((c.v - p.v).abs() < 1e-15);
        for i in 0..2 {
            assert!((c.g[i] - p.g[i]).abs() < 1e-14);
            for k in 0..2 {
                assert!((c.h[i][k] - p.h[i][k]).abs() < 1e-14);
            }
        }
    }
}
