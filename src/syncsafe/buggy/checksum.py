"""
The incident's ``calculateChecksum``, reproduced line for line.

From the stale-overlay write-up (the "patched" Go function it printed):

    err := filepath.WalkDir(overlayPath, func(path string, d fs.DirEntry, err error) error {
        if strings.HasPrefix(d.Name(), ".") {          // hidden: skipped, dirs pruned
            if d.IsDir() { return fs.SkipDir }
            return nil
        }
        if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
            content, err := os.ReadFile(path)
            hash.Write([]byte(path))                     // the path as walked, no length
            hash.Write(content)                          // then the content, no length
        }
        return nil
    })
    hash.Write([]byte(annotationKey))
    checksum := hex.EncodeToString(hash.Sum(nil))

Its bugs, all kept here:

- ``filepath.WalkDir`` does not follow symlinks: a symlinked base directory
  is one non-directory entry without a ``.yaml`` suffix, so nothing under it
  is hashed (a symlinked ``.yaml`` *file* is read, since ``os.ReadFile``
  follows links);
- only ``.yaml``/``.yml`` files count: ``kustomization`` generator inputs
  (``.env``, ``.properties``, ``.json``) never do;
- names starting with ``.`` are skipped, and such directories pruned,
  including the overlay itself when its own name starts with ``.``;
- the path written is the walked path, absolute in the controller, so the
  same tree checked out at two locations gives two digests;
- path and content are concatenated without lengths, so different trees
  can give the same bytes (``a.yaml``=``bc`` vs ``a.yamlb``=``c`` style).

Replaced by [`syncsafe.checksum`][syncsafe.checksums.checksum] and
[`syncsafe.overlay_checksum`][syncsafe.checksums.overlay_checksum].
"""

# The reproduction mirrors Go's os and path/filepath calls one for one.
# ruff: noqa: PTH100, PTH118, PTH119, PTH123, PTH208

from __future__ import annotations

import hashlib
import os
import stat

__all__ = ["DEFAULT_ANNOTATION_KEY", "checksum"]

DEFAULT_ANNOTATION_KEY = "fluxcd.io/checksum"


def checksum(overlay_path: str | os.PathLike[str], annotation_key: str = "") -> str:
    """BUGGY: the incident's ``calculateChecksum(ctx, overlayPath, annotationKey, log)``."""
    overlay = os.fspath(overlay_path)
    if not overlay:
        msg = "overlayPath: Required value: overlay path cannot be empty"
        raise ValueError(msg)
    if not annotation_key:
        annotation_key = DEFAULT_ANNOTATION_KEY
    # The controller called it with the absolute path of its checkout
    # (filepath.Abs: lexical, symlinks kept).
    overlay = os.path.abspath(overlay)
    digest = hashlib.sha256()
    _walk_dir(overlay, os.lstat(overlay), digest)
    digest.update(annotation_key.encode())
    return digest.hexdigest()


def _walk_dir(path: str, info: os.stat_result, digest: hashlib._Hash) -> None:
    """``filepath.WalkDir``'s visit of *path* and, unless skipped, everything below it."""
    is_dir = stat.S_ISDIR(info.st_mode)  # from Lstat: a symlink is never a directory
    name = os.path.basename(path)
    if name.startswith("."):
        return  # a hidden file is skipped; a hidden directory is pruned (fs.SkipDir)
    if not is_dir:
        if path.endswith((".yaml", ".yml")):
            with open(path, "rb") as file:  # os.ReadFile follows a symlinked file
                content = file.read()
            digest.update(os.fsencode(path))
            digest.update(content)
        return
    # os.ReadDir: entries sorted by file name, byte order
    names = sorted(os.listdir(path), key=os.fsencode)
    for child in names:
        child_path = os.path.join(path, child)
        _walk_dir(child_path, os.lstat(child_path), digest)
