"""The built-in zoo networks, one module per family; importing this package registers them all."""

from __future__ import annotations

from search_spaces.zoo.networks import (
    alexnet,  # noqa: F401
    densenet,  # noqa: F401
    dpn,  # noqa: F401
    fractalnet,  # noqa: F401
    googlenet,  # noqa: F401
    highway,  # noqa: F401
    inception_v3,  # noqa: F401
    inception_v4,  # noqa: F401
    lenet,  # noqa: F401
    mobilenet,  # noqa: F401
    resnet,  # noqa: F401
    searched,  # noqa: F401
    shufflenet,  # noqa: F401
    squeezenet,  # noqa: F401
    vgg,  # noqa: F401
)
