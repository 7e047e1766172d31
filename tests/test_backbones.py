"""Backbones: registry-wide forward/backward, and the exact ResNet-32 of docs/method.md 1.7."""

import pytest
import torch

from ltkit.models import backbone_out_features, create_backbone, list_backbones
from ltkit.models.backbones import BACKBONES, BasicBlock, _ShortcutA


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny batches are overhead-bound: one intra-op thread is fast and avoids OpenMP stalls on a busy 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", list_backbones())
def test_forward_backward_every_backbone(name):
    """Smoke test over the registry (shapes, finite gradients); the structure tests below check the layers."""
    torch.manual_seed(0)
    net = create_backbone(name)
    assert isinstance(net.out_features, int)
    x = torch.randn(2, 3, 32, 32)
    f = net(x)
    assert f.shape == (2, net.out_features) == (2, backbone_out_features(name))
    assert torch.isfinite(f).all()
    assert (f >= 0).all()  # post-ReLU features (cos_k in [0, 1], docs/method.md 1.4)
    f.sum().backward()
    first_conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 3
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0


def test_registry_names_and_dims():
    assert list_backbones() == ["resnet152", "resnet32", "resnet50", "resnext50_32x4d"]
    assert BACKBONES.names() == list_backbones()
    dims = {n: backbone_out_features(n) for n in list_backbones()}
    assert dims == {"resnet152": 2048, "resnet32": 128, "resnet50": 2048, "resnext50_32x4d": 2048}


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'resnet34'; choose one of: resnet152, resnet32"):
        create_backbone("resnet34")


def test_resnet32_structure():
    net = create_backbone("resnet32")
    assert [len(net.layer1), len(net.layer2), len(net.layer3)] == [5, 5, 4]
    assert isinstance(net.cb_block, BasicBlock) and isinstance(net.rb_block, BasicBlock)
    assert net.cb_block is not net.rb_block
    assert (net.cb_block.conv1.in_channels, net.cb_block.conv2.out_channels) == (64, 64)
    assert net.out_features == 128
    assert net.conv1.stride == (1, 1) and net.conv1.padding == (1, 1) and net.conv1.out_channels == 16
    assert [net.layer2[0].conv1.stride, net.layer3[0].conv1.stride] == [(2, 2), (2, 2)]
    assert all(b.conv1.stride == (1, 1) for b in list(net.layer1) + list(net.layer2[1:]) + list(net.layer3[1:]))
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    # stem + 2 convs in each of 5 + 5 + 4 blocks + cb_block + rb_block
    assert len(convs) == 1 + 2 * (5 + 5 + 4 + 2)
    assert all(c.bias is None and c.kernel_size == (3, 3) for c in convs)
    # Parameters, by hand: a 3x3 conv without bias has 9*in*out weights, a BN has 2*channels
    # (weight + bias); a BasicBlock(in, out) = 9*in*out + 9*out*out + 2*(2*out).
    expected = (
        (9 * 3 * 16 + 2 * 16)  # stem: conv 3->16 + BN(16)            =    464
        + 5 * (2 * 9 * 16 * 16 + 4 * 16)  # layer1: 5 x block(16, 16)            =  23360
        + (9 * 16 * 32 + 9 * 32 * 32 + 4 * 32)  # layer2[0]: block(16, 32), stride 2   =  13952
        + 4 * (2 * 9 * 32 * 32 + 4 * 32)  # layer2[1:]: 4 x block(32, 32)        =  74240
        + (9 * 32 * 64 + 9 * 64 * 64 + 4 * 64)  # layer3[0]: block(32, 64), stride 2   =  55552
        + 3 * (2 * 9 * 64 * 64 + 4 * 64)  # layer3[1:]: 3 x block(64, 64)        = 221952
        + 2 * (2 * 9 * 64 * 64 + 4 * 64)  # cb_block + rb_block                  = 147968
    )
    assert expected == 537488
    assert sum(p.numel() for p in net.parameters()) == expected
    # option-A shortcuts (layer2[0], layer3[0]) carry no parameters; all others are identities
    shortcuts = [m for m in net.modules() if isinstance(m, _ShortcutA)]
    assert len(shortcuts) == 2 and all(not list(s.parameters()) for s in shortcuts)
    assert isinstance(net.layer2[0].shortcut, _ShortcutA) and isinstance(net.layer3[0].shortcut, _ShortcutA)
    assert sum(isinstance(m.shortcut, torch.nn.Identity) for m in net.modules() if isinstance(m, BasicBlock)) == 14


@pytest.mark.parametrize("size", [8, 16, 32])
def test_resnet32_input_sizes(size):
    """Smoke test: any input of at least 8 x 8 gives the 128-d feature."""
    net = create_backbone("resnet32").eval()
    with torch.no_grad():
        assert net(torch.randn(3, 3, size, size)).shape == (3, 128)


def test_resnet32_branches_concatenate_cb_then_rb():
    torch.manual_seed(0)
    net = create_backbone("resnet32").eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        h = torch.relu(net.bn1(net.conv1(x)))
        h = net.layer3(net.layer2(net.layer1(h)))
        assert h.shape == (2, 64, 4, 4)  # 16 -> 16 -> 8 -> 4
        cb = net.cb_block(h).mean((2, 3))
        rb = net.rb_block(h).mean((2, 3))
        torch.testing.assert_close(net(x), torch.cat([cb, rb], 1))


def test_option_a_shortcut_by_hand():
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    out = _ShortcutA(planes=4, stride=2)(x)  # 2 -> 4 channels: one zero channel each side
    assert out.shape == (1, 4, 2, 2)
    assert torch.equal(out[0, 0], torch.zeros(2, 2)) and torch.equal(out[0, 3], torch.zeros(2, 2))
    # channel 0 of x is 0..15 row-major over 4x4; rows 0, 2 and columns 0, 2 survive
    assert torch.equal(out[0, 1], torch.tensor([[0.0, 2.0], [8.0, 10.0]]))
    assert torch.equal(out[0, 2], torch.tensor([[16.0, 18.0], [24.0, 26.0]]))


def test_option_a_shortcut_in_a_real_block():
    blk = BasicBlock(16, 32, 2).eval()
    x = torch.randn(2, 16, 8, 8)
    sc = blk.shortcut(x)
    assert sc.shape == (2, 32, 4, 4)
    assert torch.equal(sc[:, :8], torch.zeros(2, 8, 4, 4)) and torch.equal(sc[:, 24:], torch.zeros(2, 8, 4, 4))
    assert torch.equal(sc[:, 8:24], x[:, :, ::2, ::2])
    with torch.no_grad():
        ref = torch.relu(blk.bn2(blk.conv2(torch.relu(blk.bn1(blk.conv1(x))))) + sc)
        torch.testing.assert_close(blk(x), ref)


def test_basic_block_identity_shortcut():
    blk = BasicBlock(8, 8, 1).eval()
    assert isinstance(blk.shortcut, torch.nn.Identity)
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        ref = torch.relu(blk.bn2(blk.conv2(torch.relu(blk.bn1(blk.conv1(x))))) + x)
        torch.testing.assert_close(blk(x), ref)


def test_resnet32_init_is_kaiming_fan_in():
    torch.manual_seed(0)
    net = create_backbone("resnet32")
    w = net.layer3[1].conv1.weight  # 64 x 64 x 3 x 3, fan_in 576, std sqrt(2 / 576)
    assert w.mean().item() == pytest.approx(0.0, abs=0.01)
    assert w.std().item() == pytest.approx((2 / 576) ** 0.5, rel=0.05)
    w0 = net.conv1.weight  # 16 x 3 x 3 x 3, fan_in 27
    assert w0.std().item() == pytest.approx((2 / 27) ** 0.5, rel=0.2)
    for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and torch.equal(bn.bias, torch.zeros_like(bn.bias))


def test_resnext50_is_the_reference_layout():
    net = create_backbone("resnext50_32x4d")
    assert net.out_features == 2048 and isinstance(net.fc, torch.nn.Identity)
    assert isinstance(net.avgpool, torch.nn.AdaptiveAvgPool2d)  # fixes the AvgPool2d(7) crash at 32 x 32
    blk = net.layer2[0]
    assert blk.conv2.groups == 32 and blk.conv2.stride == (2, 2) and blk.conv1.stride == (1, 1)  # stride on the 3x3
    assert [len(net.layer1), len(net.layer2), len(net.layer3), len(net.layer4)] == [3, 4, 6, 3]
    assert [net.layer1[0].conv2.out_channels, net.layer4[0].conv2.out_channels] == [128, 1024]
    assert net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)


def test_torchvision_resnets_have_no_fc():
    for name, blocks in [("resnet50", [3, 4, 6, 3]), ("resnet152", [3, 8, 36, 3])]:
        with torch.device("meta"):  # shapes only, no weights allocated
            net = create_backbone(name)
        assert net.out_features == 2048 and isinstance(net.fc, torch.nn.Identity)
        assert [len(net.layer1), len(net.layer2), len(net.layer3), len(net.layer4)] == blocks


@pytest.mark.parametrize("activation", ["softplus", "silu"])
def test_activation_replaces_every_relu_of_resnet32(activation):
    """The block computes act(bn2(conv2(act(bn1(conv1 x)))) + x) with the chosen function, the
    stem too; no ReLU is left and the weights are the ReLU network's (the activation has none)."""
    fn = {"softplus": torch.nn.functional.softplus, "silu": torch.nn.functional.silu}[activation]
    torch.manual_seed(0)
    relu_net = create_backbone("resnet32")
    torch.manual_seed(0)
    net = create_backbone("resnet32", activation=activation)
    assert not any(isinstance(m, torch.nn.ReLU) for m in net.modules())
    a, b = relu_net.state_dict(), net.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    net.train()
    blk = net.layer1[1]
    x = torch.randn(4, 16, 8, 8)
    ref = fn(blk.bn2(blk.conv2(fn(blk.bn1(blk.conv1(x))))) + x)
    torch.testing.assert_close(blk(x), ref)
    img = torch.randn(2, 3, 16, 16)
    pre = net.bn1(net.conv1(img))  # the stem's activation too
    torch.testing.assert_close(net.act(pre.clone()), fn(pre))
    f = net(img)
    assert f.shape == (2, 128) and torch.isfinite(f).all()
    assert not torch.allclose(f, relu_net.train()(img))


def test_activation_in_torchvision_backbones():
    with torch.device("meta"):
        relu = create_backbone("resnext50_32x4d")
        soft = create_backbone("resnext50_32x4d", activation="softplus")
    n_relu = sum(isinstance(m, torch.nn.ReLU) for m in relu.modules())
    assert n_relu > 0 and not any(isinstance(m, torch.nn.ReLU) for m in soft.modules())
    assert sum(isinstance(m, torch.nn.Softplus) for m in soft.modules()) == n_relu
    assert (relu.activation, soft.activation) == ("relu", "softplus")


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'gelu'; choose one of: relu, silu, softplus"):
        create_backbone("resnet32", activation="gelu")
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        create_backbone("resnet50", activation="tanh")


def _weight_gap_after_steps(activation: str, steps: int = 9) -> tuple:
    """Train the quickstart's model twice for ``steps`` SGD steps, the second copy from initial
    weights changed by 1e-6; return (relative weight distance at the start, at the end)."""
    from ltkit.config import RunConfig
    from ltkit.data import load_dataset
    from ltkit.train import build_model, lr_at_epoch, train_batches

    cfg = RunConfig.preset("synthetic_tde", device="cpu", activation=activation)
    data = load_dataset(cfg)
    flat = lambda m: torch.cat([p.detach().flatten() for p in m.parameters()])  # noqa: E731
    models = []
    for scale in (0.0, 1e-6):
        torch.manual_seed(0)
        model = build_model(cfg, data.num_classes)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(scale * torch.randn(p.shape, generator=g))
        models.append(model)
    start = (flat(models[0]) - flat(models[1])).norm() / flat(models[0]).norm()
    for model in models:
        model.train()
        opt = torch.optim.SGD(
            model.parameters(), lr=lr_at_epoch(cfg, 1), momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
        for x, y in train_batches(cfg, data, torch.device("cpu"), 1, steps, data.train.images):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model.classifier(model.backbone(x)), y).backward()
            opt.step()
    end = (flat(models[0]) - flat(models[1])).norm() / flat(models[0]).norm()
    return start.item(), end.item()


@pytest.mark.parametrize("smooth", ["silu", "softplus"])
def test_a_smooth_activation_does_not_amplify_a_tiny_weight_change(smooth):
    """Why the quickstart trains with SiLU: with ReLU, a 1e-6 change of the initial weights (or
    another thread count's rounding) grows about 80x within the first epoch's 9 steps, as units
    near 0 switch their gradient on or off; with a smooth activation it stays at its own size."""
    s0, s1 = _weight_gap_after_steps(smooth)
    r0, r1 = _weight_gap_after_steps("relu")
    assert s0 == pytest.approx(r0) and 1e-6 < s0 < 1e-4
    assert s1 < 1.5 * s0, (s0, s1)
    assert r1 > 10 * r0, (r0, r1)
