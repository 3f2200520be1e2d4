"""``syncsafe storm``: the sync rate in a kubectl JSON dump or watch stream, and a storm alert."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Final

from syncsafe._cli import add_command, writing_to
from syncsafe._cli._errors import CommandError
from syncsafe._cli._json import (
    Malformed,
    documents,
    non_negative_duration_arg,
    open_input,
    positive_duration_arg,
    time_arg,
)
from syncsafe._cli._quote import quote
from syncsafe.stale import format_duration, render_exposition, write_textfile
from syncsafe.storm import StormAlert, StormDetector, events_from, storm_metrics

__all__ = ["CLI_MAX_SKEW", "register"]

CLI_MAX_SKEW: Final = timedelta(minutes=5)
"""``--max-skew``'s default: each poll is judged at the caller's clock, not at its newest event."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe storm`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "storm",
        help="detect a deployment storm in Argo CD / Flux objects",
        description=(
            "Read Argo CD Applications, Flux Kustomizations and core/v1 Events as JSON "
            "(one document, JSON lines, or a 'kubectl get -w -o json' stream) from FILE "
            "or standard input, count the distinct syncs in the sliding window, and "
            "alert when the rate reaches the threshold. A stream prints a line at each "
            "change of the alert's state. Malformed lines and entries are skipped and "
            "reported on stderr. Exit status 1 while a storm is detected; 2 if FILE "
            "cannot be read or holds no JSON document at all."
        ),
        example=(
            "kubectl get applications,kustomizations -A -o json | "
            "syncsafe storm - --threshold 100 --window 1m"
        ),
    )
    parser.add_argument("file", metavar="FILE", help="JSON input, or - for standard input")
    parser.add_argument(
        "--threshold",
        type=float,
        default=100.0,
        help="alert at this many syncs per minute or more (default: 100)",
    )
    parser.add_argument(
        "--window",
        type=positive_duration_arg,
        default=timedelta(minutes=1),
        help="sliding window, a Go duration (default: 1m)",
    )
    parser.add_argument(
        "--for",
        dest="for_duration",
        type=non_negative_duration_arg,
        default=timedelta(0),
        help="fire only once the rate has held this long, like a Prometheus rule's 'for' "
        "(default: 0s)",
    )
    parser.add_argument(
        "--now",
        type=time_arg,
        default=None,
        help="evaluate at this RFC 3339 time instead of the clock (for replaying a dump)",
    )
    parser.add_argument(
        "--max-skew",
        type=non_negative_duration_arg,
        default=CLI_MAX_SKEW,
        help="count apart, with a warning, syncs dated more than this after the evaluation "
        "time: a clock running ahead must not push the real syncs out of the window "
        "(default: 5m)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument(
        "--textfile",
        metavar="OUT.prom",
        help="also write the final report as Prometheus metrics, replaced atomically",
    )
    parser.set_defaults(run=run)


def _describe(alert: StormAlert) -> str:
    tools = " ".join(f"{t}={n}" for t, n in sorted(alert.by_tool.items())) or "no syncs"
    top = sorted(alert.by_namespace.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    namespaces = ", ".join(f"{ns} {n}" for ns, n in top)
    return (
        f"storm: {alert.state.upper()}  {alert.rate:g} syncs/min "
        f"({alert.count} in {format_duration(alert.window)}, threshold {alert.threshold:g}/min)"
        f"  {tools}  production {alert.production_share:.0%}"
        + (f"  top: {namespaces}" if namespaces else "")
    )


def _check_usage(args: argparse.Namespace) -> None:
    """Refuse options that are wrong together, in the user's words."""
    if not args.threshold > 0:
        msg = f"--threshold must be positive, not {args.threshold:g}"
        raise CommandError(msg, "UsageError", argument="--threshold")
    if args.now is not None:
        try:
            args.now - args.window
        except OverflowError:
            msg = (
                f"--now {args.now.isoformat()}: the window of "
                f"{format_duration(args.window)} before it would start before the year 1"
            )
            raise CommandError(msg, "UsageError", argument="--now") from None


def _report(args: argparse.Namespace, ahead: int, now: datetime) -> None:
    """The warning about syncs counted apart, one line on stderr."""
    if ahead:
        print(
            f"syncsafe storm: warning: {ahead} sync(s) dated more than "
            f"{format_duration(args.max_skew)} after {now.isoformat()} were not counted "
            "(a clock running ahead? see --max-skew)",
            file=sys.stderr,
        )


def _clock(fixed: datetime | None) -> Callable[[], datetime]:
    """
    ``--now``, or the wall clock held from stepping back.

    The detector refuses a question about a time its window has moved past;
    a wall clock that NTP steps back would be one.
    """
    if fixed is not None:
        return lambda: fixed
    latest = datetime.now(timezone.utc)

    def now() -> datetime:
        nonlocal latest
        latest = max(latest, datetime.now(timezone.utc))
        return latest

    return now


def run(args: argparse.Namespace) -> int:
    """Feed every document to a detector; print state changes and the final report."""
    _check_usage(args)
    detector = StormDetector(
        args.threshold, args.window, for_duration=args.for_duration, max_skew=args.max_skew
    )
    clock = _clock(args.now)
    emit: Callable[[StormAlert], None]
    if args.json:
        emit = lambda alert: print(json.dumps(alert.as_dict()), flush=True)  # noqa: E731
    else:
        emit = lambda alert: print(_describe(alert), flush=True)  # noqa: E731
    malformed: list[Malformed] = []
    skipped: list[str] = []
    read = 0
    state = detector.state
    with open_input(args.file) as stream:
        for doc in documents(stream):
            if isinstance(doc, Malformed):
                malformed.append(doc)
                continue
            read += 1
            now = clock()
            detector.advance(now)  # the caller's clock, not the input's, moves the window
            batch = events_from(doc, since=now - args.window)
            skipped.extend(batch.skipped)
            detector.observe_many(batch.events)
            alert = detector.evaluate(now)
            if alert.state not in {state, "pending"}:
                emit(alert)
            state = alert.state
    if malformed and not read:  # not one document: the wrong file, not a noisy stream
        first = malformed[0]
        msg = f"FILE {quote(args.file)} holds no JSON document: line {first.line}: {first.problem}"
        raise CommandError(msg, "MalformedInput", file=args.file, line=first.line)
    now = clock()
    final = detector.evaluate(now)
    emit(final)
    _report(args, detector.statistics().ahead, now)
    if malformed:
        first = malformed[0]
        print(
            f"syncsafe storm: skipped {len(malformed)} malformed line(s); "
            f"first at line {first.line}: {first.problem}",
            file=sys.stderr,
        )
    if skipped:
        print(
            f"syncsafe storm: skipped {len(skipped)} malformed entr(y/ies); first: {skipped[0]}",
            file=sys.stderr,
        )
    if args.textfile:
        with writing_to(args.textfile):
            write_textfile(args.textfile, render_exposition(storm_metrics(final)))
    return 1 if final.state == "firing" else 0
