"""softmaxlab: multiclass softmax classification from scratch, proved equal to PyTorch,
Keras and autograd.

Public API::

    SoftmaxClassifier      the seed's model (tensors in, probabilities out)
    TorchSoftmax           PyTorch nn reference
    KerasSoftmax           Keras/TensorFlow reference (needs the 'keras' extra)
    gradients              every gradient formulation + REGISTRY
    mape                   the seeds' comparison metric
    make_dataset, one_hot  the seed's data
    compare                the seed experiment as a function (see ``softmaxlab compare``)
"""

from . import functional, gradients
from .data import Dataset, make_dataset, one_hot
from .errors import (
    InvalidInputError,
    InvalidTypeError,
    JacobianTooLargeError,
    MissingDependencyError,
    NumericalError,
    SoftmaxlabError,
    UnknownGradientError,
)
from .estimator import SoftmaxRegression
from .metrics import mape
from .model import SoftmaxClassifier
from .parity import CompareConfig, CompareResult, compare
from .references import KerasSoftmax, TorchSoftmax
from .training import EpochRecord

__version__ = "0.1.0"

__all__ = [
    "CompareConfig",
    "CompareResult",
    "Dataset",
    "EpochRecord",
    "InvalidInputError",
    "InvalidTypeError",
    "JacobianTooLargeError",
    "KerasSoftmax",
    "MissingDependencyError",
    "NumericalError",
    "SoftmaxClassifier",
    "SoftmaxRegression",
    "SoftmaxlabError",
    "TorchSoftmax",
    "UnknownGradientError",
    "__version__",
    "compare",
    "functional",
    "gradients",
    "make_dataset",
    "mape",
    "one_hot",
]
