"""Requirement checks, one module per area: each function judges one rule on a Trace.

Every check returns the ``Evidence`` a pass rests on, or raises ``Violation``,
``Inconclusive`` or ``NotApplicable``. Checks read the trace only (never emulator state),
so the same check judges an emulated HAN and a real capture.
"""
