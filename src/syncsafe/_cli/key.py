"""``syncsafe key``: parse annotation or label keys and print their parts or errors."""

from __future__ import annotations

import argparse

from syncsafe._cli import add_command
from syncsafe._cli._quote import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from syncsafe.annotations import KeyKind

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``syncsafe key`` to *subparsers*."""
    parser = add_command(
        subparsers,
        "key",
        help="validate annotation or label keys",
        description=(
            "Parse each KEY as a Kubernetes annotation key (or, with --label, a label "
            "key) and print its prefix, name and kubectl JSONPath, or every rule it "
            "breaks. Exit status 1 if any key is invalid."
        ),
        example="syncsafe key fluxcd.io/checksum 'Example.com/abc' only/one/slash",
    )
    parser.add_argument("keys", nargs="+", metavar="KEY", help="a key to check")
    parser.add_argument(
        "--label", action="store_true", help="check as label keys (validated as written)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.set_defaults(run=run)


def _report(text: str, kind: KeyKind) -> dict[str, Any]:
    from syncsafe.annotations import AnnotationKey  # noqa: PLC0415 - imported when run
    from syncsafe.errors import InvalidAnnotationKey  # noqa: PLC0415

    try:
        key = AnnotationKey.parse(text, kind=kind)
    except InvalidAnnotationKey as exc:
        return {"key": text, "valid": False, "problems": list(exc.problems)}
    return {
        "key": text,
        "valid": True,
        "prefix": key.prefix,
        "name": key.name,
        "jsonpath": key.jsonpath,
    }


def run(args: argparse.Namespace) -> int:
    """Print each key's parts or problems; 1 if any is invalid."""
    kind: KeyKind = "label" if args.label else "annotation"
    reports = [_report(text, kind) for text in args.keys]
    if args.json:
        import json  # noqa: PLC0415 - only --json needs it

        print(json.dumps(reports, indent=2))
    else:
        for r in reports:
            if r["valid"]:
                prefix = "-" if r["prefix"] is None else r["prefix"]
                print(
                    f"{quote(r['key'])}: valid  prefix={prefix}  name={r['name']}  "
                    f"jsonpath={r['jsonpath']}"
                )
            else:
                print(f"{quote(r['key'])}: invalid")
                for problem in r["problems"]:
                    print(f"  - {problem}")
    return 0 if all(r["valid"] for r in reports) else 1
