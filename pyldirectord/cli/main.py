"""argv -> action. The ldirectord-compatible command line lives here; decisions live elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyldirectord import __version__
from pyldirectord.cli.wiring import run_ldirectord

VERSION_TEXT = f"""Linux Director v1.186-ha (pyldirectord {__version__})
1999-2006 Jacob Rief, Horms and others
<http://www.vergenet.net/linux/ldirectord/>

pyldirectord comes with ABSOLUTELY NO WARRANTY.
This is free software, and you are welcome to redistribute it
under certain conditions. See the GNU General Public Licence for details.
"""

USAGE_TEXT = """Usage:
    ldirectord [-d|--debug] [--] [ldirectord.cf]
    start|stop|restart|try-restart|reload|force-reload|status

    ldirectord [-h|--help|-v|--version]

    pyldirectord --check-config [--json] [ldirectord.cf]
    pyldirectord --probe [ldirectord.cf]
    pyldirectord --plan [ldirectord.cf]

"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Each tool is imported only when asked for: `status`, which cluster managers run every
    # few seconds, must not pay for aiohttp and pyroute2.
    # Long names only: the reference has no -t (nor -p), and `ldirectord -t ...` must stay
    # its "Unknown option: t" and usage, exit 255.
    if args and args[0] == "--check-config":
        from pyldirectord.cli import checkconfig

        code = checkconfig.main(args[1:])
        if code is not None:
            return code
    if args and args[0] in ("--probe", "--plan"):
        from pyldirectord.cli import plan, probe

        code = (probe.main if args[0] == "--probe" else plan.main)(args[1:])
        if code is not None:
            return code
    # The ldirectord-compatible command line (options, CONFIG, actions) lives in lifecycle.
    return run_ldirectord(args, usage_text=USAGE_TEXT, version_text=VERSION_TEXT)


if __name__ == "__main__":
    raise SystemExit(main())
