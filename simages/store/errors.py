"""Why a feature store cannot be used, each with what to do about it (no numpy: the CLI names these
errors without loading the store code)."""

from __future__ import annotations


class StoreError(RuntimeError):
    """A store file that cannot be read; it is rebuilt, never half-used. `remedy` says what to do."""

    remedy = "rebuild it with `simages index SET`"


class StoreNotReadable(StoreError):
    """A store this user may not read (file permissions): rebuilding is not the answer, access is."""

    remedy = "ask its owner to make it readable (e.g. `chmod g+r`), or index into a --root of your own"


class StoreInaccessible(StoreError):
    """The file system refused to open the store (a folder in its place, an I/O error, a name too long):
    its content is not at fault, so "index again" is not the answer; the message names the system's reason."""

    remedy = "fix what the file system reports (indexing again cannot, while it refuses the file)"


class StoreFromNewerVersion(StoreError):
    """A store whose format is newer than this version reads: neither read nor rebuilt over (going back
    to an older SIMages must not destroy hours of descriptors a newer one computed)."""

    remedy = "use that newer SIMages (`pip install -U simages`); this version leaves the store as it is"
