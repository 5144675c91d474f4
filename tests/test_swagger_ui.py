"""Swagger UI, as a person sees it: headless Chromium opens the gateway's
docs page (its scripts served by the gateway, no CDN) and finds the asset
fields on POST /tts/synthesize."""

from __future__ import annotations

from collections.abc import Callable

import requests
from flask import Flask
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from flask_indox_media.testing import chromium, serve_wsgi

P = "/api/v1/resemble"
SYNTHESIZE = f"{P}/tts/synthesize"


def test_the_ui_is_served_without_a_cdn(make_gateway: Callable[..., Flask]) -> None:
    with serve_wsgi(make_gateway()) as base:
        page = requests.get(f"{base}{P}/docs", timeout=10).text
        assert "cdn." not in page and f"{P}/docs-assets/static/" in page
        script = requests.get(
            f"{base}{P}/docs-assets/static/swagger-ui-bundle.js", timeout=10
        )
        assert script.status_code == 200 and len(script.content) > 100_000


def test_swagger_ui_shows_the_asset_fields_on_synthesize(
    make_gateway: Callable[..., Flask],
) -> None:
    with serve_wsgi(make_gateway()) as base, chromium() as driver:
        driver.get(f"{base}{P}/docs")
        wait = WebDriverWait(driver, 60)
        operation = wait.until(
            expected_conditions.element_to_be_clickable(
                (By.CSS_SELECTOR, f'.opblock-post [data-path="{SYNTHESIZE}"]')
            )
        )
        operation.click()
        # The 200 answer's schema, rendered as its example value.
        wait.until(
            lambda d: (
                "audio_url"
                in d.find_element(
                    By.CSS_SELECTOR, ".opblock.is-open .responses-wrapper"
                ).text
            )
        )
        responses = driver.find_element(
            By.CSS_SELECTOR, ".opblock.is-open .responses-wrapper"
        ).text
        for field in ("asset_id", "audio_url", "expires_at", "resemble_url"):
            assert field in responses
