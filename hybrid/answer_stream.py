"""AnswerStream: an answer delivered as text pieces, with its decision record at the end.

`HybridRouter.astream` returns one. A strong-direct answer (strong mode, or the
router chose the strong model in router or hybrid mode) streams from the
provider as it is generated. Every other answer must pass the judge or a
selection first, so it is complete before the first piece and is then sent in
pieces of the full text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from hybrid.record import DecisionRecord, Mode, Route

__all__ = ["AnswerStream", "StreamHeader", "iterate_pieces", "split_text"]

# Characters per piece when a finished answer is sent as a stream.
PIECE_CHARS = 64


@dataclass(frozen=True)
class StreamHeader:
    """The routing facts of a streamed request, known before its first piece."""

    request_id: str
    mode: Mode
    model: str
    route: Route | None
    win_rate: float | None
    threshold: float | None


class AnswerStream:
    """An async iterator over an answer's text pieces.

    `live` is True when the pieces arrive from the provider while it writes
    them. `record` is the decision record, set once the iteration has ended,
    or at once when the answer was complete before streaming. `start` waits
    for the first piece, so a failed provider call raises there, before a
    caller commits to a streamed reply.
    """

    def __init__(self, header: StreamHeader, pieces: AsyncIterator[str], *, live: bool,
                 record: DecisionRecord | None = None,
                 finished: Callable[[], DecisionRecord | None] | None = None) -> None:
        self.header = header
        self.live = live
        self._pieces = pieces
        self._record = record
        self._finished = finished
        self._first: list[str] = []
        self._started = False

    @property
    def record(self) -> DecisionRecord | None:
        if self._record is None and self._finished is not None:
            self._record = self._finished()
        return self._record

    async def start(self) -> None:
        """Wait for the first piece; a provider failure raises here."""
        if self._started:
            return
        self._started = True
        try:
            self._first.append(await anext(self._pieces))
        except StopAsyncIteration:
            pass

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        await self.start()
        for piece in self._first:
            yield piece
        async for piece in self._pieces:
            yield piece

    async def aclose(self) -> None:
        """Stop the stream early and release the provider connection."""
        close: Callable[[], Awaitable[None]] | None = getattr(self._pieces, "aclose", None)
        if close is not None:
            await close()


def split_text(text: str, size: int = PIECE_CHARS) -> list[str]:
    """Cut `text` into pieces of `size` characters; an empty text gives no piece."""
    return [text[start:start + size] for start in range(0, len(text), size)]


async def iterate_pieces(pieces: list[str]) -> AsyncIterator[str]:
    """Yield the pieces of an answer that was complete before streaming began."""
    for piece in pieces:
        yield piece
