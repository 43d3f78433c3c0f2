"""Health checks, one module per check type, importable only as ``pyldirectord.checks``.

Every check is ``async def check(target, spec) -> CheckResult`` (``base``): a server's failure
is a result, never an exception, and every check is bounded by its timeout and byte limits.

Use::

    async with Checkers() as checkers:                  # owns the shared HTTP session
        check = checkers.lookup(checktype, service, protocol)   # or UnsupportedCheck
        result = await check(Target(...), CheckSpec(...))

``checktype=N`` is stateful: keep one ``combined.Combined`` per (virtual, real), look up
"negotiate" and "connect", run ``state.next_check()`` and store ``state.after(kind, ok)``.
"""

# checks/ sits at the top of the checkout, which `python -m` and pytest put on sys.path: imported
# as plain ``checks`` its modules would be a second copy with their own classes. The package is
# reached through the symlink pyldirectord/checks -> ../checks, and only there.
if __name__ != "pyldirectord.checks":
    raise ImportError(f"{__name__!r}: import pyldirectord.checks, not the checks/ directory")
