"""Vision claims (article §2.1, §2.2, §5): timm architectures with random weights."""

import pytest

from effcheck.claims import vision as claims
from effcheck.meters.params import count_params, ratio_measurement
from effcheck.models.vision import timm_model


@pytest.mark.claim(claims.EFFICIENTNET_B0_PARAMS_VS_RESNET50)
def test_params_b0_vs_resnet50(effcheck):
    b0 = count_params(timm_model("efficientnet_b0", "meta"))
    r50 = count_params(timm_model("resnet50", "meta"))
    effcheck.check(ratio_measurement(r50, b0, method="exact parameter counts on meta",
                                     resnet50=r50, efficientnet_b0=b0))
