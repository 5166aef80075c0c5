"""Getting QEMU built the way the tests need it.

One concern per module, in the order a build flows::

    config      the ``build:`` section of iotests.yaml, validated where it enters
    sources     where the source comes from (release, tarball, tree, Debian)
    fetch       HTTP download with resume, retries and a progress bar
    verify      SHA-256 and detached GPG signature checks
    extract     tar extraction that refuses members escaping the target
    profiles    named configure option sets (tools, system, asan, gcov)
    deps        build dependencies per distribution: check, print, install
    cache       the cache directory, build keys, locks, default_build_dir()
    builder     configure + ninja into the cache, no-op when already built
    manifest    what was built and how (JSON beside each build)
    sanitizers  finding ASan/UBSan/LSan reports in output
    coverage    gcovr reports for gcov builds
    report      merging run reports: Markdown, HTML, JUnit, baseline diff
    actions     the tasks as functions (tasks.py, noxfile.py and benchmarks call these)
"""
