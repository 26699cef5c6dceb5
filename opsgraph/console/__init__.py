"""The web console for operations leaders: KPIs, runs with drill-down, an approvals inbox, login and roles.

Install with the ``console`` extra and start with ``opsgraph console``; see docs/console.md.
"""
