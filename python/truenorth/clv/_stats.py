"""Small statistics the diagnostics need, without a SciPy dependency."""

from __future__ import annotations

import math

__all__ = ["chi_square_sf"]


def chi_square_sf(x: float, dof: int) -> float:
    """P(χ²_dof > x): the regularised upper incomplete gamma Q(dof/2, x/2).

    A power series for x below a + 1 and Lentz's continued fraction above it (the usual
    split: each converges fast on its side), to about 1e-14.

    >>> round(chi_square_sf(3.841458820694124, 1), 6)
    0.05
    >>> round(chi_square_sf(0.0, 3), 6), round(chi_square_sf(1e4, 3), 6)
    (1.0, 0.0)
    """
    if not (dof >= 1 and x == x):
        raise ValueError(f"chi-square needs dof >= 1 and a number, got dof={dof}, x={x}")
    if x <= 0:
        return 1.0
    a, z = dof / 2.0, x / 2.0
    log_front = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1.0:
        term = total = 1.0 / a
        k = a
        for _ in range(10_000):
            k += 1.0
            term *= z / k
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = z + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    return min(1.0, math.exp(log_front) * h)
