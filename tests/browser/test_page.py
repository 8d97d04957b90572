"""The web page in a real browser: pick a built-in picture, upload one, ask, and see the answer drawn."""

import json
import os
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from groundlm.data.synth.generate import generate

from .conftest import TAUGHT_ANSWER


def canvas_pixel(driver, x, y):
    """RGBA of the page's canvas at canvas pixel (x, y)."""
    return driver.execute_script(
        "return Array.from(document.getElementById('canvas').getContext('2d').getImageData(arguments[0], arguments[1],"
        " 1, 1).data);",
        round(x),
        round(y),
    )


def wait_for_answer(driver, timeout=60):
    WebDriverWait(driver, timeout).until(
        lambda d: d.find_element(By.ID, "answer").get_attribute("data-state") in ("done", "error")
    )
    return driver.find_element(By.ID, "answer").get_attribute("data-state")


def screenshot(driver, name):
    folder = os.environ.get("GROUNDLM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / name))


def test_upload_ask_and_see_the_box_drawn(browser, page_url, tmp_path):
    driver = browser
    driver.get(page_url)
    WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples img.chosen")) == 1)
    assert "taught-tiny" in driver.find_element(By.ID, "model").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#samples img")) == 4

    # Upload a picture (160 x 120, so the canvas shows it at 512 / 160 = 3.2 canvas pixels per image pixel).
    made = generate(1, 5, "portrait", (160, 120)).sample
    path = tmp_path / "upload.png"
    made.image_loader().save(path)
    driver.find_element(By.ID, "upload").send_keys(str(path))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.getElementById('canvas').width") == 512)
    Select(driver.find_element(By.ID, "task")).select_by_value("refer")
    query = driver.find_element(By.ID, "query")
    query.clear()
    query.send_keys("the red cube")
    driver.find_element(By.ID, "ask").click()
    assert wait_for_answer(driver) == "done", driver.find_element(By.ID, "error").text

    assert driver.find_element(By.ID, "answer-text").text == TAUGHT_ANSWER
    raw = json.loads(driver.find_element(By.ID, "raw").get_attribute("textContent"))
    assert raw["image"] == {"width": 160, "height": 120}
    x0, y0, x1, y1 = raw["parsed"]["boxes"][0]
    drawn = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#drawn li")]
    assert drawn == [f"box {x0:.0f} {y0:.0f} {x1:.0f} {y1:.0f}"]
    # The box is drawn in red on the picture, where the answer put it.
    scale = 512 / 160
    for x, y in (((x0 + x1) / 2, y0), (x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2), ((x0 + x1) / 2, y1)):
        r, g, b, _ = canvas_pixel(driver, x * scale, y * scale)
        assert r > 200 and g < 80 and b < 80, (x, y, r, g, b)
    screenshot(driver, "serve-refer.png")


def test_drag_a_box_for_a_region_caption_and_see_errors(browser, page_url):
    driver = browser
    driver.get(page_url)
    WebDriverWait(driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#samples img.chosen")) == 1)
    driver.find_elements(By.CSS_SELECTOR, "#samples img")[1].click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "query").get_attribute("value"))
    canvas = driver.find_element(By.ID, "canvas")
    size = canvas.size
    # Drag from a quarter to the middle of the picture (the canvas is 512 x 512 for the 128 x 128 sample).
    drag = ActionChains(driver).move_to_element_with_offset(canvas, -size["width"] // 4, -size["height"] // 4)
    drag.click_and_hold().move_by_offset(size["width"] // 4, size["height"] // 4).release().perform()
    box = [float(v) for v in driver.find_element(By.ID, "box").get_attribute("value").split()]
    assert len(box) == 4 and 28 <= box[0] <= 36 and 60 <= box[2] <= 68, box
    assert Select(driver.find_element(By.ID, "task")).first_selected_option.get_attribute("value") == "region_caption"
    r, g, b, _ = canvas_pixel(driver, box[0] * 4, (box[1] + box[3]) / 2 * 4)  # the dragged box, in yellow
    assert r > 200 and g > 180 and b < 80, (r, g, b)
    driver.find_element(By.ID, "ask").click()
    assert wait_for_answer(driver) == "done"
    assert json.loads(driver.find_element(By.ID, "raw").get_attribute("textContent"))["task"] == "region_caption"

    # A box outside the picture: the server's error is shown, and the page keeps working.
    field = driver.find_element(By.ID, "box")
    field.clear()
    field.send_keys("0 0 999 10")
    driver.find_element(By.ID, "ask").click()
    assert wait_for_answer(driver) == "error"
    assert "not inside" in driver.find_element(By.ID, "error").text
