from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_plugin_option_and_fixture(pytester: pytest.Pytester) -> None:
    """The installed plugin adds --syncsafe-thorough and a settings fixture that honours it."""
    pytester.makepyfile(
        """
        def test_examples(syncsafe_hypothesis_settings, request):
            thorough = request.config.getoption("--syncsafe-thorough")
            assert syncsafe_hypothesis_settings.max_examples == (2000 if thorough else 100)
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest_subprocess("--syncsafe-thorough").assert_outcomes(passed=1)


def test_plugin_help_group(pytester: pytest.Pytester) -> None:
    """The options appear in their own group in pytest --help."""
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["syncsafe conformance checks:", "*--syncsafe-thorough*"])


def test_make_tree_builds_every_kind_of_entry(pytester: pytest.Pytester) -> None:
    """make_tree takes a spec, a list of entries or a mapping, and builds under tmp_path."""
    pytester.makepyfile(
        """
        import stat
        from syncsafe.testing import Fifo, File, Folder, Symlink, TreeSpec

        def test_mapping(make_tree, tmp_path):
            root = make_tree({"base/kustomization.yaml": "resources: []\\n", "a.bin": b"\\0"})
            assert (root / "base/kustomization.yaml").read_text() == "resources: []\\n"
            assert (root / "a.bin").read_bytes() == b"\\0"
            assert tmp_path in root.parents

        def test_entries(make_tree):
            root = make_tree([File("a", b"x"), Symlink("b", "a"), Folder("d"), Fifo("p")])
            assert (root / "b").read_bytes() == b"x"
            assert (root / "b").is_symlink() and (root / "d").is_dir()
            assert stat.S_ISFIFO((root / "p").lstat().st_mode)

        def test_spec_and_many_trees(make_tree):
            one = make_tree(TreeSpec("t", "k", (File("f", b"1"),)))
            two = make_tree({"f": "2"})
            assert one != two and (one / "f").read_bytes() == b"1"
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_attack_tree_parametrizes_over_the_corpus(pytester: pytest.Pytester) -> None:
    """A test taking attack_tree runs once per malicious tree; attack_trees lists them."""
    pytester.makepyfile(
        """
        import pytest
        from syncsafe import walk, UnsafePathError

        def test_corpus_size(attack_trees):
            assert len(attack_trees) >= 100

        def test_each(attack_tree):
            with pytest.raises(UnsafePathError):
                list(walk(attack_tree.root))
        """
    )
    from syncsafe.testing import attack_corpus  # noqa: PLC0415

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1 + len(attack_corpus()))


def test_storm_clock_drives_a_detector(pytester: pytest.Pytester) -> None:
    """storm_clock is aware, moves only when told, and never goes backwards."""
    pytester.makepyfile(
        """
        from datetime import timedelta
        import pytest
        from syncsafe import StormDetector, SyncEvent

        def test_clock(storm_clock):
            detector = StormDetector(threshold=2)
            for app in ("a", "b"):
                detector.observe(SyncEvent("argocd", app, "prod", storm_clock.now()))
            assert detector.rate(storm_clock()) == 2
            storm_clock.advance(timedelta(seconds=61))
            assert detector.rate(storm_clock()) == 0
            with pytest.raises(ValueError, match="never goes backwards"):
                storm_clock.advance(-1)
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_project_that_only_installs_syncsafe(pytester: pytest.Pytester) -> None:
    """In a bare project, pytest --fixtures lists syncsafe's fixtures and a check runs."""
    pytester.makepyfile(
        test_confinement="""
        from syncsafe import walk
        from syncsafe.testing import check_path_confinement

        def read(root):
            out = []
            for entry in walk(root):
                with entry.open() as f:
                    out.append(f.read())
            return out

        def test_our_reader_is_confined(syncsafe_hypothesis_settings):
            check_path_confinement(read, settings=syncsafe_hypothesis_settings)
        """
    )
    fixtures = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    names = [
        "make_tree",
        "attack_trees",
        "attack_tree",
        "storm_clock",
        "syncsafe_hypothesis_settings",
    ]
    for name in names:
        fixtures.stdout.fnmatch_lines([f"{name} *-- *syncsafe/testing/plugin.py:*"])
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_kustomize_repo_and_sequencer_fixtures(pytester: pytest.Pytester) -> None:
    """kustomize_repo says what a build reads; sequencer orders two threads without sleeps."""
    pytester.makepyfile(
        """
        import threading
        from syncsafe import overlay_checksum

        def test_repo(kustomize_repo):
            assert (kustomize_repo.overlay / "base").is_symlink()
            digest = overlay_checksum(kustomize_repo.overlay, root=kustomize_repo.root)
            assert set(digest.files) == kustomize_repo.reads
            assert "bases/prod-east/README.md" in kustomize_repo.unread

        def test_sequencer(sequencer):
            order = []

            def worker(first, second, name):
                with sequencer(first):
                    order.append(name)
                with sequencer(second):
                    order.append(name)

            threads = [
                threading.Thread(target=worker, args=(1, 2, "b")),
                threading.Thread(target=worker, args=(0, 3, "a")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert order == ["a", "b", "b", "a"]
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_team_runs_check_single_flight_on_its_guard(pytester: pytest.Pytester) -> None:
    """A project's own guard, checked with the plugin's settings fixture: pass and fail."""
    pytester.makepyfile(
        """
        import threading
        import pytest
        from syncsafe.testing import ConformanceError, check_single_flight

        class RejectingGuard:
            def __init__(self):
                self.busy = threading.Lock()

            def run(self, key, fn):
                if not self.busy.acquire(blocking=False):
                    raise RuntimeError("sync already in progress")
                try:
                    return fn()
                finally:
                    self.busy.release()

        def test_ours_is_rejected(syncsafe_hypothesis_settings):
            with pytest.raises(ConformanceError, match="the update it carried is lost"):
                check_single_flight(RejectingGuard, settings=syncsafe_hypothesis_settings)
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
