"""
A real ``kustomize build`` in-process: kustomize's Go library, loaded with `ctypes`.

PyPI's ``pykustomize`` 0.1.4 wheel carries kustomize's Go library
(``sigs.k8s.io/kustomize/api`` v0.21.3) built as a Linux x86-64 shared
object, ``libpykustomize.so``, with a C entry point. The wheel's own Python
wrapper needs Python 3.14 and cffi; the shared object needs neither, so this
module loads it directly. ``make kustomize`` fetches the wheel (pinned by its
hash) and unpacks the shared object into ``.venv/kustomize/``.

The C functions, as the wheel's wrapper (``pykustomize/_ffi.py``) declares them:

    int   pykustomize_build(const char *path, const char *options_json, char **result);
    char *pykustomize_last_error(void);   /* owned by the library: not freed */
    char *pykustomize_version_string(void);
    void  pykustomize_free(void *ptr);    /* for *result after a success */

A build returns 0 and sets ``*result`` to the YAML, or returns non-zero and
leaves the message for ``pykustomize_last_error``. That message is global to
the library, so builds are serialised by one lock.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from typing import TYPE_CHECKING, ClassVar, Final, Literal, final

from syncsafe.errors import KustomizeBuildFailed, KustomizeUnavailable

if TYPE_CHECKING:
    from syncsafe._fs import StrPath

__all__ = ["KUSTOMIZE_LIBRARY_VARIABLE", "Kustomize", "LoadRestrictor"]

KUSTOMIZE_LIBRARY_VARIABLE: Final = "SYNCSAFE_KUSTOMIZE_LIBRARY"
"""The environment variable naming ``libpykustomize.so`` (``make test`` sets it)."""

LoadRestrictor = Literal["root-only", "none"]
"""kustomize's ``--load-restrictor``: ``LoadRestrictionsRootOnly`` or ``LoadRestrictionsNone``."""

# pykustomize's LoadRestrictions enum: ROOT_ONLY = 0, NONE = 1.
_RESTRICTORS: Final[dict[str, int]] = {"root-only": 0, "none": 1}


@final
class Kustomize:
    """
    kustomize's Go library loaded from *library* (``libpykustomize.so``).

    [`build`][syncsafe.testing._build.Kustomize.build] is ``kustomize build DIR`` with plugins off,
    the output in kustomize's own order, the load restrictor given, and helm on when a
    helm command is given. Unlike
    ``subprocess.run(["kubectl", "kustomize", ...])`` it needs no binary on
    ``PATH`` and costs no process per build; unlike pykustomize's own wrapper
    it runs on any Python syncsafe runs on.

    Raises [`KustomizeUnavailable`][syncsafe.errors.KustomizeUnavailable] when *library* cannot be
    loaded (missing, or not a Linux x86-64 shared object).

    !!! note "Added in version 0.1.0"
    """

    _lock: ClassVar = threading.Lock()

    def __init__(self, library: StrPath) -> None:
        self.library = os.fspath(library)
        if not os.path.isfile(self.library):  # noqa: PTH113 - one stat, a clear error
            raise KustomizeUnavailable(self.library, "no such file")
        try:
            lib = ctypes.CDLL(self.library)
        except OSError as exc:
            raise KustomizeUnavailable(self.library, str(exc)) from None
        # c_void_p, not c_char_p: the pointers must reach pykustomize_free unchanged.
        lib.pykustomize_build.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_void_p),
        ]
        lib.pykustomize_build.restype = ctypes.c_int
        lib.pykustomize_last_error.argtypes = []
        lib.pykustomize_last_error.restype = ctypes.c_void_p
        lib.pykustomize_version_string.argtypes = []
        lib.pykustomize_version_string.restype = ctypes.c_void_p
        lib.pykustomize_free.argtypes = [ctypes.c_void_p]
        lib.pykustomize_free.restype = None
        self._lib = lib

    @classmethod
    def from_environment(cls, default: StrPath | None = None) -> Kustomize:
        """
        The library named by ``$SYNCSAFE_KUSTOMIZE_LIBRARY``, else *default*.

        Raises [`KustomizeUnavailable`][syncsafe.errors.KustomizeUnavailable] saying what is missing
        and how to install it, never returns ``None``: a test that needs a
        real kustomize fails instead of skipping.
        """
        library = os.environ.get(KUSTOMIZE_LIBRARY_VARIABLE) or default
        if library is None:
            raise KustomizeUnavailable(
                f"${KUSTOMIZE_LIBRARY_VARIABLE}", "not set, and no default location given"
            )
        return cls(library)

    @property
    def version(self) -> str:
        """The library's version string (``pykustomize-v0.1.4``)."""
        pointer = self._lib.pykustomize_version_string()
        # Not freed, as the wheel's own wrapper does not: the library may keep it.
        return ctypes.string_at(pointer).decode() if pointer else "unknown"

    def build(
        self,
        path: StrPath,
        *,
        load_restrictor: LoadRestrictor = "root-only",
        helm_command: StrPath | None = None,
    ) -> str:
        """
        The YAML that ``kustomize build --load-restrictor=... PATH`` prints.

        *load_restrictor* is kustomize's (and Argo CD's) default
        ``"root-only"``, or ``"none"`` as Flux builds. With *helm_command*,
        helm charts are inflated with that program (``--enable-helm
        --helm-command``); without, a chart is an error, as in kustomize.
        Raises [`KustomizeBuildFailed`][syncsafe.errors.KustomizeBuildFailed] with kustomize's own
        message when the build fails.
        """
        directory = os.fspath(path)
        options = json.dumps(
            {
                "load_restrictions": _RESTRICTORS[load_restrictor],
                "reorder": "unspecified",
                "add_managedby_label": False,
                "enable_plugins": False,
                "enable_helm": helm_command is not None,
                "helm_command": "" if helm_command is None else os.fspath(helm_command),
            }
        ).encode()
        result = ctypes.c_void_p()
        with self._lock:
            status = self._lib.pykustomize_build(
                os.fsencode(directory), options, ctypes.byref(result)
            )
            if status != 0:
                pointer = self._lib.pykustomize_last_error()
                message = ctypes.string_at(pointer).decode() if pointer else "unknown error"
                raise KustomizeBuildFailed(directory, message)
        try:
            return ctypes.string_at(result.value).decode() if result.value else ""
        finally:
            self._lib.pykustomize_free(result)
