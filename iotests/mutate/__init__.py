"""How strong the suite is on QEMU itself: coverage per case, mutants, change-based selection.

- :mod:`~iotests.mutate.engine`: mutants of C sources (tree-sitter), pure;
- :mod:`~iotests.mutate.covmap`: which case executed which lines, pure;
- :mod:`~iotests.mutate.percase`: building that map from a gcov build, one prefix per case;
- :mod:`~iotests.mutate.select`: the cases a change can affect (``iotests run --changed``);
- :mod:`~iotests.mutate.campaign`: a mutation run on a copy of the source, resumable;
- :mod:`~iotests.mutate.report`: scores and survivors as mutation-testing-elements JSON,
  Markdown and HTML.
"""
