"""Compatibility mode: run an upstream QEMU tree's tests/qemu-iotests with this runner.

One concern per module:

- :mod:`.discovery`: upstream's numbered and named tests and their ``# group:`` lines;
- :mod:`.selection`: upstream's rules for groups, names and ``--start-from``;
- :mod:`.environment`: the variables upstream's ``check`` exports to each test;
- :mod:`.expected`: upstream's reference-output lookup;
- :mod:`.suite`: the :class:`~iotests.runner.execution.Suite` that ties them together;
- :mod:`.mode`: the :class:`~iotests.plan.Mode` the CLI picks once for an upstream run;
- :mod:`.options`: the ``iotests check`` command line in upstream's spellings;
- :mod:`.verdicts`: reading upstream ``check`` output, comparing verdict tables.
"""
