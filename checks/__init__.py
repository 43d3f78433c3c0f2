"""Health checks, one module per check type (installed as ``pyldirectord.checks``).

Every check is ``async def check(target, spec) -> CheckResult`` (``base``): a server's failure
is a result, never an exception, and every check is bounded by its timeout and byte limits.

Use::

    async with Checkers() as checkers:                  # owns the shared HTTP session
        check = checkers.lookup(checktype, service, protocol)   # or UnsupportedCheck
        result = await check(Target(...), CheckSpec(...))

``checktype=N`` is stateful: keep one ``combined.Combined`` per (virtual, real), look up
"negotiate" and "connect", run ``state.next_check()`` and store ``state.after(kind, ok)``.
"""
