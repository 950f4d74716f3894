"""The command base every command shares: exit statuses, one-line errors, signals and
termination, common options, the stream-stage read loop, privilege dropping, safe file
creation. Low in the layers (only :mod:`rustnet.stream` below it), so every stage's
library may use it; the ``rustnet`` application itself lives in :mod:`rustnet.app`."""
