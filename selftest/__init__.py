"""The suite testing itself against the emulated HAN: the mutation run, the campaigns over
the imperfect HAN and the reference captures.

Why a room of its own and not ``verify/``: ``verify`` is the judge and sees only the trace.
These self-tests drive the emulator (fault profiles, HAN variants, sniffer misses) and the
targets (capture sets written and replayed), then run the whole suite as a user does and
compare its verdicts with what each fault or capture should give. They stand above every
other room and nothing of the suite imports them.

- ``suite``: the suite as a function, (target, DUT, profile) -> {scenario: verdict}
- ``mutation``: ``make mutation``, every fault profile caught on its own requirement only
- ``campaigns``: the campaigns of ``make mutation`` over the imperfect HAN
- ``refcaptures``: ``make pcaps``, the reference captures in ``pcaps/`` and their verdicts
"""
