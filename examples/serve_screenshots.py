"""Pictures of `groundlm serve`'s page for docs/serve.md: a model directory behind the real server, the page in
headless Chromium, one built-in picture, its first referring expression (or, for a pose model, its first person)
asked, and the page saved once the answer is drawn.

Run: make serve-screenshots CHECKPOINT=DIR   (or: python examples/serve_screenshots.py DIR OUT_DIR [--sample NAME])
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from groundlm.serve import ModelService, create_app, running_server
from groundlm.serve.browser import headless_chromium


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out_dir")
    parser.add_argument("--sample", default="portrait-3", help="a built-in picture (GET /api/samples lists them)")
    parser.add_argument("--name", default=None, help="file name (default: serve-<task>.png)")
    args = parser.parse_args()
    service = ModelService.from_checkpoint(args.checkpoint)
    task = next(iter(service.tasks))
    out = Path(args.out_dir) / (args.name or f"serve-{task}.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    with running_server(create_app(service)) as url, tempfile.TemporaryDirectory() as profile:
        driver = headless_chromium(profile, window=(1100, 900))
        try:
            driver.get(url)
            thumb = f"#samples img[data-name='{args.sample}']"
            WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, thumb))
            driver.find_element(By.CSS_SELECTOR, thumb).click()
            Select(driver.find_element(By.ID, "task")).select_by_value(task)
            driver.find_element(By.CSS_SELECTOR, thumb).click()  # refills the suggested query for this task
            WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "query").get_attribute("value"))
            driver.find_element(By.ID, "ask").click()
            WebDriverWait(driver, 120).until(
                lambda d: d.find_element(By.ID, "answer").get_attribute("data-state") in ("done", "error")
            )
            driver.save_screenshot(str(out))
            print(
                f"{out}: {task} '{driver.find_element(By.ID, 'query').get_attribute('value')}' -> "
                f"{driver.find_element(By.ID, 'answer-text').text or driver.find_element(By.ID, 'error').text}"
            )
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
