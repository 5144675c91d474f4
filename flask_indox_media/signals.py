"""Blinker signals for host apps. Each is sent with the app's
:class:`~flask_indox_media.IndoxMediaState` as sender.

* ``asset_detected``: audio was found in a response (``kind``, ``asset_class``,
  ``user_id``).
* ``asset_mirrored``: an object was written (``key``, ``asset_class``, ``size``,
  ``seconds``, ``skipped``: it was already there).
* ``mirror_failed``: a mirror attempt failed (``key``, ``asset_class``, ``error``,
  the exception's class name; never a URL's query string).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

asset_detected = _signals.signal("indox-media-asset-detected")
asset_mirrored = _signals.signal("indox-media-asset-mirrored")
mirror_failed = _signals.signal("indox-media-mirror-failed")
