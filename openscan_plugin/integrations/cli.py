"""`openscan integrate openscan2`: print the Node-RED flow or install it into Node-RED."""
from __future__ import annotations

import json

import click


@click.group()
def integrate():
    """Add the one-click cloud to a firmware's own web interface."""


@integrate.command()
@click.option("--node-red-url", default="http://127.0.0.1:1880", show_default=True,
              help="Node-RED's admin API (OpenScan2 images: http://127.0.0.1:1880 or :80)")
@click.option("--daemon-url", default="http://127.0.0.1:8080", show_default=True,
              help="the `openscan daemon` the flow talks to, as Node-RED reaches it")
@click.option("--node-red-token", envvar="NODE_RED_TOKEN", help="admin API token when Node-RED has adminAuth")
@click.option("--print", "print_only", is_flag=True, help="print the flow (for Menu > Import) instead")
def openscan2(node_red_url, daemon_url, node_red_token, print_only):
    """A "Cloud" tab for OpenScan2's Node-RED dashboard: the photo sets with Send to cloud,
    progress, result and preview, the token field and the daemon's health."""
    from .openscan2 import InstallError, install, load_flow
    flow = load_flow(daemon_url)
    if print_only:
        click.echo(json.dumps(flow, indent=1))
        return
    try:
        total = install(flow, node_red_url, node_red_token)
    except InstallError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"installed the OpenScanCloud flow ({len(flow)} nodes; {total} in all) into {node_red_url}; "
               "open the dashboard's Cloud tab")
