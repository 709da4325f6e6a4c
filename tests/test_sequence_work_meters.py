"""The work counter (matmul FLOPs + every elementwise op) against closed forms, and proof that the
sequence claims built on it can fail: a recurrence whose elementwise work grows with position fails the
decode-cost claim although FlopCounterMode reads it flat; an input-independent SSM reads as not selective."""

import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from effcheck.checks import evaluate  # noqa: E402
from effcheck.claims import catalogue  # noqa: E402
from effcheck.claims import sequence_work as W  # noqa: E402
from effcheck.meters.arithmetic import count_work, per_step_work_measurement  # noqa: E402
from effcheck.meters.flops import count_flops  # noqa: E402
from effcheck.records import Verdict  # noqa: E402

ARTICLE = Path("/work/shared/seed/000_623593cf68c6dda7.txt")


def test_count_work_closed_forms():
    a, b = torch.ones(3, 4), torch.ones(4, 5)
    w = count_work(lambda: (a @ b).exp().sum())
    assert w.matmul_flops == 2 * 3 * 4 * 5  # FlopCounterMode's formula
    assert w.elementwise == {"exp": 15, "sum": 15}
    assert w.total == 120 + 30 and w.calls_of("mm") == 1


def test_count_work_charges_fused_norms_by_their_decomposition():
    x = torch.ones(2, 8)
    w = count_work(torch.nn.functional.layer_norm, x, (8,))
    assert w.elementwise == {"native_layer_norm": 7 * 16}


def test_count_work_counts_a_training_step_backward_included():
    lin = torch.nn.Linear(4, 3, bias=False)
    x = torch.ones(2, 4)
    forward = count_work(lambda: lin(x).relu().sum(), inference=False)
    loss = lin(x).relu().sum()
    backward = count_work(loss.backward, inference=False)
    assert forward.matmul_flops == 2 * 2 * 4 * 3
    assert backward.matmul_flops == 2 * (2 * 2 * 4 * 3) - 2 * 2 * 4 * 3  # no input grad: weight grad only
    assert backward.elementwise_ops > 0


def test_count_work_refuses_an_op_without_a_rule():
    with pytest.raises(ValueError, match="no rule for aten.linalg_cholesky"):
        count_work(torch.linalg.cholesky, torch.eye(3))


def test_count_work_works_on_meta():
    w = count_work(lambda: (torch.ones(64, 64, device="meta") * 2).sum())
    assert w.elementwise == {"mul": 4096, "sum": 4096}


class GrowingRecurrence(torch.nn.Module):
    """A toy recurrent cell whose elementwise work grows with position (it re-weights its whole history each
    step) while its matmul work does not: what an RWKV that kept a history would look like."""

    def __init__(self, d=8):
        super().__init__()
        self.proj = torch.nn.Linear(d, d, bias=False)
        self.decay = 0.9

    def forward(self, x, history):
        h = self.proj(x)
        history = torch.cat([history, h[None]])
        return (history * self.decay).sum(0), history


def test_decode_cost_claim_fails_on_work_that_grows_with_context():
    cell, x = GrowingRecurrence(), torch.ones(8)
    works, flops = {}, {}
    for context in (4, 16, 64):
        history = torch.zeros(context, 8)
        works[context] = count_work(cell, x, history)
        flops[context] = count_flops(cell, x, history)
    assert len(set(flops.values())) == 1, "FlopCounterMode sees no growth: the old meter could not fail"
    result = evaluate(W.DECODE_COST_RWKV, per_step_work_measurement(works, "toy growing recurrence"))
    assert result.verdict is Verdict.FAIL
    assert result.measurement.value == works[64].total / works[4].total > 1


def test_decode_cost_claim_passes_on_a_constant_state_cell():
    cell = torch.nn.GRUCell(8, 8)
    works = {c: count_work(cell, torch.ones(1, 8), torch.zeros(1, 8)) for c in (4, 64)}
    assert evaluate(W.DECODE_COST_RWKV, per_step_work_measurement(works, "GRU")).verdict is Verdict.PASS


def test_selectivity_measure_reads_zero_for_a_time_invariant_control():
    pytest.importorskip("transformers")
    import copy

    from effcheck.models import sequence as M

    model = copy.deepcopy(M.hf_model(M.TINY_MAMBA, "cpu"))
    prompts = M.token_ids(8, seed=1), M.token_ids(8, seed=2)
    selective = [M.mamba_transitions(model, p) for p in prompts]
    assert selective[0][0].shape == (1, 128, 8, 16)
    assert not torch.equal(selective[0][0], selective[1][0])
    for layer in model.backbone.layers:
        layer.mixer.x_proj.weight.data.zero_()
    fixed = [M.mamba_transitions(model, p) for p in prompts]
    assert all(torch.equal(a, b) for a, b in zip(*fixed, strict=True))


@pytest.mark.skipif(not ARTICLE.is_file(), reason="the article text is not on this machine")
def test_sequence_article_quotes_are_verbatim():
    text = ARTICLE.read_text()
    for claim in catalogue().values():
        if claim.family == "sequence" and claim.source_kind == "article":
            for piece in claim.quote.split("\n...\n"):  # lines quoted with the lines between left out
                assert piece in text, f"{claim.id}: quote not in the article: {piece[:80]!r}"


def test_training_lengths_double():
    for lengths in W.TRAINING_LENGTHS.values():
        n1, n2, n4 = lengths
        assert n2 == 2 * n1 and n4 == 2 * n2
    assert re.search(r"64K to 128K", W.TRAINING_WORK_GROWTH["transformer"].statement)
