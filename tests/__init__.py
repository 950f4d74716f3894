"""rustnet's tests.

In the pytest process itself rustnet is the pure Python build, the reference: unit tests check
it and monkeypatch its functions (which compiled modules would call directly, unseen). The
commands the tests start (and tests.builds_driver) run the mypyc-compiled modules when ``make``
built them, and tests/test_compiled_builds.py diffs the two builds' records.
"""

import os
import sys

if "_pytest" in sys.modules and "rustnet" not in sys.modules:
    _was = os.environ.get("RUSTNET_PURE")
    os.environ["RUSTNET_PURE"] = "1"
    import rustnet  # noqa: F401 - decides the build of this process, once

    if _was is None:
        del os.environ["RUSTNET_PURE"]
    else:
        os.environ["RUSTNET_PURE"] = _was
