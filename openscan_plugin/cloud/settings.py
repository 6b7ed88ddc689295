"""Where the cloud side keeps its things, from the rig config (`cloud` section) and the
environment: server, token, part size, the data dir (queue DB) and the scans folder."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from openscan_protocol.upload import PART_SIZE

from ..config import read_user_config, write_user_config
from .retry import RetryPolicy
from .scan_options import OptionsError, check, resolve
from .unpack import UnpackLimits

DEFAULT_DATA_DIR = Path("~/.local/share/openscan")
log = logging.getLogger(__name__)


@dataclass
class CloudSettings:
    server: Optional[str]
    token: Optional[str]
    part_size: int
    data_dir: Path
    scans_dir: Path
    retry: RetryPolicy = RetryPolicy()
    config_file: Optional[str] = None
    result_limits: UnpackLimits = field(default_factory=UnpackLimits)
    scan_options: dict = field(default_factory=dict)   # the rig-wide cloud options (`cloud.scan_options`)

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "uploads.sqlite"

    def save(self, **values) -> None:
        """Store server/token in the rig config (the web UI's token settings)."""
        user = read_user_config(self.config_file)
        user.setdefault("cloud", {}).update({k: v for k, v in values.items() if v is not None})
        write_user_config(user, self.config_file)
        for k, v in values.items():
            if v is not None:
                setattr(self, k, v)

    def resolved_options(self, overrides=None) -> dict:
        """A scan's cloud options: the protocol defaults, the rig's, then `overrides`."""
        return resolve(self.scan_options, overrides)

    def save_scan_options(self, values) -> dict:
        """Check and store the rig-wide cloud options (all of them, as resolved over the
        current ones) in the rig config; returns them."""
        options = self.resolved_options(values)
        user = read_user_config(self.config_file)
        user.setdefault("cloud", {})["scan_options"] = options
        write_user_config(user, self.config_file)
        self.scan_options = options
        return options


def load_settings(config_file=None, *, server=None, token=None, part_size=None, data_dir=None,
                  scans_dir=None) -> CloudSettings:
    """Arguments win over $OPENSCAN_DATA_DIR / $OPENSCAN_SCANS_DIR, which win over the config."""
    cloud = read_user_config(config_file).get("cloud", {})
    data = Path(data_dir or os.environ.get("OPENSCAN_DATA_DIR") or cloud.get("data_dir")
                or DEFAULT_DATA_DIR).expanduser()
    scans = Path(scans_dir or os.environ.get("OPENSCAN_SCANS_DIR") or cloud.get("scans_dir")
                 or data / "scans").expanduser()
    return CloudSettings(server=server or cloud.get("server"), token=token or cloud.get("token"),
                         part_size=int(part_size or cloud.get("part_size") or PART_SIZE),
                         data_dir=data, scans_dir=scans, retry=RetryPolicy.from_config(cloud),
                         config_file=config_file,
                         result_limits=UnpackLimits.from_config(cloud.get("result_limits")),
                         scan_options=_scan_options(cloud.get("scan_options"), config_file))


def _scan_options(values, config_file) -> dict:
    """The config's rig-wide options, each checked; a bad one (edited by hand) is dropped
    with a warning rather than stopping the rig."""
    if not isinstance(values, dict):
        if values is not None:
            log.warning("cloud.scan_options in %s is not an object; using the defaults", config_file or "the rig config")
        return {}
    out = {}
    for k, v in values.items():
        try:
            out.update(check({k: v}))
        except OptionsError as exc:
            log.warning("cloud.scan_options in %s: %s; using the default", config_file or "the rig config", exc)
    return out
