"""Fitted models as small JSON documents, for scoring without refitting.

Document (format version 1)::

    {"format": "truenorth.clv.model", "version": 1, "kind": "bg_nbd",
     "params": {"r": ..., ...}, "time_unit": "1w",
     "fit": {"log_likelihood": ..., "standard_errors": {...}, "covariance": [[...]],
             "converged": true, "n_iterations": 28, "n_observations": 2357.0,
             "n_patterns": 1016, "message": "..."},
     "extra": {"frequency_spend_correlation": ...}}

``fit`` is null for models built with ``from_params``; ``extra`` holds the attributes a model
class lists in ``persisted`` and is absent when it lists none. The class of ``kind`` comes from
the model registry, so a registered model saves and loads with no code here.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ._input import ModelInputError
from .registry import Model, model_class

FORMAT = "truenorth.clv.model"
VERSION = 1


def to_json(model: Model, path: str | os.PathLike[str] | None = None) -> str:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": model.kind,
        "params": model.params,
        "time_unit": model.time_unit,
        "fit": None,
    }
    if model.log_likelihood is not None:
        doc["fit"] = {
            "log_likelihood": model.log_likelihood,
            "standard_errors": model.standard_errors,
            "covariance": model.covariance,
            "converged": model.converged,
            "n_iterations": model.n_iterations,
            "n_observations": model.n_observations,
            "n_patterns": model.n_patterns,
            "message": model.message,
            "boundary": model.boundary,
        }
    spec = getattr(model, "covariates", None)
    if spec is not None:
        # names, coding (levels, reference) and penalties: enough to rebuild each customer's
        # parameters at scoring time; the covariance above then includes the coefficients
        doc["covariates"] = {
            "spec": spec.to_dict(),
            "coefficients": dict(
                zip(spec.coefficient_names(), getattr(model, "_coef", ()), strict=True)
            ),
        }
    if model.persisted:
        doc["extra"] = {name: getattr(model, name) for name in model.persisted}
    text = json.dumps(doc, indent=1, allow_nan=False)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def load(source: str | os.PathLike[str] | dict[str, Any]) -> Model:
    """A model from ``to_json`` output: the JSON text, a path to it, or the parsed dict."""
    if isinstance(source, dict):
        doc = source
    else:
        text = str(source) if not isinstance(source, os.PathLike) else None
        if text is None or not text.lstrip().startswith("{"):
            p = Path(source)
            if not p.is_file():
                raise ModelInputError(f"no such model file: {p}")
            text = p.read_text(encoding="utf-8")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelInputError(f"model JSON is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelInputError(f"not a truenorth model document (expected format {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise ModelInputError(
            f"model document version {doc.get('version')!r} is not supported (expected {VERSION})"
        )
    cls = model_class(doc.get("kind"))
    model: Model = cls.from_params(doc.get("params") or {}, time_unit=doc.get("time_unit", "1d"))
    fit = doc.get("fit")
    if fit:
        model.log_likelihood = float(fit["log_likelihood"])
        model.standard_errors = fit.get("standard_errors")
        model.covariance = fit.get("covariance")
        model.converged = bool(fit.get("converged"))
        model.n_iterations = fit.get("n_iterations")
        model.n_observations = fit.get("n_observations")
        model.n_patterns = fit.get("n_patterns")
        model.message = fit.get("message")
        model.boundary = fit.get("boundary")
        if not math.isfinite(model.log_likelihood):
            raise ModelInputError("model document: log_likelihood is not finite")
    cov = doc.get("covariates")
    if cov:
        from .covariates import CovariateSpec

        spec = CovariateSpec.from_dict(cov["spec"])
        coefs = cov.get("coefficients") or {}
        missing = [n for n in spec.coefficient_names() if n not in coefs]
        if missing:
            raise ModelInputError(f"model document: covariates lack coefficients {missing}")
        setattr(model, "covariates", spec)  # noqa: B010 - purchase models only
        setattr(model, "_coef", tuple(float(coefs[n]) for n in spec.coefficient_names()))  # noqa: B010
    extra = doc.get("extra") or {}
    for name in cls.persisted:
        setattr(model, name, extra.get(name))
    return model
