"""Ready-made integrations of the rig's daemon into firmwares' own web interfaces."""
