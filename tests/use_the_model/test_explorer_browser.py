"""The explorer in a real headless Chromium: it serves this machine only and answers the user."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from fashion_vae.explorer.explorer import Explorer
from fashion_vae.explorer.launcher import launch

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (`make test` installs them as root)",
)
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Schemes that never leave the browser (chrome: its own pages, such as the new tab page that
# may still be loading its resources when the test navigates away).
LOCAL_SCHEMES = {"data", "blob", "chrome", "chrome-untrusted"}
WAIT_S = 60


def _free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def url(explorer: Explorer) -> Iterator[str]:
    """The explorer served on a free port of 127.0.0.1."""
    app = launch(explorer, "127.0.0.1", _free_port())
    yield app.local_url
    app.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Headless Chromium with a fresh profile, recording every request it makes."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1200",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def _requested_urls(driver) -> list[str]:
    """Every URL the page requested (or opened a web socket to) since the last call."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def _src(driver, element_id: str) -> str | None:
    """The address of the image shown in an image component, if any."""
    images = driver.find_elements(By.CSS_SELECTOR, f"#{element_id} img")
    return images[0].get_attribute("src") if images else None


def _status(driver) -> str:
    """The page's status line."""
    return driver.find_element(By.CSS_SELECTOR, "#status").text


def _move_first_slider(driver, wait: WebDriverWait) -> None:
    """Drag the first slider a few steps right and wait for the decoded image to change."""
    before = _src(driver, "decoded")
    driver.find_element(By.CSS_SELECTOR, "input[type=range]").send_keys(Keys.ARROW_RIGHT * 10)
    wait.until(lambda d: _src(d, "decoded") not in (None, before))


def _upload(driver, path: Path) -> None:
    """Give a file to the "Your image" tab's upload button (its hidden file field)."""
    field = "//button[@id='upload']/preceding-sibling::input[@type='file']"
    driver.find_element(By.XPATH, field).send_keys(str(path))


def test_the_page_loads_from_this_machine_only_and_answers(
    browser, url: str, tmp_path: Path
) -> None:
    wait = WebDriverWait(browser, WAIT_S)
    _requested_urls(browser)  # the browser's own start page is not the explorer's
    browser.get(url)
    wait.until(lambda d: _src(d, "decoded") and _src(d, "latent-map"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "input[type=range]")) >= 8

    _move_first_slider(browser, wait)

    photo = np.full((120, 90, 3), 245, np.uint8)  # a dark coat on a white page
    photo[15:105, 20:70] = (40, 30, 90)
    Image.fromarray(photo).save(tmp_path / "coat.png")
    _upload(browser, tmp_path / "coat.png")
    wait.until(lambda d: _src(d, "reconstruction") and "coat.png: nearest class" in _status(d))
    assert _src(browser, "original")

    (tmp_path / "notes.png").write_text("not a picture")
    _upload(browser, tmp_path / "notes.png")
    wait.until(lambda d: "notes.png" in _status(d))
    assert "Not a readable PNG or JPEG image" in _status(browser)
    _move_first_slider(browser, wait)  # the app keeps serving

    urls = _requested_urls(browser)
    from gradio import analytics  # noqa: PLC0415 (imported by the launcher, which set it up)

    assert not analytics.analytics_enabled()
    assert any(urlsplit(u).hostname in LOCAL_HOSTS for u in urls)
    leaving = [
        u
        for u in urls
        if urlsplit(u).scheme not in LOCAL_SCHEMES and urlsplit(u).hostname not in LOCAL_HOSTS
    ]
    assert not leaving, f"requests leaving the machine: {leaving}"


def _click_text(driver, tag: str, text: str) -> None:
    """Click the (first visible) element of `tag` whose text is `text`."""
    elements = driver.find_elements(By.XPATH, f'//{tag}[normalize-space()="{text}"]')
    next(element for element in elements if element.is_displayed()).click()


def test_the_map_interpolation_and_sampling_answer_clicks(
    browser, url: str, explorer: Explorer
) -> None:
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(url)
    wait.until(lambda d: _src(d, "latent-map"))

    # A click on a test image's point, where Gradio reports it in the picture's own pixels.
    picture = browser.find_element(By.CSS_SELECTOR, "#latent-map img")
    natural = browser.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", picture
    )
    box = picture.rect
    scale = min(box["width"] / natural[0], box["height"] / natural[1])
    px, py = explorer.map_view.to_pixels(explorer.test_plane[[0]])[0]
    offset = (
        (box["width"] - natural[0] * scale) / 2 + px * scale - box["width"] / 2,
        (box["height"] - natural[1] * scale) / 2 + py * scale - box["height"] / 2,
    )
    click = ActionChains(browser).move_to_element_with_offset(picture, *map(round, offset)).click()
    click.perform()
    wait.until(lambda d: _status(d).startswith("Test image") and _src(d, "original"))

    _click_text(browser, "button", "Interpolation")
    _click_text(browser, "button", "Start ← the sliders' code")
    _move_first_slider(browser, wait)
    _click_text(browser, "button", "End ← the sliders' code")
    _click_text(browser, "button", "Interpolate")
    wait.until(lambda d: _src(d, "interpolation"))

    _click_text(browser, "button", "Sampling")
    _click_text(browser, "button", "Mixture")
    wait.until(lambda d: _src(d, "samples"))
    first = _src(browser, "samples")
    _click_text(browser, "button", "Sneaker")
    wait.until(lambda d: _src(d, "samples") not in (None, first))
