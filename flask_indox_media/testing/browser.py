"""A real headless browser for tests: Debian's Chromium driven through Selenium,
and a probe that asks a page's ``<audio>`` element whether it loads, seeks and
plays.

Nothing is downloaded: the browser and its driver are Debian's packages
``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``), given to Selenium by path so that Selenium Manager
never runs. Selenium itself comes with the ``test`` extra.
"""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

#: Where Debian's ``chromium`` package puts the browser (a launcher script).
CHROMIUM_BINARY = "/usr/bin/chromium"
#: Where Debian's ``chromium-driver`` package puts the driver.
CHROMEDRIVER_BINARY = "/usr/bin/chromedriver"

#: The flags :func:`chromium` always passes.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    # Tests run as root (CI), and Chromium refuses to sandbox as root.
    "--no-sandbox",
    "--disable-gpu",
    # The test machines have no internet: these keep Chromium from opening
    # connections of its own (QUIC, component updates, sync, field trials),
    # which the closed network refuses.
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    # Headless playback starts without a user gesture only with this policy.
    "--autoplay-policy=no-user-gesture-required",
    # Containers often have a 64 MB /dev/shm, too small for the renderer, and
    # Debian's launcher fails to detect it when /dev/shm is mounted twice.
    "--disable-dev-shm-usage",
    # Keeps a developer's speakers quiet; playback still advances.
    "--mute-audio",
)


class BrowserUnavailableError(RuntimeError):
    """Chromium, its driver or Selenium is not installed."""


@contextmanager
def chromium(
    *,
    binary: str = CHROMIUM_BINARY,
    driver: str = CHROMEDRIVER_BINARY,
    extra_args: Sequence[str] = (),
) -> Iterator[WebDriver]:
    """Start headless Chromium through Selenium and quit it on exit.

    Each browser gets a fresh profile (``--user-data-dir`` in a temporary
    directory, removed on exit) and the flags in :data:`CHROMIUM_FLAGS`.

    :param binary: the Chromium executable.
    :param driver: the chromedriver executable, of the same version.
    :param extra_args: more command-line flags for Chromium.
    :raises BrowserUnavailableError: when ``binary`` or ``driver`` is missing
        (install the Debian packages ``chromium`` and ``chromium-driver``), or
        when Selenium is not installed.

    .. versionadded:: 0.1
    """
    _require_executables(binary, driver)
    # Selenium is in the test extra only: importing it here keeps
    # ``flask_indox_media.testing`` importable without it.
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise BrowserUnavailableError(
            "selenium is not installed: pip install 'flask-indox-media[test]'"
        ) from exc
    with tempfile.TemporaryDirectory(
        prefix="indox-chromium-", ignore_cleanup_errors=True
    ) as profile:
        options = webdriver.ChromeOptions()
        # A binary given by path, with a driver given by path, is what keeps
        # Selenium Manager (which would download a browser) out of the way.
        options.binary_location = binary
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra_args):
            options.add_argument(flag)
        browser = webdriver.Chrome(
            options=options, service=Service(executable_path=driver)
        )
        try:
            yield browser
        finally:
            browser.quit()


def _require_executables(binary: str, driver: str) -> None:
    missing = [path for path in (binary, driver) if not os.access(path, os.X_OK)]
    if missing:
        raise BrowserUnavailableError(
            f"not found or not executable: {', '.join(missing)}; install the "
            "Debian packages: apt-get install --no-install-recommends "
            "chromium chromium-driver (./scripts/test does it when run as root)"
        )


def audio_page_html(
    audio_url: str, *, element_id: str = "audio", title: str = "audio probe"
) -> str:
    """An HTML page holding one ``<audio crossorigin="anonymous">`` element
    that loads ``audio_url``, for an app to serve to :func:`probe_audio`.

    ``crossorigin="anonymous"`` makes the browser fetch the audio in CORS mode,
    as a page that analyses or visualises the audio must: the media origin has
    to answer with ``Access-Control-Allow-Origin`` or the element fails.

    .. versionadded:: 0.1
    """
    return (
        "<!doctype html>\n"
        f'<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        "</head><body>\n"
        f'<audio id="{html.escape(element_id)}" crossorigin="anonymous" '
        f'preload="auto" controls src="{html.escape(audio_url)}"></audio>\n'
        "</body></html>\n"
    )


@dataclass(frozen=True)
class AudioError:
    """The ``MediaError`` of an element: ``code`` 1 aborted, 2 network,
    3 decode, 4 source not supported (also what a CORS refusal gives)."""

    code: int
    message: str


@dataclass(frozen=True)
class AudioProbe:
    """What :func:`probe_audio` saw, all read in the page.

    :ivar duration: seconds, once the metadata loaded; ``None`` before that,
        on error, or for a stream of unknown length.
    :ivar error: the element's ``MediaError``, or ``None``.
    :ivar seeked_to: ``currentTime`` after seeking to the middle and the
        ``seeked`` event; ``None`` when the seek did not complete.
    :ivar played: ``play()`` resolved and ``currentTime`` moved on.
    :ivar play_error: how ``play()`` was rejected, e.g. ``NotAllowedError: ...``.
    :ivar current_time: ``currentTime`` when the probe ended.
    :ivar ready_state: ``readyState`` when the probe ended (4 = enough data).
    :ivar network_state: ``networkState`` when the probe ended (3 = no source).
    :ivar events: the media events the element fired during the probe, in
        order (``timeupdate`` left out).
    :ivar timed_out: the steps (``metadata``, ``seek``, ``play``, ``advance``)
        that ran out of time.
    """

    duration: float | None
    error: AudioError | None
    seeked_to: float | None
    played: bool
    play_error: str | None
    current_time: float
    ready_state: int
    network_state: int
    events: tuple[str, ...]
    timed_out: tuple[str, ...]


# Runs as an async script: the last argument is Selenium's callback. Every wait
# shares one deadline, so a stuck step returns what was seen instead of making
# Selenium raise a script timeout with nothing.
_PROBE_SCRIPT = """
const [id, budgetMs, done] = arguments;
const el = document.getElementById(id);
if (el === null) { done({missing: true}); return; }
const deadline = performance.now() + budgetMs;
const events = [], timedOut = [];
for (const name of ["loadstart", "durationchange", "loadedmetadata", "loadeddata",
    "canplay", "canplaythrough", "progress", "suspend", "stalled", "waiting",
    "seeking", "seeked", "play", "playing", "pause", "ended", "abort", "emptied",
    "error"]) {
  el.addEventListener(name, () => events.push(name));
}
function until(ready, types, step) {
  return new Promise(resolve => {
    if (ready()) { resolve(true); return; }
    const finish = ok => {
      clearTimeout(timer);
      for (const t of types) el.removeEventListener(t, check);
      resolve(ok);
    };
    const check = () => { if (ready()) finish(true); };
    const timer = setTimeout(() => { timedOut.push(step); finish(ready()); },
                             Math.max(0, deadline - performance.now()));
    for (const t of types) el.addEventListener(t, check);
  });
}
function report(extra) {
  const err = el.error;
  done(Object.assign({
    duration: null, seekedTo: null, played: false, playError: null,
    error: err === null ? null : {code: err.code, message: err.message || ""},
    currentTime: el.currentTime, readyState: el.readyState,
    networkState: el.networkState, events: events, timedOut: timedOut,
  }, extra));
}
(async () => {
  await until(() => el.readyState >= 1 || el.error !== null,
              ["loadedmetadata", "error"], "metadata");
  if (el.error !== null || el.readyState < 1) { report({}); return; }
  const duration = Number.isFinite(el.duration) ? el.duration : null;
  let seeked = false, seekedTo = null;
  if (duration !== null) {
    el.addEventListener("seeked", () => { seeked = true; }, {once: true});
    el.currentTime = duration / 2;
    await until(() => seeked || el.error !== null, ["seeked", "error"], "seek");
    if (seeked) seekedTo = el.currentTime;
  }
  const start = el.currentTime;
  let resolved = false, playError = null;
  const play = el.play().then(() => { resolved = true; },
                              e => { playError = `${e.name}: ${e.message}`; });
  const timeout = new Promise(r => setTimeout(r, Math.max(0, deadline - performance.now())));
  await Promise.race([play, timeout]);
  if (!resolved && playError === null) timedOut.push("play");
  let advanced = false;
  if (resolved) {
    const moved = () => el.currentTime > start || el.ended;
    await until(() => moved() || el.error !== null,
                ["timeupdate", "ended", "error"], "advance");
    advanced = moved();
  }
  el.pause();
  report({duration: duration, seekedTo: seekedTo, played: resolved && advanced,
          playError: playError});
})().catch(e => report({playError: `probe failed: ${e}`}));
"""


def probe_audio(
    driver: WebDriver,
    page_url: str,
    *,
    element_id: str = "audio",
    timeout: float = 30.0,
) -> AudioProbe:
    """Open ``page_url`` and ask its ``<audio id=element_id>`` element, in
    JavaScript, for its duration once the metadata loaded, then seek it to the
    middle and play it.

    The page is served by the caller (:func:`audio_page_html` makes one). A step
    that does not finish within ``timeout`` (shared by all steps) is listed in
    :attr:`AudioProbe.timed_out` and the rest is reported as far as it got.

    :param driver: a browser, e.g. from :func:`chromium`.
    :param page_url: the page's URL.
    :param element_id: the ``id`` of the ``<audio>`` element.
    :param timeout: seconds for the whole probe, page load aside.
    :raises LookupError: when the page has no element ``element_id``.

    .. versionadded:: 0.1
    """
    driver.get(page_url)
    # Selenium's own limit is a backstop: the script answers within ``timeout``.
    driver.set_script_timeout(timeout + 30)
    raw: dict[str, Any] = driver.execute_async_script(
        _PROBE_SCRIPT, element_id, int(timeout * 1000)
    )
    if raw.get("missing"):
        raise LookupError(f"{page_url} has no element with id {element_id!r}")
    return _probe_from_json(raw)


def _probe_from_json(raw: dict[str, Any]) -> AudioProbe:
    error = raw["error"]
    return AudioProbe(
        duration=_float_or_none(raw["duration"]),
        error=error and AudioError(int(error["code"]), str(error["message"])),
        seeked_to=_float_or_none(raw["seekedTo"]),
        played=bool(raw["played"]),
        play_error=raw["playError"],
        current_time=float(raw["currentTime"]),
        ready_state=int(raw["readyState"]),
        network_state=int(raw["networkState"]),
        events=tuple(raw["events"]),
        timed_out=tuple(raw["timedOut"]),
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
