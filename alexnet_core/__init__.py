"""alexnet_core: a tested, executable replication of Krizhevsky, Sutskever & Hinton (2012)."""
from .model import (AlexNet, CifarNet, LocalResponseNorm, count_parameters, initialise,
                    layer_table, multiply_adds)

__all__ = ["AlexNet", "CifarNet", "LocalResponseNorm", "count_parameters", "initialise",
           "layer_table", "multiply_adds"]
__version__ = "0.1.0"
