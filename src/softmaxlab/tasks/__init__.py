"""What the command line does, as Python functions: data in, results out.

Each command is one call here plus printing, so everything a command computes is
reachable from Python with the same result: ``softmaxlab train`` is :func:`train` (the
fitted estimator, the history, the final metrics, the model file and its recorded
configuration), ``predict`` is :func:`predict`, ``evaluate`` is :func:`evaluate`, and
``plot`` draws what :func:`read_histories` reads.
"""

from ..fitting import history_records
from .results import ESTIMATOR_OPTIONS, TrainResult, final_metrics, print_epoch
from .saved import certify, evaluate, export_onnx, model_rows, predict, read_histories, summary
from .sharded import check_sharded
from .train import train

__all__ = [
    "ESTIMATOR_OPTIONS",
    "TrainResult",
    "certify",
    "check_sharded",
    "evaluate",
    "export_onnx",
    "final_metrics",
    "history_records",
    "model_rows",
    "predict",
    "print_epoch",
    "read_histories",
    "summary",
    "train",
]
