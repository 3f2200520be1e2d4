"""
The README's and the tutorial's code blocks run as written.

Python blocks run as the documents say they do: the README's on its own, the
tutorial's steps 0 to 6 as one script from an empty directory, step 7's as
a module ``shipit.py`` and pytest test modules beside it. Every shell
session (a ``console`` block with ``$`` prompts) runs from the same
directory and must print what the block shows, ``…`` standing for any text.
``kubectl get`` is answered with sample objects: three Argo CD Applications
and a Flux Kustomization at the checkout's HEAD, synced seconds ago.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)

_KUBECTL = '''#!{python}
"""kubectl get ... -A -o json, answered with sample objects synced seconds ago."""
import json, os, subprocess, sys
from datetime import datetime, timedelta, timezone

kinds = sys.argv[2].split(",")
now = datetime.now(timezone.utc)


def ago(seconds):
    return (now - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


items = []
if "applications" in kinds:
    for i, name in enumerate(["payments", "payments-api", "payments-worker"]):
        items.append({{
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {{"name": name, "namespace": "argocd"}},
            "spec": {{"destination": {{"namespace": "prod-payments"}}}},
            "status": {{"operationState": {{
                "phase": "Succeeded", "startedAt": ago(20 + i), "finishedAt": ago(10 + i)
            }}}},
        }})
if "kustomizations" in kinds:
    head = subprocess.run(
        ["git", "-C", os.environ["SHIPIT_CHECKOUT"], "rev-parse", "HEAD"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    items.append({{
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {{"name": "payments", "namespace": "flux-system"}},
        "status": {{
            "lastAppliedRevision": "main@sha1:" + head,
            "history": [{{
                "digest": "sha256:" + "a" * 64, "firstReconciled": ago(30),
                "lastReconciled": ago(30), "totalReconciliations": 1,
            }}],
        }},
    }})
print(json.dumps({{"apiVersion": "v1", "kind": "List", "items": items}}))
'''


def _blocks(document: str, language: str) -> list[str]:
    text = (ROOT / document).read_text(encoding="utf-8")
    return [body for lang, body in _BLOCK.findall(text) if lang == language]


def _env(work: Path) -> dict[str, str]:
    """PATH with this interpreter's scripts (syncsafe) and the sample kubectl first."""
    bin_dir = work / ".bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(_KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    return {**os.environ, "PATH": path, "SHIPIT_CHECKOUT": str(work / "shipit-tutorial/checkout")}


def _python(script: str, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert 0 == result.returncode, result.stderr
    return result.stdout


def _sessions(document: str) -> list[list[tuple[str, list[str]]]]:
    """Each console block with prompts: its commands, each with the lines it prints."""
    sessions = []
    for block in _blocks(document, "console"):
        if not block.startswith("$ "):
            continue  # not a session: a list of make targets
        steps: list[tuple[str, list[str]]] = []
        pending = ""
        for line in block.splitlines():
            if pending or line.startswith("$ "):
                pending += line.removeprefix("$ ") if not pending else " " + line.strip()
                if pending.endswith("\\"):
                    pending = pending[:-1].rstrip()
                    continue
                steps.append((pending, []))
                pending = ""
            else:
                steps[-1][1].append(line)
        sessions.append(steps)
    return sessions


def _matches(expected: list[str], printed: str) -> bool:
    lines = printed.splitlines()
    patterns = [re.escape(line).replace("…", ".*") for line in expected]
    return len(patterns) == len(lines) and all(
        re.fullmatch(p, line) for p, line in zip(patterns, lines, strict=True)
    )


def _run_sessions(document: str, work: Path, env: dict[str, str]) -> int:
    ran = 0
    for steps in _sessions(document):
        cwd, status = work, 0
        for command, expected in steps:
            if command.startswith("cd "):
                cwd = cwd / command.removeprefix("cd ")
                continue
            if command == "echo $?":
                assert expected == [str(status)], command
                continue
            result = subprocess.run(
                ["bash", "-o", "pipefail", "-c", command],  # noqa: S607 - the user's shell
                check=False,
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
            )
            status = result.returncode
            assert "Traceback" not in result.stderr, result.stderr
            assert _matches(expected, result.stdout), (command, result.stdout, result.stderr)
            ran += 1
    return ran


def test_the_readme_example_runs(tmp_path: Path) -> None:
    """The README's Python block runs as written and prints what its comments say."""
    (block,) = _blocks("README.md", "python")
    out = _python(block, tmp_path, _env(tmp_path))
    assert re.fullmatch(r"1 xxh3-128:[0-9a-f]{32}\nTrue\n", out), out


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    """Steps 0 to 6 run as one script; then every shell session prints what it shows."""
    text = (ROOT / "docs/tutorial.md").read_text(encoding="utf-8")
    before_step_7 = text.split("\n## 7.", 1)[0]
    script = "\n".join(body for lang, body in _BLOCK.findall(before_step_7) if lang == "python")
    env = _env(tmp_path)
    out = _python(script, tmp_path, env)
    assert "unsafe checkout shipit-tutorial/checkout: not syncing" in out
    assert "('bases/prod-east/ingress.yaml',)" in out
    # key, scan, checksum, diff, storm, stale: each printed what the tutorial shows
    assert 6 == _run_sessions("docs/tutorial.md", tmp_path, env)


def test_the_tutorials_test_modules_pass(tmp_path: Path) -> None:
    """Step 7's shipit.py and test modules, run with pytest and the plugin, all pass."""
    text = (ROOT / "docs/tutorial.md").read_text(encoding="utf-8")
    step_7 = text.split("\n## 7.", 1)[1]
    blocks = [body for lang, body in _BLOCK.findall(step_7) if lang == "python"]
    assert blocks[0].startswith("# shipit.py\n")
    (tmp_path / "shipit.py").write_text(blocks[0])
    for i, block in enumerate(blocks[1:]):
        (tmp_path / f"test_step_7_{i}.py").write_text(block)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert 0 == result.returncode, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in .*", summary), summary
