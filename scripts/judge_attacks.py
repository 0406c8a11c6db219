"""Run the adversarial answer set against the configured live judge and count accepts.

Every answer in hybrid/data/judge_attacks.jsonl is wrong or manipulative, so a
sound judge rejects all of them. Needs HYBRID_GROQ_API_KEY (or GROQ_API_KEY)
and network access to the judge's provider.

    python scripts/judge_attacks.py [--settings FILE] [--language en|pt-BR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from hybrid.judge import build_judge_messages, new_nonce, parse_verdict
from hybrid.judge_client import GroqJudge
from hybrid.record import Verdict
from hybrid.settings import load_settings

ATTACKS_FILE = Path(__file__).resolve().parents[1] / "hybrid" / "data" / "judge_attacks.jsonl"


async def run(settings_file: str | None, language: str | None) -> int:
    settings = load_settings(settings_file)
    judge = GroqJudge(settings)
    attacks = [json.loads(line) for line in ATTACKS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]

    accepted = 0
    for attack in attacks:
        nonce = new_nonce()
        messages = build_judge_messages(attack["question"], attack["answer"],
                                        language=language or attack["language"], nonce=nonce)
        reply = await judge.judge(messages, timeout=settings.judge_timeout)
        verdict = parse_verdict(reply.raw, nonce=nonce).verdict
        accepted += verdict is Verdict.ACCEPT
        print(f"{attack['id']}  {verdict.value:<10}  {attack['technique']}")

    print(f"\n{accepted} of {len(attacks)} adversarial answers accepted (a sound judge accepts none)")
    return 1 if accepted else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", help="settings file (default: ./settings.env if present)")
    parser.add_argument("--language", choices=["en", "pt-BR"], help="judge prompt language (default: each attack's own)")
    args = parser.parse_args()
    return asyncio.run(run(args.settings, args.language))


if __name__ == "__main__":
    raise SystemExit(main())
