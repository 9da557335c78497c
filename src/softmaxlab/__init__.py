"""softmaxlab: multiclass softmax classification from scratch, proved equal to PyTorch,
Keras and autograd.

Public API::

    SoftmaxClassifier      the seed's model (tensors in, probabilities out)
    TorchSoftmax           PyTorch nn reference
    KerasSoftmax           Keras/TensorFlow reference (needs the 'keras' extra)
    gradients              every gradient formulation + REGISTRY
    mape                   the seeds' comparison metric
    SoftmaxRegression      scikit-learn estimator over the same engine
    SoftmaxRegressionCV    the same with its penalty chosen by cross-validation
    regularization_path    fits along a decreasing sequence of penalties (warm starts)
    make_dataset, one_hot  the seed's data
    load_dataset           bundled sets and CSV/Parquet files
    save_model, load_model safetensors model files
    compare                the seed experiment as a function (see ``softmaxlab compare``)
"""

from . import functional, gradients, inference, metrics
from ._version import __version__
from .comparison import CompareConfig, CompareResult, compare
from .cv import SoftmaxRegressionCV
from .data import Dataset, load_dataset, make_dataset, one_hot
from .errors import (
    CheckpointError,
    DistributedError,
    InvalidInputError,
    InvalidTypeError,
    JacobianTooLargeError,
    MissingDependencyError,
    ModelFileError,
    NumericalError,
    OutputError,
    SoftmaxlabError,
    TrainingDiverged,
    UnknownGradientError,
)
from .estimator import SoftmaxRegression
from .metrics import mape
from .model import SoftmaxClassifier
from .path import RegularizationPath, regularization_path
from .persistence import SavedModel, load_model, save_model
from .references import KerasSoftmax, TorchSoftmax
from .training import EpochRecord

__all__ = [
    "CheckpointError",
    "CompareConfig",
    "CompareResult",
    "Dataset",
    "DistributedError",
    "EpochRecord",
    "InvalidInputError",
    "InvalidTypeError",
    "JacobianTooLargeError",
    "KerasSoftmax",
    "MissingDependencyError",
    "ModelFileError",
    "NumericalError",
    "OutputError",
    "RegularizationPath",
    "SavedModel",
    "SoftmaxClassifier",
    "SoftmaxRegression",
    "SoftmaxRegressionCV",
    "SoftmaxlabError",
    "TorchSoftmax",
    "TrainingDiverged",
    "UnknownGradientError",
    "__version__",
    "compare",
    "functional",
    "gradients",
    "inference",
    "load_dataset",
    "load_model",
    "make_dataset",
    "mape",
    "metrics",
    "one_hot",
    "regularization_path",
    "save_model",
]
