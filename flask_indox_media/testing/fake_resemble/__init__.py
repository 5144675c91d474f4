"""A fake Resemble upstream for tests and demos.

:class:`FakeResemble` is a small Flask (WSGI) app answering Resemble's API in
its JSON shapes, with real generated WAV and MP3 bytes: every endpoint the
official ``resemble`` SDK (1.9.0) calls, plus the ones the gateway calls
(speech-to-text, audio enhancement, edit, watermark apply/detect, voice
design). Errors are JSON ``{"success": false, "message": ...}``, unknown
routes included (404); a wrong key is a 401.

Serving it
----------

``serve_wsgi`` runs it on a free loopback port from a thread::

    from flask_indox_media.testing import FakeResemble, serve_wsgi
    from flask_indox_media.testing.fake_resemble import DEFAULT_KEY

    fake = FakeResemble()
    with serve_wsgi(fake.app) as base:  # "http://127.0.0.1:PORT"
        ...

URL layout: ``<base>/api/v2/...`` (the app API), ``<base>/synthesize``
(direct synthesis), ``<base>/stream`` (HTTP streaming) and
``<base>/files/<name>`` (the audio it made; no key needed).

Pointing the official SDK at it::

    from resemble import Resemble

    Resemble.api_key(DEFAULT_KEY)
    Resemble.base_url(base + "/api/")
    Resemble.syn_server_url(base + "/")
    Resemble.direct_syn_server_url(base + "/synthesize")

Pointing the gateway at it: ``INDOX_MEDIA_RESEMBLE_API_KEY = DEFAULT_KEY``,
``INDOX_MEDIA_RESEMBLE_BASE_URL = base + "/api/"``,
``INDOX_MEDIA_RESEMBLE_SYNTH_URL = base + "/"``, and list
``127.0.0.1:<port>`` in ``INDOX_MEDIA_SOURCE_HOSTS`` so the mirror may
download from it.

Behaviour
---------

* Two finished voices exist from the start, ``voice-1`` and ``voice-2``.
  Clips and batches accept any project and voice uuid, and recordings any
  voice uuid, so a test need not create the parents first; a GET, update or
  delete of a missing record is a 404.
* Async jobs (speech-to-text, enhancement, edit, watermark, detection,
  batches) show as running for ``polls_until_done`` GETs, then finished. A
  job given a callback URL, or sent with ``Prefer: wait`` where Resemble
  honours it, is finished at once.
* Callbacks (clips created or updated with ``callback_uri``, batches,
  voice builds, speech-to-text and detection with ``callback_url``) are
  POSTed as JSON. With ``callbacks="manual"`` (the default) they wait in
  ``pending_callbacks`` until ``deliver_callbacks()``; with
  ``callbacks="auto"`` a background thread POSTs each after
  ``callback_delay`` seconds, and ``wait_for_callbacks()`` waits for them.
  Every POST is recorded in ``delivered_callbacks``.
* Everything is recorded: ``received`` (each API request's method, path,
  headers, query ``args``, ``json`` body and ``form``), ``file_gets``, and
  the stores (``voices``, ``recordings``, ``projects``, ``clips``,
  ``batches``, ``jobs``, ``phonemes``, ``term_substitutions``, ``uploads``,
  ``files``), which a test may also change.

Settings (keyword arguments; the fault ones are also attributes)
----------------------------------------------------------------

* ``api_key`` (:data:`DEFAULT_KEY`): accepted as ``Authorization: Token
  token=<key>``, ``Authorization: Bearer <key>`` or ``x-access-token: <key>``.
* ``polls_until_done`` (1), ``callbacks`` (``"manual"``),
  ``callback_delay`` (0.0).
* ``latency`` (0.0): seconds slept before answering each API request;
  ``file_latency`` (0.0): the same for file downloads.
* ``failure_rate`` (0.0): probability that an API request gets a JSON 500;
  ``seed`` makes the sequence of failures repeatable.
* ``sleep`` (``time.sleep``): what sleeps for the latencies and the callback
  delay; pass a recorder to check them without timing anything.
* ``stall_timeout`` (60.0): longest a stalled download waits.

Faults on demand:

* ``fake.fail_next(n, status=503, path=None)``: the next ``n`` API
  requests (optionally only those under ``path``) fail with ``status``.
* ``fake.break_file(name_or_url, mode="cut" | "stall", after=None)``: a
  ``cut`` download closes after ``after`` bytes (half by default) of the
  announced ``Content-Length``; a ``stall`` download stops there until
  ``fake.release_stalls()``. ``fake.file_faults`` holds them; delete an entry
  to mend the file.
"""

from __future__ import annotations

from .callbacks import Delivery
from .core import DEFAULT_KEY, FakeResemble
from .faults import FileFault

__all__ = ["DEFAULT_KEY", "Delivery", "FakeResemble", "FileFault"]
