"""End to end in a real browser: ``opsgraph console`` on a free port, driven by headless Chromium.

The data home holds real offline runs (supply-chain runs stopped at a purchase-order approval
and finished runs of other workflows). Chromium logs in, the KPI page draws its charts, an
approver approves a pending purchase order from the inbox and the run then shows completed,
and a viewer is refused, on the page and on the POST itself. With OPSGRAPH_CONSOLE_SCREENSHOT
set to a file name, the KPI page is saved there (docs/console.png is made this way).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("Chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver); "
                "the console cannot be driven in a browser", allow_module_level=True)
pytest.importorskip("selenium", reason="selenium is not installed (test extra)")
pytest.importorskip("uvicorn", reason="the console extra is not installed: pip install -e '.[console]'")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from opsgraph.governance.audit import AuditStore  # noqa: E402
from opsgraph.resources import default_policy_path  # noqa: E402
from tests.support.cli import isolated_env  # noqa: E402
from tests.support.console import USERS, console_settings, policy_with_users, seed_history  # noqa: E402

START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def console(tmp_path_factory, shared_retriever):
    """(base URL, settings, threads): the console serving a seeded data home in its own process."""
    root = tmp_path_factory.mktemp("console-browser")
    policy = policy_with_users(default_policy_path(), root / "policy.yaml")
    home = root / "home"
    settings = console_settings(home, policy)
    threads = seed_history(settings, pending=2, retriever=shared_retriever)
    # The console's runs use the knowledge store of their data home: give it the one already ingested.
    shutil.copytree(shared_retriever.settings.chroma_path, settings.chroma_path, dirs_exist_ok=True)
    port = _free_port()
    log = (root / "console.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "opsgraph", "console", "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, cwd=root, env=isolated_env(home, OPSGRAPH_POLICY=str(policy)))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc, root / "console.log")
        yield base, settings, threads
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _wait_until_up(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"opsgraph console exited with {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"opsgraph console did not answer within {START_TIMEOUT_S} s: {log.read_text()}")


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(RUN_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver, base: str, name: str) -> None:
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(USERS[name][1])
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "who"))
    assert driver.find_element(By.ID, "who").text.startswith(name)


def registry_status(settings, thread: str) -> str:
    store = AuditStore(settings.audit_path)
    try:
        return store.run(thread).status
    finally:
        store.close()


def test_kpis_approve_from_the_inbox_and_a_viewer_refused(console, browser):
    base, settings, threads = console
    log_in(browser, base, "dana")
    assert browser.current_url.endswith("/kpis")
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 5
    for chart in charts:  # drawn: laid out with a size, and made of real shapes
        assert chart.size["width"] > 200 and chart.size["height"] > 100
        assert len(chart.find_elements(By.CSS_SELECTOR, "path")) > 3
    runs = len(threads["pending"]) + len(threads["finished"])
    assert browser.find_element(By.ID, "kpi-runs").text == str(runs)

    thread = threads["pending"][0]
    browser.get(f"{base}/inbox")
    card = browser.find_element(By.ID, f"approval-{thread}")
    assert "create_purchase_order" in card.text and "approvals.purchase_order.threshold_usd" in card.text
    card.find_element(By.CSS_SELECTOR, "input[name=reason]").send_keys("approved in the browser")
    card.find_element(By.CSS_SELECTOR, "button.approve").click()
    WebDriverWait(browser, RUN_TIMEOUT_S).until(lambda d: d.find_elements(By.ID, "run-status"))
    assert browser.find_element(By.ID, "run-status").text == "completed"
    assert f"approved by dana; run {thread} is now completed" in browser.find_element(By.ID, "flash").text
    assert registry_status(settings, thread) == "completed"

    screenshot = os.environ.get("OPSGRAPH_CONSOLE_SCREENSHOT")
    if screenshot:
        browser.get(f"{base}/kpis")
        browser.save_screenshot(screenshot)

    browser.find_element(By.ID, "logout").click()
    log_in(browser, base, "vic")
    other = threads["pending"][1]
    browser.get(f"{base}/inbox")
    card = browser.find_element(By.ID, f"approval-{other}")
    assert not card.find_elements(By.CSS_SELECTOR, "button.approve")
    assert "Only an approver can decide" in card.text
    # The page hides the buttons; the server refuses the POST itself.
    answer = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"fetch('/inbox/{other}/decide', {{method: 'POST', body: new URLSearchParams({{decision: 'approve'}})}})"
        ".then(r => r.text().then(t => done([r.status, t])));")
    assert answer[0] == 403 and "vic is a viewer: only an approver may approve, reject or edit" in answer[1]
    assert registry_status(settings, other) == "awaiting_approval"
