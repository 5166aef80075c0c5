"""The release report as a release manager opens it: real runs, real reports, a real browser.

Three runs of the real runner on real QEMU (``python -m iotests run ...
--json``) make the reports: a baseline where case 002 passed; then raw,
with --rerun-failures 1, where 002 fails against its changed golden, 003
fails once and passes when re-run (a counter file: flaky), and 004 hangs
with a qemu-storage-daemon holding a backup job throttled to 1 byte/s until
its 3-second timeout (a hang record); then qcow2. ``iotests report`` merges
them into HTML against the baseline, and headless Chromium loads the page:
the assertions are on the DOM it built, and a screenshot is taken.

Set IOTESTS_REPORT_ARTIFACTS=DIR to keep the page (with the files it links)
and the screenshot, DIR/screenshot.png, as a CI artifact.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html  # type: ignore[import-untyped]  # lxml ships no type hints
from support.cases import WRITE_READ, WRITE_READ_GOLDEN
from support.project import Project, make_project, needs_qemu

from iotests import command
from iotests.exitcodes import ExitCode

CHROMIUM = command.which("chromium")
pytestmark = [
    pytest.mark.qemu,
    needs_qemu,
    pytest.mark.skipif(
        not command.which("qemu-storage-daemon"), reason="qemu-storage-daemon not installed"
    ),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium not installed (Debian's chromium package; "
        "IOTESTS_BUILD_DEPS=1 scripts/install-deps installs it)",
    ),
]

#: Fails on its first attempt in the project (an extra line), passes on every later one.
FLAKY = (
    """
import os
from pathlib import Path
counter = Path(os.environ["TEST_DIR"]).parents[3] / "flaky-count"
attempt = int(counter.read_text()) if counter.exists() else 0
counter.write_text(str(attempt + 1))
if not attempt:
    print("first attempt: a race lost")
"""
    + WRITE_READ
)
#: A backup job that cannot finish (1 byte/s) in a storage daemon with a
#: spare monitor, so that the hang record can ask it what it is doing.
HANGING = """
import os, time
from iotests import lib
src, dst = lib.test_image("src"), lib.test_image("dst")
lib.create(src, "64M", quiet=True)
lib.create(dst, "64M", quiet=True)
spare = os.path.join(os.environ["SOCK_DIR"], "spare.qmp")
monitor = ["--chardev", f"socket,id=spare,path={spare},server=on,wait=off", "--monitor", "chardev=spare"]
nodes = lib.blockdev_arg(lib.blockdev("src", src)) + lib.blockdev_arg(lib.blockdev("dst", dst))
with lib.QMPServer("qsd", monitor + nodes) as qsd:
    lib.guest_io(qsd, "src", "write -P 0x5a 0 8M")
    job = lib.Job.start(qsd, "blockdev-backup", "stuck", device="src", target="dst", sync="full", speed=1)
    job.wait_status("running")
    print("the backup holds its job at 1 byte/s", flush=True)
    time.sleep(600)
"""
WIDTH, HEIGHT = 1280, 2400


@dataclass
class Page:
    project: Project
    out: Path
    reports: list[Path]
    report: command.Completed
    dom: Any
    screenshot: Path

    def results(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for path in self.reports:
            found += json.loads(path.read_text())["results"]
        return found


def _run(project: Project, *args: str) -> command.Completed:
    done = project.run("run", "--timeout", "120", *args)
    assert done.returncode in (ExitCode.OK, ExitCode.FAILED), done.stdout + done.stderr
    return done


def _chromium(profile: Path, *args: str) -> command.Completed:
    return command.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            *args,
        ],
        timeout=120,
        merge_stderr=False,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Page:
    project = make_project(tmp_path_factory.mktemp("release"))
    project.case("001", "# group: quick", WRITE_READ, WRITE_READ_GOLDEN)
    project.case("002", "# group: quick", WRITE_READ, WRITE_READ_GOLDEN)
    project.case("003", "# group: quick", FLAKY, WRITE_READ_GOLDEN)
    hang = "# group: quick\n# formats: raw\n# requires: qsd\n# timeout: 3"
    project.case("004", hang, HANGING, "never compared\n")
    project.case("005", "# group: quick\n# formats: qcow2", WRITE_READ, WRITE_READ_GOLDEN)
    root = project.root
    baseline = root / "baseline.json"
    assert _run(project, "-f", "raw", "--json", str(baseline), "001", "002").returncode == 0
    golden = (project.expected / "002.out").read_text()
    (project.expected / "002.out").write_text(golden.replace("4096/4096", "8192/8192", 1))
    reports = [root / "raw.json", root / "qcow2.json"]
    _run(project, "-f", "raw", "--rerun-failures", "1", "--json", str(reports[0]))
    _run(project, "-f", "qcow2", "--json", str(reports[1]))
    out = root / "html"
    report = project.run(
        "report", *map(str, reports), "--html", str(out), "--baseline", str(baseline),
        "--markdown", str(root / "report.md"),
    )  # fmt: skip
    url = (out / "index.html").as_uri()
    dom = _chromium(root / "profile", "--dump-dom", url).stdout
    screenshot = root / "screenshot.png"
    _chromium(
        root / "profile", f"--screenshot={screenshot}", f"--window-size={WIDTH},{HEIGHT}", url
    )
    keep = os.environ.get("IOTESTS_REPORT_ARTIFACTS")
    if keep:
        shutil.copytree(out, Path(keep).resolve(), dirs_exist_ok=True)
        shutil.copyfile(screenshot, Path(keep).resolve() / "screenshot.png")
    return Page(project, out, reports, report, lxml_html.fromstring(dom), screenshot)


def test_only_the_case_that_passed_in_the_baseline_fails_the_report(page: Page) -> None:
    assert page.report.returncode == ExitCode.FAILED, page.report.stderr
    md = (page.project.root / "report.md").read_text()
    assert "Newly failing: 1\n- 002 (raw): fail\n" in md, (
        "not 002 on qcow2, nor 004: not in the baseline"
    )
    (section,) = page.dom.xpath("//section[@id='baseline']")
    assert section.xpath(".//h3/text()")[0] == "Newly failing (passed in the baseline): 1"


def test_the_header_names_what_the_reports_recorded(page: Page) -> None:
    facts = dict(
        zip(
            page.dom.xpath("//dl[@class='facts']/dt/text()"),
            page.dom.xpath("//dl[@class='facts']/dd/text()"),
            strict=True,
        )
    )
    envs = [json.loads(p.read_text()) for p in page.reports]
    assert (
        facts["QEMU"]
        == envs[0]["environment"]["qemu_version"]
        == envs[1]["environment"]["qemu_version"]
    )
    assert facts["Hosts"] == envs[0]["host"]
    assert facts["Flavours"] == "none (binaries the toolkit did not build)"
    assert facts["Run reports (2)"] == "raw.json, qcow2.json"
    assert not page.dom.xpath("//script"), "readable without JavaScript: there is none"


def test_the_matrix_has_failing_rows_first(page: Page) -> None:
    rows = page.dom.xpath("//table[@class='matrix']/tbody/tr")
    assert [r.get("data-case") for r in rows] == ["002", "004", "003", "001", "005"]
    assert [
        " ".join(th.itertext()) for th in page.dom.xpath("//table[@class='matrix']/thead/tr/th")
    ] == [
        "case",
        "qcow2 file",
        "raw file",
    ]
    cells = {r.get("data-case"): [td.get("data-status") for td in r.xpath("td")] for r in rows}
    assert cells == {
        "002": ["fail", "fail"],
        "004": ["not run", "timeout"],
        "003": ["pass", "flaky"],
        "001": ["pass", "pass"],
        "005": ["pass", "not run"],
    }
    new = page.dom.xpath("//tr[@data-case='002']/td//a[contains(., '(new)')]")
    assert len(new) == 1, "new on raw, where it passed; not on qcow2, which had no baseline"


def test_the_bars_count_what_the_reports_hold(page: Page) -> None:
    drawn = {
        bar.get("data-column"): {
            rect.get("data-status"): int(rect.get("data-count"))
            for rect in bar.xpath(".//*[local-name()='rect']")
        }
        for bar in page.dom.xpath("//*[local-name()='g'][@class='bar']")
    }
    counted: dict[str, Counter[str]] = {}
    for r in page.results():
        counted.setdefault(r["format"], Counter())[r["status"]] += 1
    assert drawn == {fmt: dict(c) for fmt, c in counted.items()}
    assert drawn == {
        "qcow2": {"fail": 1, "pass": 3, "not run": 1},
        "raw": {"fail": 1, "timeout": 1, "flaky": 1, "pass": 1, "not run": 1},
    }
    slowest = page.dom.xpath("//*[local-name()='g'][@class='slow']/@data-case")
    assert slowest[0] == "004", "the hung case took longest"


def test_the_hang_record_is_one_click_away(page: Page) -> None:
    entry = page.dom.xpath("//section[@class='entry'][@data-status='timeout']")[0]
    assert "004" in entry.xpath("h3")[0].text_content()
    (href,) = entry.xpath(".//a[@class='hang']/@href")
    record = (page.out / href).read_text()
    assert record.startswith("Hang record: timed out after 3s")
    assert '"id": "stuck"' in record, "the storage daemon's job, asked over its spare monitor"
    summary = entry.xpath(".//ul[@class='hang-summary']/li/text()")
    assert any("job stuck: backup running" in line for line in summary), summary
    (output,) = entry.xpath(".//a[@class='output']/@href")
    assert (page.out / output).read_text().endswith("the backup holds its job at 1 byte/s\n")
    assert entry.xpath(".//details[@class='hang']/summary/text()")[0].startswith("hang record (")


def test_the_flake_is_shown_as_flaky_with_its_failed_attempt(page: Page) -> None:
    entry = page.dom.xpath("//section[@class='entry'][@data-status='flaky']")[0]
    assert entry.xpath(".//p[@class='reason']/text()") == [
        "passed on attempt 2 after failing: output differs from 003.out"
    ]
    assert entry.xpath(".//pre[@class='diff']/span[@class='add']/text()") == [
        "+first attempt: a race lost"
    ]
    (output,) = entry.xpath(".//a[@class='output']/@href")
    assert (page.out / output).read_text().startswith("first attempt: a race lost\n")
    assert page.dom.xpath("//tr[@data-case='003']/td[@data-status='flaky']//a/@href") == [
        f"#{entry.get('id')}"
    ]


def test_cases_not_run_are_grouped_by_reason(page: Page) -> None:
    reasons = [li.text_content() for li in page.dom.xpath("//ul[@class='notrun']/li")]
    assert reasons == [
        "format qcow2 not supported by this case (1): 004 qcow2",
        "format raw not supported by this case (1): 005 raw",
    ]


def test_a_screenshot_was_taken(page: Page) -> None:
    data = page.screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(data) > 20_000, "a page with charts and text, not a blank one"
