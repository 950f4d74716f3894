"""rn-track's library: packet summaries in, connection records out.

* :mod:`~rustnet.track.table` -- the :class:`~rustnet.track.table.Tracker` stage (the hot loop,
  expiry wheel, output pacing, snapshots, the cap).
* :mod:`~rustnet.track.key` -- direction-free keys.
* :mod:`~rustnet.track.tcp_state` -- the TCP state machine of both endpoints, as a table.
* :mod:`~rustnet.track.states` -- the closed set of display states.
* :mod:`~rustnet.track.lifecycle` -- the one timeout table and its overrides.
* :mod:`~rustnet.track.rates` -- smoothed bytes/s per direction.
* :mod:`~rustnet.track.dpi` -- folding DPI fields into a connection, bounded.
* :mod:`~rustnet.track.conn` -- the in-memory connection (``__slots__``).
* :mod:`~rustnet.track.record` -- the connection record, every field documented.
* :mod:`~rustnet.track.join` -- sock records joined to connection records (the owner of each
  connection); shared by rn-track, rn-enrich and rn-view, so it lives at the lowest of the three.
"""
