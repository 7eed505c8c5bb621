"""A small CNN with BatchNorm on the digits, trained by SGD with momentum and weight decay, watched.

    python examples/cnn_batchnorm_sgd.py [--lab http://127.0.0.1:8050]

What to look at: the convolutions before a BatchNorm are scale-invariant, so gradient flow with weight
decay lambda predicts |W|^2 decaying as exp(-2 lambda t / (1 - beta)); SGD's finite steps push it back up
by the eta-weighted gradient term, and the modified flow (dash-dot) tracks the measurement where the
gradient-flow curve (dashed) does not. The translation law of the head decays as exp(-lambda t / (1 - beta)).
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
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-3)

with noether.watch(model, optimizer, loss_fn, lab=args.lab, token=args.token, every=args.every) as mon:
    print(mon.report())
    train(model, optimizer, loss_fn, x, y, args.steps, args.delay)  # the usual loop: forward, backward, step
print_verdicts(mon.close())
