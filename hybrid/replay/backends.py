"""Replay backends: the recorded answers of real models, served through the pipeline's protocols.

The weak and strong backends return the recorded Mixtral and GPT-4 answers of
the prompt. The replay judge returns the verdict that the recorded quality label
implies, in the same JSON format a live judge must use, so the real verdict
parser runs. Token counts come from LiteLLM's tokenizer for the configured
model, so costs are priced as if the configured models had written the
recorded text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from hybrid.backends import Completion, JudgeReply, Message
from hybrid.errors import ReplayMissError
from hybrid.messages import last_user_text, text_of
from hybrid.replay.data import RecordedItem, Recording

__all__ = ["JudgePolicy", "ReplayCompletion", "ReplayJudge", "count_tokens"]

# MT-Bench answers are accepted when GPT-4 graded them at least this high (1-10 scale).
DEFAULT_MT_BENCH_CUT = 8.0

_QUESTION = re.compile(r"<question-([0-9a-f]+)>\n(.*?)\n</question-\1>", re.DOTALL)
_ANSWER = re.compile(r"<answer-([0-9a-f]+)>\n(.*?)\n</answer-\1>", re.DOTALL)


def count_tokens(model: str, text: str) -> int:
    """Count tokens with LiteLLM's bundled tokenizers; no network call."""
    import litellm

    return int(litellm.token_counter(model=model, text=text))


class ReplayCompletion:
    """A CompletionBackend that returns one side's recorded answer."""

    def __init__(self, recording: Recording, *, side: str, model: str) -> None:
        if side not in ("strong", "weak"):
            raise ValueError(f"side must be 'strong' or 'weak', not {side!r}")
        self.recording = recording
        self.side = side
        self.model = model

    async def complete(self, messages: list[Message], *, timeout: float) -> Completion:
        prompt = last_user_text(messages)
        item = self.recording.lookup(prompt)
        answer = item.strong_answer if self.side == "strong" else item.weak_answer
        if answer is None:
            raise ReplayMissError(f"the recording of {item.benchmark} item {item.item_id} holds no {self.side} answer text")

        prompt_text = "\n".join(text_of(message.get("content")) for message in messages)
        return Completion(
            text=answer,
            model=self.model,
            prompt_tokens=count_tokens(self.model, prompt_text),
            completion_tokens=count_tokens(self.model, answer),
        )


@dataclass(frozen=True)
class JudgePolicy:
    """The rules by which the replay judge turns recorded labels into verdicts.

    `false_accept` and `false_reject` flip that share of verdicts, chosen by a
    hash of (seed, item id), to show how judge errors move quality and cost.
    """

    mt_bench_cut: float = DEFAULT_MT_BENCH_CUT
    false_accept: float = 0.0
    false_reject: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("false_accept", "false_reject"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"--{name.replace('_', '-')} {value!r} is outside [0, 1]; pass a rate such as 0.1")
        if not 1.0 <= self.mt_bench_cut <= 10.0:
            raise ValueError(f"--mt-bench-cut {self.mt_bench_cut!r} is outside 1-10; pass a GPT-4 score such as 8")


class ReplayJudge:
    """A JudgeBackend whose verdict is the recorded quality label of the judged answer."""

    def __init__(self, recording: Recording, *, model: str, policy: JudgePolicy | None = None) -> None:
        self.recording = recording
        self.model = model
        self.policy = policy or JudgePolicy()

    async def judge(self, messages: list[Message], *, timeout: float) -> JudgeReply:
        prompt_text = "\n".join(text_of(message.get("content")) for message in messages)
        question = _QUESTION.search(prompt_text)
        answer = _ANSWER.search(prompt_text)
        if question is None or answer is None:
            raise ReplayMissError("the replay judge received a prompt without hybrid's question and answer tags")

        item = self.recording.lookup(question.group(2))
        good = self._is_good(item, answer.group(2))
        good = self._perturb(item, good)
        verdict = "accept" if good else "reject"
        reason = f"recorded label of {item.benchmark} item {item.item_id}"
        raw = json.dumps({"verdict": verdict, "reason": reason, "nonce": question.group(1)})
        return JudgeReply(
            raw=raw,
            model=self.model,
            prompt_tokens=count_tokens(self.model, prompt_text),
            completion_tokens=count_tokens(self.model, raw),
        )

    def _is_good(self, item: RecordedItem, answer: str) -> bool:
        side = "strong" if answer.strip() == (item.strong_answer or "").strip() else "weak"
        correct = item.strong_correct if side == "strong" else item.weak_correct
        if correct is not None:
            return correct
        score = item.strong_score if side == "strong" else item.weak_score
        if score is None:
            raise ReplayMissError(f"{item.benchmark} item {item.item_id} has no label for the {side} answer")
        return score >= self.policy.mt_bench_cut

    def _perturb(self, item: RecordedItem, good: bool) -> bool:
        rate = self.policy.false_reject if good else self.policy.false_accept
        if rate <= 0.0:
            return good
        digest = hashlib.sha256(f"{self.policy.seed}:{item.benchmark}:{item.item_id}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        return (not good) if draw < rate else good
