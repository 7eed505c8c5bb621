"""Losses of a network's outputs f_w(x_i) against targets y_i, averaged over the n samples.

- nll: log-softmax + negative log-likelihood on the logits (the paper's Fig. 1 loss), integer labels.
- mse: 1/(2n) sum_i |f_w(x_i) - y_i|^2, against one-hot targets (classification) or real targets.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def nll(outputs: Tensor, targets: Tensor) -> Tensor:
    """-1/n sum_i log softmax(f_w(x_i))[y_i]."""
    return F.cross_entropy(outputs, targets)


def mse(outputs: Tensor, targets: Tensor) -> Tensor:
    """1/(2n) sum_i |f_w(x_i) - y_i|^2."""
    diff = outputs - targets
    return 0.5 * diff.pow(2).sum() / outputs.shape[0]


LOSSES = {"nll": nll, "mse": mse}
