"""The chat page over the replay router, checked in Debian's Chromium driven by Playwright.

Expected answers, labels and prompts are read from the raw recording files here,
and win rates come from the predictor that the router uses.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import litellm
import pytest
from playwright.sync_api import Locator, Route, expect, sync_playwright

from hybrid.chat_ui import REPLAY_MISS_EXAMPLES_HINT, REPLAY_MISS_MESSAGE, build_chat_app, launch, recorded_examples
from hybrid.cli import main
from hybrid.errors import InputError
from hybrid.pipeline import HybridRouter
from hybrid.replay.router import load_recording, replay_router
from hybrid.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "routellm-evals"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
UNRECORDED_PROMPT = "What is the meaning of life?"
# Set to 1 to also copy the screenshot to docs/chat-ui.png for the docs.
SAVE_SCREENSHOT_ENV = "HYBRID_SAVE_SCREENSHOT"
# Milliseconds that Playwright waits for one answer, a generous bound for a replayed answer.
ANSWER_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"recorded data not found at {DATA}")


def gsm8k_rows() -> list[dict[str, str]]:
    with (DATA / "gsm8k" / "gsm8k_responses.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def mt_bench_first_turns() -> list[str]:
    with (DATA / "mt_bench" / "question.jsonl").open() as handle:
        return [json.loads(line)["turns"][0] for line in handle if line.strip()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def usd(text: str) -> float:
    assert text.startswith("$"), text
    return float(text[1:])


def call_cost(model: str, priced_as: str, prompt: str, answer: str) -> float:
    """Price a call whose tokens LiteLLM counts for `model` at the per-token price of `priced_as`."""
    prompt_tokens = litellm.token_counter(model=model, text=prompt)
    completion_tokens = litellm.token_counter(model=model, text=answer)
    prompt_cost, completion_cost = litellm.cost_per_token(model=priced_as, prompt_tokens=prompt_tokens,
                                                          completion_tokens=completion_tokens)
    return prompt_cost + completion_cost


@pytest.fixture(scope="module")
def router(shipped_predictor: object) -> HybridRouter:
    return replay_router(load_settings(), load_recording(DATA), predictor=shipped_predictor)  # type: ignore[arg-type]


def test_recorded_examples_per_benchmark(router: HybridRouter) -> None:
    expected = [row["prompt"] for row in gsm8k_rows()[:3]] + mt_bench_first_turns()[:3]

    assert recorded_examples(router) == expected


def test_recorded_examples_live_router_empty(router: HybridRouter) -> None:
    live = HybridRouter.from_settings(load_settings(), predictor=router.predictor)

    assert recorded_examples(live) == []


def test_build_rejects_unknown_mode(router: HybridRouter) -> None:
    with pytest.raises(InputError, match="turbo"):
        build_chat_app(router, mode="turbo")


def test_cli_chat_unknown_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    status = main(["chat", "--replay", str(DATA), "--mode", "turbo"])

    assert status == 1
    assert "unknown mode 'turbo'" in capsys.readouterr().err


def test_import_opens_no_socket() -> None:
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise SystemExit('socket opened at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import hybrid.chat_ui\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# Everything below drives a real browser.


def pick_prompts(router: HybridRouter, rows: list[dict[str, str]]) -> tuple[float, dict[str, str], dict[str, str]]:
    """Choose a threshold and two GSM8K rows that route weak under it: one whose weak answer is correct, one not.

    Rows whose two answers are equal are skipped, because the replay judge could
    not tell which model wrote them.
    """
    candidates = [
        row for row in rows[:200]
        if row["prompt"] == row["prompt"].strip() and "\n" not in row["prompt"]
        and row[f"{WEAK}_response"].strip() and row[f"{WEAK}_response"].strip() != row[f"{STRONG}_response"].strip()
    ]
    win_rates = router.predictor.win_rates([row["prompt"] for row in candidates])
    threshold = round(float(sorted(win_rates)[len(win_rates) // 2]), 2)

    weak_routed = [row for row, rate in zip(candidates, win_rates, strict=True) if rate < threshold]
    accepted = next(row for row in weak_routed if row[WEAK] == "True")
    rejected = next(row for row in weak_routed if row[WEAK] == "False")
    return threshold, accepted, rejected


@pytest.fixture
def chat_url(router: HybridRouter) -> Iterator[str]:
    port = free_port()
    app = launch(router, examples=recorded_examples(router), replay=True, host="127.0.0.1", port=port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} is missing; scripts/install-browser.sh installs it")
def test_chat_page_shows_routing(router: HybridRouter, chat_url: str, tmp_path: Path) -> None:
    settings = router.settings
    rows = gsm8k_rows()
    threshold, accepted, rejected = pick_prompts(router, rows)
    strong_row = rows[210]
    examples = recorded_examples(router)
    outside_requests: list[str] = []

    def keep_local(route: Route) -> None:
        # The page must work offline: any request to another host is recorded and never sent.
        if route.request.url.startswith(chat_url):
            route.continue_()
        else:
            outside_requests.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", keep_local)
            page.goto(chat_url)

            message_box = page.locator("#chat-input textarea")
            bot_messages = page.locator('#chat-history [data-testid="bot"]')
            details = page.locator("#routing-details")

            def field(name: str) -> Locator:
                return details.locator(f'[data-field="{name}"] td')

            def send(prompt: str, bot_count: int) -> None:
                message_box.fill(prompt)
                page.locator("#chat-send").click()
                expect(bot_messages).to_have_count(bot_count, timeout=ANSWER_TIMEOUT_MS)

            # Clicking an example fills the message box with that recorded prompt.
            example_buttons = page.locator("#chat-examples button.gallery-item")
            expect(example_buttons).to_have_count(len(examples))
            example_buttons.nth(3).click()
            expect(message_box).to_have_value(examples[3])

            # Hybrid mode, weak route, the judge accepts the weak answer.
            page.locator("#chat-threshold input").fill(str(threshold))
            send(accepted["prompt"], 2)
            accepted_rate = float(router.predictor.win_rates([accepted["prompt"]])[0])

            expect(bot_messages.nth(0)).to_have_attribute("aria-label", "bot's message: " + accepted[f"{WEAK}_response"])
            expect(bot_messages.nth(1)).to_contain_text(f"Routing: {settings.weak_model}")
            expect(field("mode")).to_have_text("hybrid")
            expect(field("final_model")).to_have_text(settings.weak_model)
            expect(field("route")).to_have_text("weak")
            expect(field("win_rate")).to_have_text(f"{accepted_rate:.4f}")
            expect(field("threshold")).to_have_text(f"{threshold:.4f}")
            expect(field("verdict")).to_have_text("accept")
            expect(field("fallback_reason")).to_have_text("no")
            strong_only = call_cost(settings.weak_model, settings.strong_model, accepted["prompt"], accepted[f"{WEAK}_response"])
            assert usd(field("strong_only_cost_usd").inner_text()) == pytest.approx(strong_only, abs=1e-6)
            assert usd(field("total_cost_usd").inner_text()) < strong_only

            # Clear empties the chat and the details.
            page.locator("#chat-clear").click()
            expect(bot_messages).to_have_count(0)
            expect(details).to_contain_text("Send a message")

            # Hybrid mode, weak route, the judge rejects, the strong model answers as the fallback.
            send(rejected["prompt"], 2)
            rejected_rate = float(router.predictor.win_rates([rejected["prompt"]])[0])

            expect(bot_messages.nth(0)).to_have_attribute("aria-label", "bot's message: " + rejected[f"{STRONG}_response"])
            expect(field("final_model")).to_have_text(settings.strong_model)
            expect(field("route")).to_have_text("weak")
            expect(field("win_rate")).to_have_text(f"{rejected_rate:.4f}")
            expect(field("verdict")).to_have_text("reject")
            expect(field("fallback_reason")).to_have_text("judge_rejected")
            strong_only = call_cost(settings.strong_model, settings.strong_model, rejected["prompt"], rejected[f"{STRONG}_response"])
            assert usd(field("strong_only_cost_usd").inner_text()) == pytest.approx(strong_only, abs=1e-6)
            assert usd(field("total_cost_usd").inner_text()) > strong_only
            screenshot = tmp_path / "chat-ui.png"
            page.screenshot(path=str(screenshot), full_page=True)

            # Strong mode neither routes nor judges. The earlier turn stays in the chat.
            page.locator("#chat-mode input").click()
            page.get_by_role("option", name="strong", exact=True).click()
            send(strong_row["prompt"], 4)

            expect(bot_messages.nth(2)).to_have_attribute("aria-label", "bot's message: " + strong_row[f"{STRONG}_response"])
            expect(field("mode")).to_have_text("strong")
            expect(field("final_model")).to_have_text(settings.strong_model)
            expect(field("route")).to_have_text("none (strong mode does not route)")
            expect(field("verdict")).to_have_text("not judged")

            # A prompt outside the recording gets the replay miss message, not an error page.
            send(UNRECORDED_PROMPT, 5)

            expect(bot_messages.nth(4)).to_contain_text("No answer.")
            expect(bot_messages.nth(4)).to_contain_text(REPLAY_MISS_MESSAGE)
            expect(details.locator('[data-field="error"]')).to_contain_text(REPLAY_MISS_MESSAGE)
            expect(details.locator('[data-field="error"]')).to_contain_text(REPLAY_MISS_EXAMPLES_HINT)
            expect(details.locator('[data-field="error_detail"]')).to_contain_text(UNRECORDED_PROMPT)

            page.screenshot(path=str(tmp_path / "chat-ui-replay-miss.png"), full_page=True)
        finally:
            browser.close()

    assert outside_requests == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get(SAVE_SCREENSHOT_ENV) == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(screenshot, REPO / "docs" / "chat-ui.png")
