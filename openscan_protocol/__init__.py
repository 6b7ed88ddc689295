"""What the rig and the backend must agree on, in one place: the upload's layout (photo
suffixes, manifest.json, masks), the manifest's fields and angle convention, the project
status strings and the result's file names; plus the one atomic file write both halves use.

Standard library only: both halves import it, and neither half's dependencies may leak in.
"""
