"""L2-regularised logistic regression by Newton's method, for routers with a few hundred inputs.

With two models, RouteLLM's `mf` score is a logistic regression on a linear
projection of the embedding, without a bias term. Fitting that regression
directly is a convex problem with one optimum, and its L2 penalty is the
regulariser. `hybrid.mf.mf_model_for_vector` stores the result in `mf` form.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from hybrid.errors import InputError

__all__ = ["fit_logistic"]

logger = logging.getLogger("hybrid.logistic")

MAX_ITERATIONS = 100
TOLERANCE = 1e-10


def fit_logistic(inputs: np.ndarray, labels: np.ndarray, *, l2: float, fit_intercept: bool = True) -> tuple[np.ndarray, float]:
    """Return the weights and intercept that minimise `sum(log loss) + l2 / 2 * |weights|^2`.

    The intercept is not penalised. `l2` is scikit-learn's `1 / C`. Labels may be
    any values in [0, 1]; soft labels give the expected log loss.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[0] == 0:
        raise InputError(f"inputs must be a non-empty 2-D array, got shape {inputs.shape}")
    if labels.shape != (inputs.shape[0],):
        raise InputError(f"labels must have one value per input row ({inputs.shape[0]}), got shape {labels.shape}")
    if not np.all((labels >= 0.0) & (labels <= 1.0)):
        raise InputError("labels must lie in [0, 1]")
    if not math.isfinite(l2) or l2 <= 0:
        raise InputError(f"l2 must be positive, got {l2}; a penalty keeps separable data from diverging")

    design = np.hstack([inputs, np.ones((inputs.shape[0], 1))]) if fit_intercept else inputs
    penalty = np.full(design.shape[1], l2)
    if fit_intercept:
        penalty[-1] = 0.0

    coefficients = np.zeros(design.shape[1])
    for iteration in range(MAX_ITERATIONS):
        probabilities = 1.0 / (1.0 + np.exp(-(design @ coefficients)))
        gradient = design.T @ (probabilities - labels) + penalty * coefficients
        curvature = probabilities * (1.0 - probabilities)
        hessian = (design * curvature[:, None]).T @ design + np.diag(penalty)
        # A tiny ridge keeps the unpenalised intercept's system solvable when every label is equal.
        step = np.linalg.solve(hessian + 1e-12 * np.eye(design.shape[1]), gradient)
        coefficients -= step
        if float(np.max(np.abs(step))) < TOLERANCE:
            logger.debug("logistic regression converged after %d Newton steps", iteration + 1)
            break
    else:
        logger.warning("logistic regression did not converge in %d Newton steps", MAX_ITERATIONS)

    if fit_intercept:
        return coefficients[:-1], float(coefficients[-1])
    return coefficients, 0.0
