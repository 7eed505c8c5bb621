"""An MLP on the digits, trained by SGD with momentum, watched by noether.watch.

    python examples/mlp_sgd_momentum.py                                 # writes noether-runs/mlp_sgd_momentum-*/
    python examples/mlp_sgd_momentum.py --lab http://127.0.0.1:8050    # live in the lab's Runs

What to look at: without weight decay, gradient flow says each ReLU layer's balance
|W_h|^2 + |b_h|^2 - |W_{h+1}|^2 stays constant, while the norms themselves grow; momentum's finite steps
make it drift, and the exact step-by-step prediction follows the drift to float precision.
"""

import torch
from digits import arguments, digits, mlp, print_verdicts, train
from torch import nn

import noether

args = arguments(__doc__, steps=600)
torch.manual_seed(0)
x, y = digits(args.device)
model = mlp().to(args.device)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

mon = noether.watch(model, optimizer, loss_fn, lab=args.lab, token=args.token, every=args.every)
print(mon.report())
train(model, optimizer, loss_fn, x, y, args.steps, args.delay)  # the usual loop: forward, backward, step
print_verdicts(mon.close())
