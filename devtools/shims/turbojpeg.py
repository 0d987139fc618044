"""Stand-in for PyTurboJPEG, put on the dev instance's path only when it is not installed.

Home Assistant imports its `camera` integration (whose JPEG helper imports `turbojpeg`) while it
validates any services.yaml with a `supported_features` filter, such as light's. Without the
module, the `get_services` websocket command fails and the frontend never gets past "Loading".
HA normally pip-installs PyTurboJPEG at start-up; the dev instance runs offline with --skip-pip.
Creating a TurboJPEG raises, which is what HA already handles when libturbojpeg is missing
(camera snapshots are served unscaled); nothing here uses cameras.
"""

from __future__ import annotations


class TurboJPEG:
    """Fails like PyTurboJPEG does when libturbojpeg cannot be loaded."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise OSError("libturbojpeg is not available in this development instance")
