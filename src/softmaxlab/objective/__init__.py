"""The objective of every fit: the multinomial loss over a flat parameter vector
with its rows and their weights (:mod:`~softmaxlab.objective.loss`), its two-class form
(:mod:`~softmaxlab.objective.log_odds`) and the penalties
(:mod:`~softmaxlab.objective.penalties`)."""

from .log_odds import LogOddsLoss
from .loss import MultinomialLoss, Rows, class_weight_vector, row_weights
from .penalties import L1, L2, ElasticNet, NoPenalty, Penalty, make_penalty

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
