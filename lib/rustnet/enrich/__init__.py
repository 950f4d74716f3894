"""rn-enrich: who is behind each connection (process, user, namespace, service, hostnames).

Two placements, one command (details in :mod:`rustnet.enrich.stage`):

* after rn-track: ``rn-capture | rn-dissect | rn-track | rn-enrich | rn-view`` annotates
  ``conn`` records (process, pid, cmdline, user, netns, service, hostname_src/dst);
* right after rn-capture: ``ssh host 'rn-capture | rn-enrich' | rn-view`` passes packets
  through and adds ``sock`` records, joined to connections downstream by
  :class:`rustnet.track.join.SocketJoiner` (rn-track and rn-view do this).

Processes are attributed only for live streams. Modules, one job each:

* ``sockets``   /proc/net/{tcp,tcp6,udp,udp6} parsers, network namespaces
* ``sockdiag``  the same tables through sock_diag netlink (faster; exact one-socket queries)
* ``processes`` socket inode -> pid (the /proc/*/fd scan), name/cmdline/user via psutil
* ``owners``    the polled socket table of every namespace, with owners
* ``watch``     the background watcher that catches short-lived sockets (curl), armed on demand
* ``procevents`` exec events of the kernel's process connector (what arms the watcher first)
* ``localaddr`` the addresses of every namespace: flows with no local end are not looked up
* ``services``  port -> service name;  ``names``  hostnames from DNS answers, reverse DNS
* ``flows``     cheap 5-tuple of a captured frame;  ``stage``  the Enricher stage
* ``macos``     the psutil-only path (unverified on macOS)
"""
