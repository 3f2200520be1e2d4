"""
Prometheus text exposition format (0.0.4), and node_exporter textfiles written atomically.

Hand-written rather than built on ``prometheus-client``: syncsafe needs only
gauges rendered once, not a registry of live collectors, and the client's
``write_to_textfile`` does not ``fsync`` before its rename.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Final, Literal, final

import attrs

from syncsafe._atomic import atomic_replace
from syncsafe.errors import InvalidMetric

__all__ = ["MetricFamily", "render_exposition", "write_textfile"]

MetricType = Literal["gauge", "counter", "untyped"]
Sample = tuple[Mapping[str, str], float]


def _samples(samples: Iterable[Sample]) -> tuple[Sample, ...]:
    return tuple(samples)


_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(float(value))


@final
@attrs.frozen
class MetricFamily:
    """
    One metric: its name, help text, type, and samples (a label set and a value each).

    Rendered as one block: ``# HELP`` and ``# TYPE`` once, then every sample.
    Names and label names are checked when the family is built.

    !!! note "Added in version 0.1.0"
    """

    name: str
    help: str
    type: MetricType = "gauge"
    samples: tuple[Sample, ...] = attrs.field(default=(), converter=_samples)

    def __attrs_post_init__(self) -> None:
        if not _METRIC_NAME.fullmatch(self.name):
            raise InvalidMetric(self.name, "a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*")
        seen: set[tuple[tuple[str, str], ...]] = set()
        for labels, _ in self.samples:
            for label in labels:
                if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                    raise InvalidMetric(
                        self.name,
                        f"label name {label!r} must match [a-zA-Z_][a-zA-Z0-9_]* "
                        "and not start with '__'",
                    )
            key = tuple(sorted(labels.items()))
            if key in seen:
                raise InvalidMetric(self.name, f"two samples with the labels {dict(key)}")
            seen.add(key)

    def render(self) -> str:
        """The family's block of exposition text, ending in a newline."""
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.type}"]
        for labels, value in self.samples:
            if labels:
                inner = ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in labels.items())
                lines.append(f"{self.name}{{{inner}}} {_format_value(value)}")
            else:
                lines.append(f"{self.name} {_format_value(value)}")
        return "\n".join(lines) + "\n"


def render_exposition(families: Iterable[MetricFamily]) -> str:
    """
    The exposition text of *families*: one block per metric, in the order given.

    :raises InvalidMetric: if two families share a name (their samples would
        interleave under one ``# TYPE``, which Prometheus rejects).
    """
    blocks: list[str] = []
    names: set[str] = set()
    for family in families:
        if family.name in names:
            raise InvalidMetric(family.name, "more than one family with this name")
        names.add(family.name)
        blocks.append(family.render())
    return "".join(blocks)


def write_textfile(path: str | os.PathLike[str], text: str) -> None:
    """
    Replace the file at *path* with *text*, atomically, as node_exporter's textfile collector needs.

    The text goes to a temporary file in the same directory (named so that the
    collector, which reads ``*.prom``, ignores it), is ``fsync``-ed,
    made world-readable, then renamed over *path*; the directory is synced so
    that the rename survives a crash. A reader sees the old file or the new
    one, never half of one; the file is never appended to, so it cannot grow
    with every run. On any error the temporary file is removed.
    """
    # 0644 whatever the umask: the collector may run as nobody.
    atomic_replace(path, text.encode("utf-8"), mode=0o644, umask=False)
