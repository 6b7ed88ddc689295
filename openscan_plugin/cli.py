"""`openscan`: the rig's command line."""
import click


@click.group()
def main():
    """OpenScan rig: scan, and send scans to OpenScan Cloud."""
