"""The same CNN under AdamW: the control, where no law is predicted.

    python examples/cnn_adamw.py [--lab http://127.0.0.1:8050]

What to look at: the same quantities as cnn_batchnorm_sgd.py, drawn as diagnostics with the verdict
"not applicable": Adam's per-coordinate step is not equivariant under the symmetries, so nothing
constrains them; compare how the scale-invariant conv norms move under AdamW's decoupled weight decay.
"""

import torch
from digits import arguments, cnn, digits, print_verdicts, train
from torch import nn

import noether

args = arguments(__doc__, steps=400)
torch.manual_seed(0)
x, y = digits(args.device)
model = cnn().to(args.device)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)

with noether.watch(model, optimizer, loss_fn, lab=args.lab, token=args.token, every=args.every) as mon:
    train(model, optimizer, loss_fn, x, y, args.steps, args.delay)  # the usual loop: forward, backward, step
print_verdicts(mon.close())
