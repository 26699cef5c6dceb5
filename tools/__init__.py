"""The mock enterprise (ERP, WMS, TMS, CRM, billing, notifications) and the tools that wrap it.

Nothing here is created at import time: open a :class:`tools.world.World` and pass it to
:func:`tools.catalog.build_tools`.
"""
