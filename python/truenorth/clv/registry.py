"""The model registry: one mapping from model kind to class, with what each model can do.

Persistence, simulation, ``lifetime_value``, the ``clv`` rule's options and the docs ask this
registry which models exist, and branch on a model's declared :class:`Capabilities`, never on
its name. Adding a model is one class and one registration (in ``clv/models.py``, with its
kernels in ``truenorth._core`` under the same kind, or another one named by ``native``)::

    @register_model
    class MyModel(_PurchaseModel):
        kind = "my_model"                     # the name in packs and model documents
        label = "My/NBD"                      # the name in messages
        param_names = ("r", "alpha", "s", "beta")
        capabilities = Capabilities(process="purchase", new_customer=True)

This module sits at the bottom of ``truenorth.clv`` (it imports only the input errors), so the
models, persistence and simulation modules can all use it without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Protocol, TypeVar, get_args

from ._input import ModelInputError

__all__ = ["Capabilities", "Model", "model_class", "models_registry", "register_model"]

Process = Literal["purchase", "spend", "contractual"]
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Capabilities:
    """What a model offers. Code that serves several models reads these fields.

    - ``process``: ``"purchase"`` (repeat purchases of customers who may silently leave:
      ``p_alive``, ``expected_purchases``; usable in ``lifetime_value`` and the ``clv`` rule),
      ``"spend"`` (mean spend per purchase: ``expected_spend``) or ``"contractual"``
      (observed cancellations).
    - ``discrete``: time is counted in opportunities (``T`` and ``recency`` are whole numbers,
      horizons are numbers of future opportunities), not in a continuous time unit.
    - ``conditional_pmf``: ``conditional_p_purchases`` (the distribution of future purchases
      given each customer's history).
    - ``new_customer``: ``expected_purchases_new`` and ``p_purchases`` (a new customer).
    - ``simulation``: ``simulate_model`` draws customer summaries from it.
    - ``covariates``: the fit takes per-customer covariates.
    - ``intervals``: the fit reports standard errors and a covariance: ``summary()``,
      ``vcov()``, ``confint(level)``, and (purchase models) prediction intervals with
      ``interval=`` (parameter draws evaluated through the model's Rust kernels).

    >>> Capabilities(process="purchase", conditional_pmf=True).conditional_pmf
    True
    >>> Capabilities(process="retail")
    Traceback (most recent call last):
    ...
    ValueError: Capabilities.process must be one of purchase, spend, contractual, got 'retail'
    """

    process: Process
    discrete: bool = False
    conditional_pmf: bool = False
    new_customer: bool = False
    simulation: bool = False
    covariates: bool = False
    intervals: bool = True

    def __post_init__(self) -> None:
        if self.process not in get_args(Process):
            raise ValueError(
                f"Capabilities.process must be one of {', '.join(get_args(Process))}, "
                f"got {self.process!r}"
            )
        for f in fields(self):
            if f.name != "process" and not isinstance(getattr(self, f.name), bool):
                raise ValueError(f"Capabilities.{f.name} must be True or False")

    def matches(self, wanted: dict[str, Any]) -> bool:
        """Whether every named field has the wanted value."""
        return all(getattr(self, k) == v for k, v in wanted.items())


class Model(Protocol):
    """What a registered model class provides (``truenorth.clv`` models derive from one base
    that provides all of it)."""

    kind: ClassVar[str]
    label: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    capabilities: ClassVar[Capabilities]
    #: attributes beyond the fit statistics that a saved model keeps (e.g. a diagnostic)
    persisted: ClassVar[tuple[str, ...]]
    time_unit: str | None
    standard_errors: dict[str, float] | None
    covariance: list[list[float]] | None
    log_likelihood: float | None
    converged: bool | None
    n_iterations: int | None
    n_observations: float | None
    n_patterns: int | None
    message: str | None
    boundary: str | None

    def __init__(self, *, time_unit: str | None = None) -> None: ...

    @property
    def params(self) -> dict[str, float]: ...

    def fit(
        self,
        summary: Any,
        weights: Any = None,
        *,
        time_unit: str | None = None,
        start: dict[str, float] | None = None,
        max_iter: int = 500,
    ) -> Any: ...

    @classmethod
    def from_params(
        cls, params: dict[str, float] | Sequence[float], *, time_unit: str | None = None
    ) -> Any: ...


_MODELS: dict[str, type[Model]] = {}
M = TypeVar("M", bound=type)


def register_model(cls: M) -> M:
    """Add a model class to the registry (usable as a class decorator); returns the class.

    The class declares ``kind`` (lower-case letters, digits, ``_``; unique), ``label``,
    ``param_names`` and ``capabilities``. Registering a second class under a taken kind is an
    error naming both classes; registering the same class again changes nothing.
    """
    name = f"{cls.__module__}.{cls.__qualname__}"
    kind = getattr(cls, "kind", None)
    if not (isinstance(kind, str) and _KIND.match(kind)):
        raise ValueError(f"model {name}: kind must be a lower-case identifier, got {kind!r}")
    label = getattr(cls, "label", None)
    if not (isinstance(label, str) and label):
        raise ValueError(f"model {name}: label must be a non-empty string, got {label!r}")
    params = getattr(cls, "param_names", None)
    if not (isinstance(params, tuple) and params and all(isinstance(p, str) for p in params)):
        raise ValueError(f"model {name}: param_names must be a non-empty tuple of names")
    if not isinstance(getattr(cls, "capabilities", None), Capabilities):
        raise ValueError(f"model {name}: capabilities must be a truenorth.clv.Capabilities")
    if not callable(getattr(cls, "from_params", None)):
        raise ValueError(f"model {name}: needs a from_params classmethod")
    taken = _MODELS.get(kind)
    if taken is not None and taken is not cls:
        raise ValueError(
            f"model kind {kind!r} is registered twice: by "
            f"{taken.__module__}.{taken.__qualname__} and by {name}"
        )
    _MODELS[kind] = cls
    return cls


def models_registry(**capabilities: Any) -> dict[str, type[Model]]:
    """The registered models by kind, in registration order; with keyword arguments, only those
    whose :class:`Capabilities` have the given values.

    >>> from truenorth import clv
    >>> for kind, cls in clv.models_registry().items():
    ...     c = cls.capabilities
    ...     print(f"{kind:12} {cls.__name__:17} {c.process:9} pmf={c.conditional_pmf}")
    bg_nbd       BetaGeo           purchase  pmf=True
    mbg_nbd      ModifiedBetaGeo   purchase  pmf=True
    pareto_nbd   ParetoNBD         purchase  pmf=True
    bg_bb        BetaGeoBetaBinom  purchase  pmf=True
    ggom_nbd     GammaGompertzNBD  purchase  pmf=True
    gamma_gamma  GammaGamma        spend     pmf=False
    >>> list(clv.models_registry(process="purchase", discrete=False))
    ['bg_nbd', 'mbg_nbd', 'pareto_nbd', 'ggom_nbd']
    """
    known = {f.name for f in fields(Capabilities)}
    unknown = sorted(set(capabilities) - known)
    if unknown:
        raise ValueError(
            f"unknown capability {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return {k: c for k, c in _MODELS.items() if c.capabilities.matches(capabilities)}


def model_class(kind: Any) -> type[Model]:
    """The class registered under ``kind``; an unknown kind is an error listing the known ones."""
    cls = _MODELS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ModelInputError(f"unknown model kind {kind!r} (known: {', '.join(_MODELS)})")
    return cls
