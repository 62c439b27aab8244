"""Each platform's sending limits, kept a little below the platform's own so a
429 is the exception, not the rule.

Telegram (Bot API FAQ): about one message a second into one chat (short bursts
are tolerated), 20 a minute into one group, about 30 a second overall.
VK: 20 API calls a second for a community token; VK publishes no per-chat
limit, so a chat is only held to the overall one.

A limit is "at most `count` messages in any `window` seconds". A message is
counted from the moment it is handed over and, once the platform has answered,
from the moment of the answer: the platform saw it somewhere in between, so
counting from the later moment can never let two messages look closer together
to the platform than to us — a busy process or a slow network cannot cause a 429.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

Limit = tuple[int, float]  # (count, window in seconds)

QUIET_LANES_KEPT = 1000  # per-chat history is pruned past this many chats


@dataclass
class Limits:
    private: Limit  # one person's chat
    group: Limit  # a group chat (the staff group)
    overall: Limit  # everything the bot sends on this platform


# The windows carry ~5 % headroom: our clock starts before the request travels,
# the platform's when it arrives.
PLATFORM_LIMITS: dict[str, Limits] = {
    "telegram": Limits(private=(3, 3.15), group=(19, 60.0), overall=(30, 1.05)),
    "vk": Limits(private=(20, 1.05), group=(20, 1.05), overall=(20, 1.05)),
}
UNLIMITED = Limits(private=(10_000, 1.0), group=(10_000, 1.0), overall=(10_000, 1.0))


def is_group(channel: str, chat_id: str) -> bool:
    """Telegram groups have negative ids; VK group chats start at 2e9."""
    if channel == "telegram":
        return chat_id.startswith("-")
    if channel == "vk":
        return chat_id.isdigit() and int(chat_id) >= 2_000_000_000
    return False


@dataclass
class Pace:
    limits: dict[str, Limits] = field(
        default_factory=lambda: {
            k: Limits(v.private, v.group, v.overall) for k, v in PLATFORM_LIMITS.items()
        }
    )
    sent: dict[str, deque[float]] = field(default_factory=dict)

    def of(self, channel: str) -> Limits:
        return self.limits.get(channel, UNLIMITED)

    @staticmethod
    def _wait(times: deque[float] | None, limit: Limit, now: float) -> float:
        if not times:
            return 0.0
        count, window = limit
        while times and now - times[0] >= window:
            times.popleft()
        if len(times) < count:
            return 0.0
        # Answered times can be out of order: wait for the earliest of the last `count`.
        return max(0.0, window - (now - sorted(times)[len(times) - count]))

    def lane_wait(self, channel: str, chat_id: str, now: float) -> float:
        """Seconds until this chat may get its next message (0 = now)."""
        limits = self.of(channel)
        limit = limits.group if is_group(channel, chat_id) else limits.private
        return self._wait(self.sent.get(f"{channel}:{chat_id}"), limit, now)

    def overall_wait(self, channel: str, now: float) -> float:
        return self._wait(self.sent.get(channel), self.of(channel).overall, now)

    def note(self, channel: str, chat_id: str, now: float) -> None:
        self.sent.setdefault(f"{channel}:{chat_id}", deque()).append(now)
        self.sent.setdefault(channel, deque()).append(now)

    def answered(self, channel: str, chat_id: str, started: float, now: float) -> None:
        """The platform answered the message handed over at `started`: count it from now."""
        for key in (f"{channel}:{chat_id}", channel):
            times = self.sent.get(key)
            if not times:
                continue
            for i in range(len(times) - 1, -1, -1):
                if times[i] == started:
                    times[i] = now
                    break
        if len(self.sent) > QUIET_LANES_KEPT:  # forget chats quiet for longer than any window
            longest = max(max(v.private[1], v.group[1]) for v in self.limits.values())
            for lane in [k for k, t in self.sent.items() if ":" in k and now - t[-1] >= longest]:
                del self.sent[lane]
