"""Backbones: registry-wide forward/backward, and the exact ResNet-32 of REFERENCE.md 1.7."""

import pytest
import torch

from ltkit.models import backbone_out_features, create_backbone, list_backbones
from ltkit.models.backbones import BasicBlock, _ShortcutA


@pytest.mark.parametrize("name", list_backbones())
def test_forward_backward_every_backbone(name):
    torch.manual_seed(0)
    net = create_backbone(name)
    x = torch.randn(2, 3, 32, 32)
    f = net(x)
    assert f.shape == (2, net.out_features) == (2, backbone_out_features(name))
    assert (f >= 0).all()  # post-ReLU features (cos_k in [0, 1], REFERENCE 1.4)
    f.sum().backward()
    first_conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'resnet34'; choose one of: resnet152, resnet32"):
        create_backbone("resnet34")


def test_resnet32_structure():
    net = create_backbone("resnet32")
    assert [len(net.layer1), len(net.layer2), len(net.layer3)] == [5, 5, 4]
    assert net.out_features == 128
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    # stem + 2 convs in each of 5 + 5 + 4 blocks + cb_block + rb_block
    assert len(convs) == 1 + 2 * (5 + 5 + 4 + 2)
    assert all(c.bias is None and c.kernel_size == (3, 3) for c in convs)
    # parameters: 3x3 convs without bias, BN weight + bias per channel
    conv = lambda i, o: 9 * i * o  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731
    block = lambda i, o: conv(i, o) + bn(o) + conv(o, o) + bn(o)  # noqa: E731
    expected = (conv(3, 16) + bn(16)
                + 5 * block(16, 16)
                + block(16, 32) + 4 * block(32, 32)
                + block(32, 64) + 3 * block(64, 64)
                + 2 * block(64, 64))  # cb_block, rb_block
    assert sum(p.numel() for p in net.parameters()) == expected
    # option-A shortcuts carry no parameters
    shortcuts = [m for m in net.modules() if isinstance(m, _ShortcutA)]
    assert len(shortcuts) == 2 and all(not list(s.parameters()) for s in shortcuts)


def test_resnet32_branches_concatenate_cb_then_rb():
    net = create_backbone("resnet32").eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        h = torch.relu(net.bn1(net.conv1(x)))
        h = net.layer3(net.layer2(net.layer1(h)))
        cb = net.cb_block(h).mean((2, 3))
        rb = net.rb_block(h).mean((2, 3))
        torch.testing.assert_close(net(x), torch.cat([cb, rb], 1))


def test_option_a_shortcut_by_hand():
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    out = _ShortcutA(planes=4, stride=2)(x)  # 2 -> 4 channels: one zero channel each side
    assert out.shape == (1, 4, 2, 2)
    assert torch.equal(out[0, 0], torch.zeros(2, 2)) and torch.equal(out[0, 3], torch.zeros(2, 2))
    assert torch.equal(out[0, 1], torch.tensor([[0.0, 2.0], [8.0, 10.0]]))
    assert torch.equal(out[0, 2], torch.tensor([[16.0, 18.0], [24.0, 26.0]]))


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
    w = net.layer3[1].conv1.weight  # 64 x 64 x 3 x 3, fan_in 576
    assert w.std().item() == pytest.approx((2 / 576) ** 0.5, rel=0.05)
    bn = net.layer3[1].bn1
    assert torch.equal(bn.weight, torch.ones(64)) and torch.equal(bn.bias, torch.zeros(64))


def test_resnext50_is_the_reference_layout():
    net = create_backbone("resnext50_32x4d")
    assert net.out_features == 2048
    blk = net.layer2[0]
    assert blk.conv2.groups == 32 and blk.conv2.stride == (2, 2) and blk.conv1.stride == (1, 1)  # stride on the 3x3
    assert [len(net.layer1), len(net.layer2), len(net.layer3), len(net.layer4)] == [3, 4, 6, 3]
    assert [net.layer1[0].conv2.out_channels, net.layer4[0].conv2.out_channels] == [128, 1024]
