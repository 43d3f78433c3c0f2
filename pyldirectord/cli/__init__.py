"""The command-line tools: the ldirectord-compatible actions (``main``), ``--check-config``,
``--plan`` and ``--probe``, the pid file and daemonising."""
