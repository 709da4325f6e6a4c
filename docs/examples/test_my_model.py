# tests/perf/test_my_model.py: effcheck claims about your own model, in your own repository
import pytest
import torch
from torch import nn

from effcheck import Claim, Measurement
from effcheck.budgets import latency_ms
from effcheck.meters.latency import ab_ratio
from effcheck.meters.params import count_params

# small models gain nothing from torch's CPU threads, and on a shared CPU spinning threads swamp the timing
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def mlp(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


@pytest.fixture(scope="module")
def student(device):  # `device` is effcheck's: cpu, or cuda:N (--effcheck-device, default auto)
    return mlp(256).to(device).eval()


@pytest.fixture(scope="module")
def teacher(device):
    return mlp(2048).to(device).eval()


@pytest.fixture(scope="module")
def batch(device):
    return torch.randn(256, 64, device=device)


PARAMS = Claim(id="mymodel/student/params", statement="the student has 19,210 parameters",
               source="design doc §2", metric="parameters", unit="params", comparison="==", expected=19210)
SPEEDUP = Claim(id="mymodel/student/speedup_vs_teacher", statement="the student is at least 3x faster",
                source="design doc §3", metric="time ratio teacher/student", unit="x", comparison=">=",
                expected=3.0, better="higher", noisy=True)
BUDGET = Claim(id="mymodel/student/p50_on_h200", statement="p50 latency of a 256 batch at most 2 ms on our H200",
               source="serving SLO", metric="p50 latency", unit="ms", comparison="<=", expected=2.0,
               better="lower", noisy=True, applies_to="NVIDIA H200")


@pytest.mark.claim(PARAMS)
def test_student_params(effcheck, student):
    effcheck.check(Measurement(count_params(student), "params", "exact parameter count"))


@pytest.mark.claim(SPEEDUP)
@pytest.mark.timed
def test_student_speedup(effcheck, student, teacher, batch, device):
    with torch.inference_mode():
        effcheck.check(ab_ratio(lambda: teacher(batch), lambda: student(batch), device=device,
                                label_a="teacher", label_b="student"))


@pytest.mark.claim(BUDGET)
@pytest.mark.timed
def test_student_latency_budget(effcheck, student, batch, device):
    with torch.inference_mode():
        effcheck.check(latency_ms(lambda: student(batch), device=device))
