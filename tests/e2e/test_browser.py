"""A real browser on the page of a running `readybot demo`: Debian's chromium, driven through its
own chromedriver by selenium (never a downloaded browser: the driver path is given, so
selenium-manager has nothing to fetch). The demo runs as the command a user types, on a 4x
clock so the simulated target alert comes within seconds.

Screenshots of each step are saved under tests/artifacts/browser/ (gitignored; CI keeps them);
any SEVERE entry in the browser console fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
WAIT = 60  # seconds, the bound on each wait for something the page must show
URL_LINE = re.compile(r"Open the sandbox in your browser:\s+(http://\S+)")


def _missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: apt-get install chromium chromium-driver (.ci/run does)"
    return None


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory) -> Iterator[str]:  # noqa: ANN001
    """`readybot demo` as a user starts it, on free ports; its page URL from what it prints."""
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cwd = tmp_path_factory.mktemp("demo-cwd")
    # TMPDIR: the demo's fresh database goes under the test's folder, which pytest cleans up.
    env = {**os.environ, "READYBOT_SECRET_KEY": "browser-test-key", "PYTHONUNBUFFERED": "1", "TMPDIR": str(cwd)}
    env.pop("READYBOT_DATABASE_URL", None)
    log = (cwd / "demo.log").open("w+")
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "demo", "--port", "0", "--sandbox-port", "0",
                             "--speed", "4"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + WAIT
        while not (found := URL_LINE.search((cwd / "demo.log").read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, (cwd / "demo.log").read_text()
            time.sleep(0.1)  # polling the demo's output for its URL, bounded by the deadline
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser(sandbox_url) -> Iterator:  # noqa: ANN001
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    print(f"\nbrowser screenshots: {ARTIFACTS}")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,900",
                "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.get(sandbox_url)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver, name: str) -> None:  # noqa: ANN001
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    print(f"screenshot: {path}")


def wait(driver, condition, what: str):  # noqa: ANN001, ANN201
    """Poll the page until condition(driver) is truthy, at most WAIT seconds."""
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
                             ).until(condition)
    except TimeoutException:
        shot(driver, "timeout")
        raise AssertionError(f"the page never showed {what}") from None


def text_of(driver, css: str) -> str:  # noqa: ANN001
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))


def no_console_errors(driver) -> None:  # noqa: ANN001
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, f"browser console errors: {severe}"


def message_with(driver, needle: str):  # noqa: ANN001, ANN201
    found = [m for m in driver.find_elements(By.CSS_SELECTOR, "#feed .message") if needle in m.text]
    return found[-1] if found else None


def button(container, label: str):  # noqa: ANN001, ANN201
    if container is None:
        return None
    return next((b for b in container.find_elements(By.CSS_SELECTOR, "button.btn") if b.text == label), None)


def click(driver, needle: str, label: str) -> None:  # noqa: ANN001
    """Click a button on the latest message containing needle. The page redraws the feed when
    the state changes, so the element is looked up again until the click lands."""
    def clicked(d) -> bool:  # noqa: ANN001
        found = button(message_with(d, needle), label)
        if found is None:
            return False
        found.click()
        return True
    wait(driver, clicked, f'the "{label}" button on "{needle}"')


def test_a_user_tries_the_demo_in_a_browser(browser):
    driver = browser
    wait(driver, lambda d: "ml-team" in text_of(d, "#title"), "#ml-team")
    assert "simulated" in text_of(driver, "#banner")  # every screen says it is the demo
    shot(driver, "1-opened")

    # /ready runs answers with the table of the channel's runs
    box = driver.find_element(By.ID, "message")
    box.send_keys("/ready runs", Keys.ENTER)
    wait(driver, lambda d: "llama-pretrain" in text_of(d, "#feed .message.ephemeral")
         and "resnet50-finetune" in text_of(d, "#feed .message.ephemeral"), "the /ready runs table")
    shot(driver, "2-ready-runs")

    # the simulated run reaches its target: the alert, its chart one click away in the thread
    wait(driver, lambda d: message_with(d, "reached its target"), "the target alert")
    wait(driver, lambda d: "1 reply" in text_of(d, "#feed .reply-count"), "the chart's thread collapsed under 1 reply")
    assert not driver.find_elements(By.CSS_SELECTOR, "#feed .file img")  # the reply is not in the channel
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#feed .reply-count").click() or True, "a click on 1 reply")
    wait(driver, lambda d: d.execute_script(
        "const img = document.querySelector('#thread-pane .file img'); return img && img.naturalWidth") == 960,
        "the 2x chart in the thread")
    assert driver.find_element(By.ID, "feed").is_displayed()  # the thread opens beside the channel
    red = wait(driver, lambda d: (b := button(message_with(d, "reached its target"), "Mute this target"))
               and b.value_of_css_property("background-color"), "the danger button")
    assert red == "rgba(224, 30, 90, 1)"  # Slack's red
    shot(driver, "3-target-alert-and-thread")

    # Acknowledge: the bot edits the alert in place
    click(driver, "reached its target", "Acknowledge")
    wait(driver, lambda d: (m := message_with(d, "reached its target")) and "(edited)" in m.text
         and button(m, "Acknowledge") is None, "the alert edited after Acknowledge")
    shot(driver, "4-acknowledged")

    # the review form from the alert: a required field left empty, then a time in the past
    click(driver, "reached its target", "Schedule results review")
    modal = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".modal"), "the review form")
    field = modal.find_element(By.CSS_SELECTOR, '[data-block="title"]')
    field.send_keys("Fine-tune readout")
    modal.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    when_error = modal.find_element(By.CSS_SELECTOR, '[data-error-for="when"]')
    wait(driver, lambda d: when_error.text == "Please complete this required field.", "the required-field message")
    shot(driver, "5-review-required-field")
    modal.find_element(By.CSS_SELECTOR, '[data-block="when"]').send_keys("2020-01-06 10:00")
    modal.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, lambda d: when_error.text and "required" not in when_error.text, "the bot's error under When")
    assert "has already passed" in when_error.text, when_error.text
    assert driver.find_elements(By.CSS_SELECTOR, ".modal")  # errors keep the modal open
    shot(driver, "6-review-error")
    modal.find_element(By.XPATH, './/button[text()="Cancel"]').click()
    wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, ".modal"), "the modal closed")

    # unread marks: the standup question arrived in the DM with the bot
    dm = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#dm-list .nav-item.unread .count"), "an unread DM")
    assert int(dm.text) >= 1

    # App Home
    driver.find_element(By.ID, "home-link").click()
    wait(driver, lambda d: "Home" in text_of(d, "#title") and d.find_elements(By.CSS_SELECTOR, "#feed .home"),
         "the published Home tab")
    shot(driver, "7-app-home")
    no_console_errors(driver)
