"""Symmetries found from a model's structure, against known counts (Kunin et al., Sec. 3)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from noether.watcher import detect


class ConvReluConv(nn.Module):
    def __init__(self, c: int = 6):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c, 3)
        self.conv2 = nn.Conv2d(c, 4, 3)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(x)))


def by_family(det, family):
    return [law for law in det.laws if law.family == family]


def test_conv_relu_conv_gives_one_rescaling_per_channel():
    model = ConvReluConv(c=6)
    det = detect(model)
    (law,) = by_family(det, "rescale")
    assert law.layers == ("conv1", "conv2")
    assert law.count == 6 and law.channels == 6
    # and each channel's quantity is conserved by the symmetry: the per-channel values move under a rescaling
    # of one channel only by that channel's terms, and the loss does not move at all
    x = torch.randn(5, 1, 8, 8)
    before = model(x)
    params = dict(model.named_parameters())
    q_before = law.per_channel(params)
    with torch.no_grad():
        model.conv1.weight[2] *= 3.0
        model.conv1.bias[2] *= 3.0
        model.conv2.weight[:, 2] /= 3.0
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)
    q_after = law.per_channel(dict(model.named_parameters()))
    changed = (q_after - q_before).abs() > 1e-9
    assert changed.tolist() == [i == 2 for i in range(6)]


def test_batchnorm_makes_the_preceding_conv_scale_invariant():
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    det = detect(model, nn.CrossEntropyLoss())
    (scale,) = by_family(det, "scale")
    assert scale.layers == ("0", "1") and scale.count == 8
    assert {t.param for t in scale.terms} == {"0.weight", "0.bias"}
    # the BatchNorm's affine weights, not the conv's, are rescaled against the linear layer (through a flatten)
    (rescale,) = by_family(det, "rescale")
    assert rescale.layers == ("1", "4") and rescale.count == 8
    assert rescale.terms[-1].group == 36  # 6 x 6 columns of the linear layer per channel
    x = torch.randn(16, 1, 8, 8)
    model.train()
    out = model(x)
    with torch.no_grad():
        model[0].weight *= 5.0
        model[0].bias *= 5.0
    torch.testing.assert_close(model(x), out, rtol=1e-3, atol=1e-3)


def test_cross_entropy_head_gives_a_translation_law():
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    with_ce = detect(model, nn.CrossEntropyLoss())
    (law,) = by_family(with_ce, "translation")
    assert law.layers == ("2",) and law.count == 16 + 1
    assert not by_family(detect(model, nn.MSELoss()), "translation")
    assert any("layer 2" in u and "no translation" in u for u in detect(model, nn.MSELoss()).unsupported)
    # a softmax in the model is enough, without a loss
    soft = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3), nn.LogSoftmax(dim=1))
    assert by_family(detect(soft), "translation")


def test_gelu_gives_no_rescaling_and_says_so():
    model = nn.Sequential(nn.Linear(4, 16), nn.GELU(), nn.Linear(16, 3))
    det = detect(model, nn.CrossEntropyLoss())
    assert not by_family(det, "rescale")
    assert any(u.startswith("layer 0 (Linear)") and "GELU" in u and "not positively homogeneous" in u
               for u in det.unsupported)


def test_linear_block_gives_gl_d():
    model = nn.Sequential(nn.Linear(4, 5), nn.Linear(5, 3))
    (law,) = by_family(detect(model), "linear")
    assert law.count == 25


class Weird(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.rnn = nn.GRU(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h, _ = self.rnn(F.relu(self.fc(x)).unsqueeze(0))
        return self.head(h[0])


def test_an_unsupported_module_is_reported_by_name():
    det = detect(Weird(), nn.CrossEntropyLoss())
    text = det.report()
    assert any(u.startswith("layer rnn (GRU)") and "no symmetry found" in u for u in det.unsupported), text
    assert any(u.startswith("layer fc (Linear)") for u in det.unsupported), text
    assert by_family(det, "translation")  # the head is still understood


class Branchy(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it; the hooks see the modules' calls."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        if x.sum() > -1e9:
            return self.fc2(self.act(self.fc1(x)))
        return x


def test_untraceable_model_falls_back_to_hooks():
    model = Branchy()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    import noether

    mon = noether.watch(model, opt, nn.CrossEntropyLoss(), out=False, every=1)
    assert mon.detection.method == "hooks" and mon.detection.trace_error
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    for _ in range(3):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    ids = {law.id for law in mon.laws}
    assert "rescale/fc1-fc2" in ids and "translation/fc2" in ids
    summary = mon.close()
    assert all(law.verdict == "holds" for law in summary.laws), summary.laws


@pytest.mark.parametrize("act", [nn.ReLU(), nn.LeakyReLU(0.1)])
def test_homogeneous_activations_give_rescaling(act):
    model = nn.Sequential(nn.Linear(4, 7), act, nn.Linear(7, 3))
    (law,) = by_family(detect(model), "rescale")
    assert law.count == 7
