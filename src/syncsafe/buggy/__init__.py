"""
Faithful reproductions of the bugs in the incident write-ups.

**Never use these.** They exist so that syncsafe's tests, its pytest plugin's
conformance checks and ``syncsafe demo`` can show each failure next to the
primitive that replaces it. Each submodule names the incident code it
reproduces and keeps its logic, bugs included, line for line where the
original is given; only the language changed.

- [`syncsafe.buggy.annotations`][syncsafe.buggy.annotations]: the lookup that split
  ``fluxcd.io/checksum`` on dots.
- [`syncsafe.buggy.storm`][syncsafe.buggy.storm]: the storm detector that re-counted every poll, and
  the staleness script whose ``case`` never matched and whose ``git log`` always failed.
- [`syncsafe.buggy.checksum`][syncsafe.buggy.checksum]: the overlay checksum that hashed absolute
  path + content, ``.yaml`` only, hidden files dropped, symlinked bases never followed.
- [`syncsafe.buggy.paths`][syncsafe.buggy.paths]: the kustomize build's symlink checks, ``Build()``
  and ``FixedBuild()``.
- [`syncsafe.buggy.sync`][syncsafe.buggy.sync]: the app controller's ``Sync()``, which let 47
  syncs of one app run at once, and its ``FixedSync()``, which drops requests.
- `syncsafe.buggy.election`: leader election on an etcd lease without
  fencing, as client-go's: a leader paused past its lease writes over the
  new leader's write when it wakes.
"""

# No ``from __future__ import annotations`` here: it would bind the name
# ``annotations`` in this package to a ``__future__`` feature object, shadowing
# the ``annotations`` submodule for ``from ... import annotations``.

__all__: list[str] = []
