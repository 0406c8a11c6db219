"""`hybrid chat`: a Gradio chat page that shows which model wrote each answer, and why.

Each answer in the chat is followed by a collapsed "routing" entry that names the
final model, the route, the win rate, the verdict and the cost. The panel beside
the chat shows the full decision record of the latest answer as a table whose
rows carry a `data-field` attribute named after the record field.

The page works offline. Analytics, the version check, share links, server-side
rendering, the PWA manifest and the MCP server are off. The default theme's
fonts are served by the local Gradio server, so the page fetches nothing from
another host.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import gradio as gr

from hybrid.errors import ConfigurationError, HybridError, InputError, ProviderError, ReplayMissError
from hybrid.pipeline import HybridRouter
from hybrid.record import DecisionRecord, Mode

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "REPLAY_MISS_EXAMPLES_HINT",
    "REPLAY_MISS_MESSAGE",
    "build_chat_app",
    "example_prompts",
    "launch",
    "recorded_examples",
    "render_details",
]

logger = logging.getLogger("hybrid.chat_ui")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
EXAMPLES_PER_BENCHMARK = 3

REPLAY_MISS_MESSAGE = "Replay mode answers only recorded benchmark prompts."
REPLAY_MISS_EXAMPLES_HINT = "Pick one of the recorded prompts under the chat."
REPLAY_MISS_LIVE_HINT = "To ask any prompt, start the chat without --replay and with API keys set."

# The panel's rows, in display order, keyed by the `data-field` attribute that tests and scripts query.
DETAIL_LABELS = {
    "mode": "Mode",
    "final_model": "Final model",
    "route": "Route",
    "win_rate": "Win rate",
    "threshold": "Threshold",
    "verdict": "Verdict",
    "fallback_reason": "Fallback",
    "total_cost_usd": "Cost",
    "strong_only_cost_usd": "Strong-only cost",
    "latency_ms": "Latency",
    "stages": "Model calls",
}

MODE_DESCRIPTIONS = {
    Mode.HYBRID: "route, then let the judge check a weak answer",
    Mode.ROUTER: "route only",
    Mode.CASCADE: "climb the model tiers until the judge accepts",
    Mode.PARALLEL: "ask every candidate, the judge picks one",
    Mode.STRONG: "strong model only",
    Mode.WEAK: "weak model only",
}

EMPTY_DETAILS = '<p class="routing-empty">Send a message to see how it was routed.</p>'

PAGE_CSS = """
#routing-details table { width: 100%; border-collapse: collapse; }
#routing-details th { text-align: left; font-weight: 600; padding: 4px 12px 4px 0; white-space: nowrap; }
#routing-details td { padding: 4px 0; font-family: var(--font-mono); overflow-wrap: anywhere; }
#routing-details tr + tr { border-top: 1px solid var(--border-color-primary); }
#routing-details .routing-error { color: var(--error-text-color); }
#routing-details .routing-error-detail { color: var(--body-text-color-subdued); font-size: var(--text-sm); }
"""


class _PromptItem(Protocol):
    benchmark: str
    prompt: str


def build_chat_app(router: HybridRouter, *, examples: Sequence[str] = (), mode: str = "hybrid",
                   replay: bool = False) -> gr.Blocks:
    """Build the chat page over `router`, with `mode` selected when the page opens.

    Clicking one of `examples` copies it into the message box. With `replay`,
    the header states that only recorded prompts can be answered. Raises
    InputError for an unknown `mode`.
    """
    modes = [item.value for item in Mode]
    if mode not in modes:
        raise InputError(f"unknown mode {mode!r}; use one of {modes}")

    async def respond(message: str, chosen_mode: str, threshold: float | None, history: list[dict[str, Any]],
                      conversation: list[dict[str, str]]) -> tuple[Any, ...]:
        text = (message or "").strip()
        if not text:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()

        history = [*history, {"role": "user", "content": _verbatim(text)}]
        request = [*conversation, {"role": "user", "content": text}]
        try:
            answer = await router.aask(request, mode=chosen_mode, threshold=threshold)
        except HybridError as error:
            logger.warning("chat request failed: %s: %s", type(error).__name__, error)
            summary, detail = _describe_error(error, has_examples=bool(examples))
            history.append({"role": "assistant", "content": _error_markdown(summary, detail)})
            return "", history, conversation, _error_html(summary, detail)
        except Exception as error:
            # The page must stay usable, so an unexpected failure is logged with its traceback
            # and the page shows only the exception type and message.
            logger.exception("chat request failed with an unexpected error")
            summary = "The request failed with an unexpected error. The server log has the traceback."
            detail = f"{type(error).__name__}: {error}"
            history.append({"role": "assistant", "content": _error_markdown(summary, detail)})
            return "", history, conversation, _error_html(summary, detail)

        record = answer.record
        history.append({"role": "assistant", "content": _verbatim(answer.text)})
        history.append({"role": "assistant", "content": _details_markdown(record),
                        "metadata": {"title": _summary(record), "status": "done"}})
        conversation = [*request, {"role": "assistant", "content": answer.text}]
        return "", history, conversation, render_details(record)

    def clear() -> tuple[Any, ...]:
        return "", [], [], EMPTY_DETAILS

    with gr.Blocks(title="hybrid chat", analytics_enabled=False) as app:
        gr.Markdown(_header(router, replay=replay), elem_id="chat-header")
        conversation_state = gr.State([])

        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                # No share button: it posts the conversation to a Hugging Face Space.
                chatbot = gr.Chatbot(label="Conversation", elem_id="chat-history", height=520,
                                     buttons=["copy", "copy_all"], feedback_options=None,
                                     group_consecutive_messages=False)
                message_box = gr.Textbox(label="Message", elem_id="chat-input", lines=1, max_lines=8,
                                         placeholder="Ask something, then press Enter (Shift+Enter for a new line)")
                with gr.Row():
                    send_button = gr.Button("Send", variant="primary", elem_id="chat-send")
                    clear_button = gr.Button("Clear", elem_id="chat-clear")
                if examples:
                    label = "Recorded prompts (replay mode answers only these)" if replay else "Examples"
                    gr.Examples(examples=[[prompt] for prompt in examples], inputs=[message_box], label=label,
                                elem_id="chat-examples")

            with gr.Column(scale=2):
                mode_box = gr.Dropdown(choices=modes, value=mode, label="Mode", elem_id="chat-mode",
                                       info=_mode_info(modes))
                threshold_box = gr.Number(value=None, label="Threshold", elem_id="chat-threshold",
                                          minimum=0, maximum=1, step=0.01,
                                          info=_threshold_info(router))
                gr.Markdown("### Routing details of the last answer")
                details = gr.HTML(EMPTY_DETAILS, elem_id="routing-details")

        inputs = [message_box, mode_box, threshold_box, chatbot, conversation_state]
        outputs = [message_box, chatbot, conversation_state, details]
        message_box.submit(respond, inputs, outputs)
        send_button.click(respond, inputs, outputs)
        clear_button.click(clear, None, outputs)
        chatbot.clear(clear, None, outputs)

    return app


def launch(router: HybridRouter, *, examples: Sequence[str] = (), mode: str = "hybrid", replay: bool = False,
           host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, block: bool = True) -> gr.Blocks:
    """Serve the chat page on `host`:`port` and return the running app.

    With `block`, this returns only after Ctrl+C; otherwise the server runs in
    a background thread until `app.close()`. No share link is created.
    """
    app = build_chat_app(router, examples=examples, mode=mode, replay=replay)
    logger.info("starting the chat page on http://%s:%d (mode %s, replay %s)", host, port, mode, replay)
    app.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=not block,
        show_error=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        quiet=True,
        css=PAGE_CSS,
    )
    return app


def example_prompts(items: Iterable[_PromptItem], per_benchmark: int = EXAMPLES_PER_BENCHMARK) -> list[str]:
    """Return the first `per_benchmark` prompts of each benchmark, benchmarks in order of first appearance."""
    chosen: dict[str, list[str]] = {}
    for item in items:
        prompts = chosen.setdefault(item.benchmark, [])
        if len(prompts) < per_benchmark:
            prompts.append(item.prompt)
    return [prompt for prompts in chosen.values() for prompt in prompts]


def recorded_examples(router: HybridRouter, per_benchmark: int = EXAMPLES_PER_BENCHMARK) -> list[str]:
    """Return example prompts from the recording that the router's strong replay backend serves.

    Both replay backends keep their recording in a `recording` attribute with
    an `items` sequence. A live router has none, so the result is empty.
    """
    recording = getattr(router.strong, "recording", None)
    if recording is None:
        return []
    return example_prompts(recording.items, per_benchmark)


def render_details(record: DecisionRecord) -> str:
    """Render a decision record as the HTML table of the details panel."""
    values = _detail_values(record)
    rows = "".join(
        f'<tr data-field="{field}"><th>{html.escape(DETAIL_LABELS[field])}</th><td>{html.escape(values[field])}</td></tr>'
        for field in DETAIL_LABELS
    )
    return f'<table class="routing-table">{rows}</table>'


def _verbatim(text: str) -> dict[str, str]:
    """Wrap chat text so that Gradio shows it as given.

    Gradio 6.31 passes plain string messages through `inspect.cleandoc`, which
    strips the common indentation of every line after the first and so breaks
    indented code in answers. A text part is passed through unchanged.
    """
    return {"type": "text", "text": text}


def _detail_values(record: DecisionRecord) -> dict[str, str]:
    """Format each panel field of `record` as display text."""
    calls = " → ".join(
        f"{stage.stage.value} {stage.model}" + (" (failed)" if stage.error else "") for stage in record.stages
    )
    return {
        "mode": record.mode.value,
        "final_model": record.final_model or "none",
        "route": record.route.value if record.route else f"none ({record.mode.value} mode does not route)",
        "win_rate": _number(record.win_rate),
        "threshold": _number(record.threshold),
        "verdict": record.verdict.value if record.verdict else "not judged",
        "fallback_reason": record.fallback_reason.value if record.fallback_reason else "no",
        "total_cost_usd": _usd(record.total_cost_usd),
        "strong_only_cost_usd": _usd(record.strong_only_cost_usd),
        "latency_ms": f"{record.latency_ms:.0f} ms",
        "stages": calls or "none",
    }


def _usd(value: float | None) -> str:
    """Format a cost in US dollars to the micro-dollar, or "unknown" when a price was missing."""
    return "unknown" if value is None else f"${value:.6f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _summary(record: DecisionRecord) -> str:
    """One line for the collapsed routing entry under an answer in the chat."""
    values = _detail_values(record)
    parts = [values["final_model"]]
    if record.route is not None:
        parts.append(f"route {values['route']} (win rate {values['win_rate']})")
    if record.verdict is not None:
        parts.append(f"verdict {values['verdict']}")
    if record.fallback_reason is not None:
        parts.append(f"fallback: {values['fallback_reason']}")
    parts.append(f"cost {values['total_cost_usd']}")
    return "Routing: " + " · ".join(parts)


def _details_markdown(record: DecisionRecord) -> str:
    values = _detail_values(record)
    rows = "\n".join(f"| {DETAIL_LABELS[field]} | {values[field].replace('|', '/')} |" for field in DETAIL_LABELS)
    return "| Field | Value |\n| --- | --- |\n" + rows


def _describe_error(error: HybridError, *, has_examples: bool) -> tuple[str, str | None]:
    """Return the sentence the page shows for a routing error, and the error text as detail when it adds facts."""
    if isinstance(error, ReplayMissError):
        hints = [REPLAY_MISS_MESSAGE, *([REPLAY_MISS_EXAMPLES_HINT] if has_examples else []), REPLAY_MISS_LIVE_HINT]
        return " ".join(hints), str(error)
    if isinstance(error, ConfigurationError):
        fix = f" (setting {error.setting})" if error.setting else ""
        return f"The router is not configured for this request{fix}: {error}", None
    if isinstance(error, ProviderError):
        return f"The {error.stage} model {error.model} failed after {error.attempts} attempt(s): {error}", None
    return f"The request failed: {error}", None


def _error_markdown(summary: str, detail: str | None) -> str:
    text = f"**No answer.** {summary}"
    return f"{text}\n\n{detail}" if detail else text


def _error_html(summary: str, detail: str | None) -> str:
    block = f'<p class="routing-error" data-field="error">{html.escape(summary)}</p>'
    if detail:
        block += f'<p class="routing-error-detail" data-field="error_detail">{html.escape(detail)}</p>'
    return block


def _header(router: HybridRouter, *, replay: bool) -> str:
    source = ("Replay mode: the models' answers and the judge's verdicts are recorded benchmark results, "
              "so only the recorded prompts can be answered." if replay else "Live mode: every answer calls the providers.")
    return (
        "# hybrid chat\n"
        f"Strong model `{router.strong.model}` · weak model `{router.weak.model}` · judge `{router.judge.model}`. "
        f"{source}"
    )


def _mode_info(modes: Sequence[str]) -> str:
    return "; ".join(f"{mode}: {MODE_DESCRIPTIONS[Mode(mode)]}" for mode in modes if Mode(mode) in MODE_DESCRIPTIONS)


def _threshold_info(router: HybridRouter) -> str:
    configured = router.settings.threshold
    default = configured if configured is not None else router.predictor.default_threshold
    return f"Route to the strong model when the win rate reaches this (0-1). Leave empty for the configured {default:.4f}."
