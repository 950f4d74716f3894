"""The ``rustnet`` application: one command that runs the whole pipeline behind the TUI.

It sits above every stage's library (capture, dissect, track, enrich, view) and below
nothing but the click entry point in ``cmds/rustnet.py``. Modules, one job each:

* :mod:`~rustnet.app.wrapper`   -- ``rustnet`` itself: plan, start, watch, stop
* :mod:`~rustnet.app.launch`    -- the stage command lines for the chosen options (local or ``--remote``)
* :mod:`~rustnet.app.supervise` -- the stage processes: start, watch, end them as a group
* :mod:`~rustnet.app.relay`     -- the records between the stages and the viewer, saved with ``-w``
* :mod:`~rustnet.app.viewer`    -- the TUI in the wrapper's own process
* :mod:`~rustnet.app.logsetup`  -- the optional session log (``-l LEVEL``)
"""
