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
