"""The LVS lab used by `make demo` and the end-to-end tests: network namespaces, real servers.

Everything here runs inside the User-Mode Linux sandbox (tools/uml-run), as root, and only
ever addresses the namespaces it creates itself.
"""
