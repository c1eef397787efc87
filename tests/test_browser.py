"""The trace's HTML page in a real browser (headless Chromium through Selenium): clicking or
focusing an element shows its worked formula and highlights its operands, no card overflows at
480 or 1400 pixels wide, and the page logs no script error."""

import shutil

import numpy as np
import pytest
from helpers.system import needs_browser

import handgrad as hg
from handgrad.explain import notebook, seed_trace

pytestmark = needs_browser

# The closed network of the test machines refuses Chromium's background connections.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    seed = folder / "seed.html"
    seed.write_text(seed_trace(lr=0.01).to_html(), encoding="utf-8")
    rng = np.random.default_rng(0)
    cnn = hg.Sequential(
        [hg.Conv2D(1, 4, 3, padding="same", rng=rng), hg.BatchNorm(4), hg.ReLU(),
         hg.MaxPool2D(2), hg.Flatten(), hg.Dropout(0.25, rng=1), hg.Dense(64, 10, rng=rng)]
    )  # fmt: skip
    images = rng.random((2, 8, 8, 1))
    step = hg.trace(cnn, images, [5, 3], hg.CrossEntropyLoss(), lr=0.05)
    path = folder / "cnn.html"
    path.write_text(step.to_html(), encoding="utf-8")
    valid = hg.Sequential([hg.Conv2D(1, 2, 3, rng=rng), hg.Flatten(), hg.Dense(72, 3, rng=rng)])
    window = folder / "window.html"
    step = hg.trace(valid, rng.random((2, 8, 8, 1)), [0, 2], hg.CrossEntropyLoss())
    window.write_text(step.to_html(), encoding="utf-8")
    model, x, target = notebook.backprop_network()
    steps = folder / "steps.html"
    steps.write_text(
        hg.trace(model, x, target, hg.MSELoss(), lr=0.01, steps=3).to_html(), encoding="utf-8"
    )
    return {
        "seed": seed.as_uri(),
        "cnn": path.as_uri(),
        "window": window.as_uri(),
        "steps": steps.as_uri(),
    }


def errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def card_of(driver, formula: str):
    from selenium.webdriver.common.by import By

    for entry in driver.find_elements(By.CSS_SELECTOR, "div.entry"):
        if entry.find_element(By.CSS_SELECTOR, "p.formula code").text == formula:
            return entry
    raise AssertionError(f"no card for {formula}")


def test_clicking_an_element_shows_its_worked_formula_and_its_operands(browser, pages):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1400, 900)
    browser.get(pages["seed"])
    card = card_of(browser, "dL/dW3 = A2ᵀ · dL/dZ3")
    box = card.find_element(By.CSS_SELECTOR, "div.explain")
    assert not box.is_displayed()
    card.find_element(By.CSS_SELECTOR, 'figure.result td[data-k="1,0"]').click()
    assert box.is_displayed()
    assert box.find_element(By.CSS_SELECTOR, "code.what").text == "dL/dW3[1, 0]"
    lines = [li.text for li in box.find_elements(By.CSS_SELECTOR, "ol li")]
    assert lines == ["dL/dW3[1, 0] = Σ_i A2[i, 1] · dL/dZ3[i, 0] = 6.4972·6.188368 = 40.20706"]
    used = {
        (td.find_element(By.XPATH, "ancestor::figure").get_attribute("data-sym"),
         td.get_attribute("data-k"), td.text)
        for td in card.find_elements(By.CSS_SELECTOR, "td.used")
    }  # fmt: skip
    assert used == {("A2", "0,1", "6.4972"), ("dL/dZ3", "0,0", "6.188368")}
    picked = card.find_elements(By.CSS_SELECTOR, "td.picked")
    assert [td.text for td in picked] == ["40.20706"]
    # another element replaces the first
    card.find_element(By.CSS_SELECTOR, 'figure.result td[data-k="0,0"]').click()
    assert box.find_element(By.CSS_SELECTOR, "code.what").text == "dL/dW3[0, 0]"
    assert len(card.find_elements(By.CSS_SELECTOR, "td.used")) == 2
    assert errors(browser) == []


def test_focusing_an_element_by_keyboard_shows_it_too(browser, pages):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(pages["seed"])
    card = card_of(browser, "Z1 = A0 · W1 + b1")
    first = card.find_element(By.CSS_SELECTOR, 'figure.result td[data-k="0,0"]')
    browser.execute_script("arguments[0].focus()", first)
    first.send_keys(Keys.TAB)  # the next element of Z1
    box = card.find_element(By.CSS_SELECTOR, "div.explain")
    assert box.find_element(By.CSS_SELECTOR, "code.what").text == "Z1[0, 1]"
    lines = [li.text for li in box.find_elements(By.CSS_SELECTOR, "ol li")]
    assert lines[1:] == ["= 1·0.2 + 2·0.23 + 3·0.21 + 2", "= 1.29 + 2 = 3.29"]
    assert errors(browser) == []


def test_a_convolutions_element_highlights_its_window(browser, pages):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1400, 900)
    browser.get(pages["cnn"])
    card = None
    for entry in browser.find_elements(By.CSS_SELECTOR, "div.entry"):
        if entry.find_elements(By.CSS_SELECTOR, 'figure.result[data-sym="Z1"] td[tabindex]'):
            card = entry
            break
    assert card is not None
    card.find_element(By.CSS_SELECTOR, 'figure.result td[data-k="0,0"]').click()
    box = card.find_element(By.CSS_SELECTOR, "div.explain")
    assert box.find_element(By.CSS_SELECTOR, "code.what").text == "Z1[0, 0, 0, 0]"
    highlighted = card.find_elements(By.CSS_SELECTOR, 'figure[data-sym="A0"] td.used')
    # A 3×3 window at the corner with "same" padding holds 2×2 of the image's cells, pixels
    # (0, 0), (0, 1), (1, 0), (1, 1): columns 0, 1, 8 and 9 of the sample's 64; the page shows
    # columns 0-2 and 61-63 of the 64, so two of them are there to light up.
    assert {td.get_attribute("data-k") for td in highlighted} == {"0,0", "0,1"}
    # the drawing of sample 0 on the card lights all four pixels, the elided ones too
    assert lit_pixels(card) == {(0, (0, 0)), (0, (0, 1)), (0, (1, 0)), (0, (1, 1))}
    # the last element shown, Z1[1, 7, 7, 3]: the other corner of sample 1, the first cleared
    card.find_element(By.CSS_SELECTOR, 'figure.result td[data-k="1,255"]').click()
    assert box.find_element(By.CSS_SELECTOR, "code.what").text == "Z1[1, 7, 7, 3]"
    assert lit_pixels(card) == {(1, (6, 6)), (1, (6, 7)), (1, (7, 6)), (1, (7, 7))}
    # the input is drawn on its own card and on the two that use it, Z1's and dL/dW1's
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.image")) == 6
    assert errors(browser) == []


def lit_pixels(card) -> set[tuple[int, tuple[int, int]]]:
    """The pixels highlighted on a card's drawings of A0, as (sample, (row, column))."""
    from selenium.webdriver.common.by import By

    out = set()
    for fig in card.find_elements(By.CSS_SELECTOR, 'figure.picture[data-sym="A0"]'):
        sample = int(fig.get_attribute("data-sample"))
        for rect in fig.find_elements(By.CSS_SELECTOR, "rect.used"):
            i, j = rect.get_attribute("data-p").split(",")
            out.add((sample, (int(i), int(j))))
    return out


@pytest.mark.parametrize("column", [0, 1, 70, 71])
def test_a_convolutions_window_lights_up_on_the_image_when_its_matrix_is_elided(
    browser, pages, column
):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1400, 900)
    browser.get(pages["window"])
    card = card_of(
        browser, "Z1[n, i, j, f] = Σ_(a, b, c) A0[n, i + a, j + b, c] · W1[a, b, c, f] + b1[f]"
    )
    # Z1 (2, 6, 6, 2) is shown as (2, 72), elided past 16 columns; column 0 is Z1[0, 0, 0, 0]
    # and column 71 is Z1[0, 5, 5, 1]. Each element's 3×3 window starts at its own (i, j).
    i, j = divmod(column // 2, 6)
    card.find_element(By.CSS_SELECTOR, f'figure.result td[data-k="0,{column}"]').click()
    assert card.find_element(By.CSS_SELECTOR, "code.what").text == f"Z1[0, {i}, {j}, {column % 2}]"
    window = {(0, (i + a, j + b)) for a in range(3) for b in range(3)}
    assert lit_pixels(card) == window
    # the matrix of A0 (2, 64) shows columns 0-2 and 61-63 only: at most 3 of the 9 pixels
    shown = {
        td.get_attribute("data-k")
        for td in card.find_elements(By.CSS_SELECTOR, 'figure.matrix[data-sym="A0"] td.used')
    }
    assert shown == {f"0,{8 * r + c}" for _, (r, c) in window} & {
        f"0,{k}" for k in (0, 1, 2, 61, 62, 63)
    }
    assert errors(browser) == []


def test_the_slider_moves_between_steps(browser, pages):
    from selenium.webdriver.common.by import By

    browser.set_window_size(1400, 900)
    browser.get(pages["steps"])
    shown = [
        d.get_attribute("data-step")
        for d in browser.find_elements(By.CSS_SELECTOR, "div.step")
        if d.is_displayed()
    ]
    assert shown == ["1"]
    slider = browser.find_element(By.CSS_SELECTOR, "input.step-slider")
    browser.execute_script(
        "arguments[0].value = '3'; arguments[0].dispatchEvent(new Event('input'))", slider
    )
    steps = browser.find_elements(By.CSS_SELECTOR, "div.step")
    assert [d.get_attribute("data-step") for d in steps if d.is_displayed()] == ["3"]
    assert browser.find_element(By.CSS_SELECTOR, ".step-label").text == "3"
    current = browser.find_elements(By.CSS_SELECTOR, "svg.curve circle.current")
    assert [c.get_attribute("data-step") for c in current] == ["3"]
    # clicking works in the step shown, with that step's numbers
    card = next(
        e for e in steps[2].find_elements(By.CSS_SELECTOR, "div.entry")
        if e.find_element(By.CSS_SELECTOR, "p.formula code").text == "Z1 = A0 · W1 + b1"
    )  # fmt: skip
    card.find_element(By.CSS_SELECTOR, 'figure.result td[data-k="0,0"]').click()
    assert card.find_element(By.CSS_SELECTOR, "code.what").text == "Z1[0, 0]"
    assert errors(browser) == []


@pytest.mark.parametrize("width", [480, 1400])
@pytest.mark.parametrize("page", ["seed", "cnn", "window", "steps"])
def test_no_card_overflows_horizontally(browser, pages, page, width):
    browser.set_window_size(width, 900)
    browser.get(pages[page])
    inner = browser.execute_script("return window.innerWidth")
    assert abs(inner - width) <= 20  # the window is the width asked for
    over = browser.execute_script(
        """
        var out = [];
        document.querySelectorAll("section.layer, div.entry, table.summary, div.diagwrap")
          .forEach(function (el) {
            var r = el.getBoundingClientRect();
            if (r.right > window.innerWidth + 1 || el.scrollWidth > el.clientWidth + 1) {
              out.push(el.className + " " + Math.round(r.right) + " " + el.scrollWidth);
            }
          });
        if (document.documentElement.scrollWidth > window.innerWidth + 1) {
          out.push("page " + document.documentElement.scrollWidth);
        }
        return out;
        """
    )
    assert over == []
    assert errors(browser) == []
