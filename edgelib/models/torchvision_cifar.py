"""torchvision ResNet-18…152 and DenseNet-121…201 adapted to 32×32 inputs (paper profile).

The ImageNet stem (7×7 stride-2 convolution + 3×3 max-pool) shrinks a 32×32 image to 8×8 before
the first block; for CIFAR it is replaced by one 3×3 stride-1 convolution and no max-pool, the
usual adaptation, which gives the two-level paper's Table 1 figures (ResNet-18: 11.17 M
parameters, 0.56 G multiply-accumulates). The paper's cut points: ResNets after conv3_x
(torchvision's ``layer2``), DenseNets after transition2.
"""

from __future__ import annotations

import torchvision
from torch import nn

from .staged import PoolLinearHead, StagedNet

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
DENSENETS = ("densenet121", "densenet169", "densenet201")


def cifar_torchvision_resnet(name: str, num_classes: int = 10) -> StagedNet:
    net = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), net.bn1, net.relu)
    stages = {"stem": stem, "conv2_x": net.layer1, "conv3_x": net.layer2,
              "conv4_x": net.layer3, "conv5_x": net.layer4}
    head = PoolLinearHead(net.fc.in_features, num_classes)
    head.fc = net.fc
    stages["head"] = head
    return StagedNet(stages, cut="conv3_x", family="resnet")


def cifar_densenet(name: str, num_classes: int = 10) -> StagedNet:
    net = getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
    f = net.features
    c0 = f.conv0.out_channels
    stages = {"stem": nn.Sequential(nn.Conv2d(3, c0, 3, 1, 1, bias=False), f.norm0, f.relu0)}
    for i in (1, 2, 3):
        stages[f"denseblock{i}"] = getattr(f, f"denseblock{i}")
        stages[f"transition{i}"] = getattr(f, f"transition{i}")
    stages["denseblock4"] = f.denseblock4
    head = PoolLinearHead(net.classifier.in_features, num_classes,
                          pre=nn.Sequential(f.norm5, nn.ReLU(inplace=True)))
    head.fc = net.classifier
    stages["head"] = head
    return StagedNet(stages, cut="transition2", family="densenet")
