"""alexnet_core: a tested, executable replication of Krizhevsky, Sutskever & Hinton (2012)."""
from .version import __version__
from .model import (AlexNet, CifarNet, LocalResponseNorm, count_parameters, initialise,
                    layer_table, multiply_adds)

__all__ = ["__version__", "AlexNet", "CifarNet", "LocalResponseNorm", "count_parameters", "initialise",
           "layer_table", "multiply_adds"]
