"""The objective of every fit: the multinomial loss over a flat parameter vector
(:mod:`~softmaxlab.objective.loss`), the penalties (:mod:`~softmaxlab.objective.penalties`)
and the row weights (:mod:`~softmaxlab.objective.weights`)."""

from .loss import LogOddsLoss, MultinomialLoss, Rows
from .penalties import L1, L2, ElasticNet, NoPenalty, Penalty, make_penalty
from .weights import class_weight_vector, row_weights

__all__ = [
    "L1",
    "L2",
    "ElasticNet",
    "LogOddsLoss",
    "MultinomialLoss",
    "NoPenalty",
    "Penalty",
    "Rows",
    "class_weight_vector",
    "make_penalty",
    "row_weights",
]
