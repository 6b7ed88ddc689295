"""Command-line options shared by the commands that drive a rig (cli.py, cli_daemon.py), and
the one turn of them into a RigChoice (a profile error becomes a usage message)."""
from __future__ import annotations

import click

from .compose import RigChoice, choose_rig
from .config import ConfigError

profile_options = [
    click.option("--profile", help="rig profile: mini or classic (default: config file, else mini)"),
    click.option("--shield", help="pin layout: green_shield or black_shield (default: the profile's)"),
    click.option("--config", "config_file", type=click.Path(dir_okay=False),
                 help="rig config file (default $OPENSCAN_CONFIG or ~/.config/openscan/rig.json)"),
    click.option("--simulate", is_flag=True, help="use the simulated rig (mock pins, rendered camera)"),
]


def with_profile_options(f):
    for option in reversed(profile_options):
        f = option(f)
    return f


def rig_choice(profile, shield, config_file, simulate) -> RigChoice:
    try:
        return choose_rig(profile, shield, config_file, simulate)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
