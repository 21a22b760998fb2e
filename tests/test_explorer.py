"""/docs: the API explorer, served from local assets, driven for real in headless Chromium."""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness import poll
from tests.support import BridgeProcess, bridge_process

KEY = "explorer-key"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARGUMENTS = {"data": [1, 2, 3, 4], "metrics": ["mean"]}


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    with bridge_process(tmp_path_factory.mktemp("explorer"), None, "--api-key", KEY) as running:
        yield running


def test_docs_page_is_local_with_a_strict_policy(bridge: BridgeProcess) -> None:
    page = requests.get(bridge.url + "/docs", timeout=30)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "http://" not in page.text
    assert "https://" not in page.text
    css = requests.get(bridge.url + "/docs/assets/swagger-ui.css", timeout=30)
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert len(css.content) > 10_000
    for probe in ("/docs/assets/..%2f..%2fapp.py", "/docs/assets/nothing.js", "/docs/assets/../../etc/passwd"):
        assert requests.get(bridge.url + probe, timeout=30).status_code == 404


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    # A skip here would pass the suite with the explorer never driven: missing tools fail it.
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    assert not missing, f"not installed: {missing}; .ci/run installs Debian's chromium and chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,2400",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _requested_hosts(driver: Any) -> set[str]:
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.startswith("http"):
                hosts.add(url.split("/")[2].split(":")[0])
    return hosts


def test_try_it_out_calls_a_tool_through_the_page(bridge: BridgeProcess, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def find(css: str) -> Any:
        return poll(lambda: [e for e in browser.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()], timeout=30)[0]

    browser.get(bridge.url + "/docs")
    assert "mcp-rest-bridge" in find(".swagger-ui .info .title").text

    find("button.authorize").click()
    find(".auth-container input[type=text], .auth-container input[type=password]")  # the dialog is open
    containers = browser.find_elements(By.CSS_SELECTOR, ".auth-container")
    target = next(c for c in containers if "apiKeyAuth" in c.text)
    target.find_element(By.CSS_SELECTOR, "input").send_keys(KEY)
    target.find_element(By.CSS_SELECTOR, "button.authorize").click()
    find("button.btn-done").click()

    find("#operations-tools-callServerTool .opblock-summary").click()
    operation = find("#operations-tools-callServerTool")
    tried = operation.find_elements(By.CSS_SELECTOR, "button.try-out__btn")
    if tried and tried[0].text.strip() == "Try it out":
        tried[0].click()
    # The fields are React-controlled and prefilled from the spec's examples: select all, then type.
    for css, value in (
        ("input[placeholder='server']", "demo"),
        ("input[placeholder='tool']", "analyze_data"),
        ("textarea.body-param__text", json.dumps(ARGUMENTS)),
    ):
        field = operation.find_element(By.CSS_SELECTOR, css)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.DELETE)
        field.send_keys(value)
    operation.find_element(By.CSS_SELECTOR, "button.execute").click()

    status = poll(
        lambda: [
            e.text
            for e in operation.find_elements(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status")
            if e.text.strip()
        ],
        timeout=30,
    )[0]
    browser.save_screenshot(str(tmp_path / "explorer.png"))
    shown = operation.find_element(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_description")
    assert status.strip() == "200", shown.text
    # The body the page shows is the whole body the same call answers without a browser.
    body = shown.find_element(By.CSS_SELECTOR, ".highlight-code pre").text
    direct = requests.post(
        bridge.url + "/servers/demo/tools/analyze_data", json=ARGUMENTS, headers={"X-API-Key": KEY}, timeout=30
    )
    assert json.loads(body) == direct.json()
    assert direct.json()["structuredContent"] == {"metrics": {"mean": 2.5}, "count": 4}
    assert _requested_hosts(browser) <= {"127.0.0.1"}
