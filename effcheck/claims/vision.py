"""Vision claims: EfficientNet, MobileNet and ResNet (article §2.1, §2.2, §5)."""

from effcheck.records import Claim

EFFICIENTNET_B0_PARAMS_VS_RESNET50 = Claim(
    id="vision/efficientnet_b0/params_vs_resnet50",
    statement="EfficientNet-B0 has ~5x fewer parameters than ResNet-50 (5.3M vs 25M)",
    source="article §2.2 and §5.3; Tan & Le 2019 (EfficientNet) Table 2",
    metric="params_ratio resnet50/efficientnet_b0",
    unit="x",
    comparison=">=",
    expected=5.0,
    margin=0.10,
    better="higher",
)
