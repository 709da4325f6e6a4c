"""The article's §6 lab on the rwkv package: its four calls replayed as written, and its generation
(PIPELINE.generate with the lab's prompt and sampling arguments) with a hook per generated token.

The lab drives RWKV-4-Pile-169M with "20B_tokenizer.json" (GPT-NeoX's tokenizer, vocabulary 50277), a
file it never downloads. No hub is reachable here, so a stand-in file takes its place where a call needs
one: a word-level tokenizer written with the `tokenizers` library (what rwkv's PIPELINE loads any
non-World tokenizer file with), 50277 ids, the lab's prompt words first. Which tokens are sampled does not
change the model's work or memory per token, and the stand-in loads in milliseconds where the package's
own World tokenizer builds a trie for seconds.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.meters.heap import frozen_heap
from effcheck.models.rwkv import RWKV4_TINY_PILE, import_rwkv, write_rwkv4_checkpoint

LAB_PROMPT = "The key advantage of efficient architecture design is"
# the lab's PIPELINE_ARGS, less token_count (which the current PIPELINE_ARGS refuses)
LAB_ARGS = {"temperature": 1.0, "top_p": 0.7, "alpha_frequency": 0.25, "alpha_presence": 0.25}
LAB_TOKENIZER_FILE = "20B_tokenizer.json"
PILE_VOCAB = 50277  # GPT-NeoX 20B tokenizer, the vocabulary of the RWKV-4 Pile models


def write_stand_in_tokenizer(path: str | Path, vocab_size: int = PILE_VOCAB) -> Path:
    """A tokenizers-library JSON file standing in for the lab's 20B_tokenizer.json: word level, split on
    whitespace, `vocab_size` ids (every id a model of that vocabulary can sample decodes), the lab prompt's
    words first."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    path = Path(path)
    words = list(dict.fromkeys(LAB_PROMPT.split()))
    vocab = {w: i for i, w in enumerate(words)}
    vocab.update({f"<{i}>": i for i in range(len(vocab), vocab_size)})
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=words[0]))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


def lab_pipeline(model: Any, tokenizer_file: str | Path) -> Any:
    """rwkv.utils.PIPELINE(model, <tokenizer file>), as the lab builds it."""
    _, utils_mod = import_rwkv()
    return utils_mod.PIPELINE(model, str(tokenizer_file))


def shipped_tokenizer_files() -> list[str]:
    """Tokenizer and vocabulary files inside the installed rwkv package."""
    _, utils_mod = import_rwkv()
    root = Path(utils_mod.__file__).parent
    return sorted(p.name for p in root.iterdir() if p.suffix in (".json", ".txt")
                  and ("token" in p.name.lower() or "vocab" in p.name.lower()))


@dataclass(frozen=True)
class LabCall:
    code: str
    error: str | None  # None: the call ran


def _attempt(calls: list[LabCall], code: str, fn: Callable[[], Any]) -> Any:
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - whatever the package raises is the evidence
        calls.append(LabCall(code, f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"))
        return None
    calls.append(LabCall(code, None))
    return result


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    """contextlib.chdir, which Python 3.10 lacks."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def replay_lab_calls(workdir: str | Path, strategy: str) -> tuple[LabCall, ...]:
    """Run the lab's four rwkv calls as written, in a folder holding only what the lab downloads (its model,
    as rwkv-169m.pth: here a tiny RWKV-4 with the lab model's Pile vocabulary).

    Each call is judged on its own: where one fails, the next ones run on its current-API equivalent, and
    generate() runs on a pipeline built from a stand-in tokenizer file kept outside the lab's folder (the
    lab's own file is absent, which is the PIPELINE call's failure, not generate's)."""
    import warnings

    model_mod, utils_mod = import_rwkv()
    workdir = Path(workdir)
    lab_dir = workdir / "lab"
    write_rwkv4_checkpoint(lab_dir / "rwkv-169m", RWKV4_TINY_PILE)
    stand_in = write_stand_in_tokenizer(workdir / "stand-in" / LAB_TOKENIZER_FILE)
    calls: list[LabCall] = []
    with _working_directory(lab_dir), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated", category=FutureWarning)
        with frozen_heap():  # rwkv's loader runs gc.collect() per layer: cheap over a frozen heap (load_rwkv4)
            model = _attempt(calls, f'RWKV(model="rwkv-169m", strategy="{strategy}")',
                             lambda: model_mod.RWKV(model="rwkv-169m", strategy=strategy))
        args_code = ", ".join(f"{k}={v}" for k, v in LAB_ARGS.items())
        args = _attempt(calls, f"PIPELINE_ARGS({args_code}, token_count=0)",
                        lambda: utils_mod.PIPELINE_ARGS(**LAB_ARGS, token_count=0))
        args = args or utils_mod.PIPELINE_ARGS(**LAB_ARGS)
        if model is None:
            needs_model = (f'PIPELINE(model, "{LAB_TOKENIZER_FILE}")',
                           "pipeline.generate(prompt, token_count=50, args=args)")
            return (*calls, *(LabCall(code, "not run: the model did not load") for code in needs_model))
        pipeline = _attempt(calls, f'PIPELINE(model, "{LAB_TOKENIZER_FILE}")',
                            lambda: utils_mod.PIPELINE(model, LAB_TOKENIZER_FILE))
        pipeline = pipeline or lab_pipeline(model, stand_in)
        _attempt(calls, "pipeline.generate(prompt, token_count=50, args=args)",
                 lambda: pipeline.generate(LAB_PROMPT, token_count=50, args=args))
    return tuple(calls)


class _TickingModel:
    """Stands in for the model inside PIPELINE.generate: before each forward after the prompt's, the
    previous token is complete (sampled, penalised, decoded), so on_token(state) then tick()."""

    def __init__(self, model: Any, tick: Callable[[], None], on_token: Callable[[Any], None] | None) -> None:
        self._model = model
        self._tick = tick
        self._on_token = on_token
        self._prompt_done = False
        self.state: Any = None

    def complete(self) -> None:
        if self._on_token is not None:
            self._on_token(self.state)
        self._tick()

    def forward(self, tokens: list[int], state: Any) -> Any:
        if self._prompt_done:
            self.complete()
        self._prompt_done = True
        out, self.state = self._model.forward(tokens, state)
        return out, self.state


def generate_lab(pipeline: Any, token_count: int, tick: Callable[[], None] | None = None,
                 seed: int = 0, on_token: Callable[[Any], None] | None = None) -> str:
    """The lab's generation on the current API: pipeline.generate(LAB_PROMPT, token_count, args) with the
    lab's sampling arguments; the sampler draws from numpy's global generator, seeded here and restored.

    tick() is called once per generated token, when it is complete; on_token(state) just before, with the
    recurrent state the model holds at that moment."""
    import numpy as np

    _, utils_mod = import_rwkv()
    if len(pipeline.encode(LAB_PROMPT)) > utils_mod.PIPELINE_ARGS().chunk_len:
        raise ValueError("the lab prompt must fit one chunk, so only generated tokens tick")
    saved = np.random.get_state()
    model = pipeline.model
    np.random.seed(seed)
    ticking = _TickingModel(model, tick or (lambda: None), on_token) if (tick or on_token) else None
    if ticking is not None:
        pipeline.model = ticking
    try:
        args = utils_mod.PIPELINE_ARGS(**LAB_ARGS)
        text: str = pipeline.generate(LAB_PROMPT, token_count=token_count, args=args)
    finally:
        pipeline.model = model
        np.random.set_state(saved)
    if ticking is not None:
        ticking.complete()  # the last token is complete
    return text
