"""The one exception the job system shows to users."""


class ReconstructionError(Exception):
    """A failure explained in words a scanner user can act on.

    The message is shown as the project's `error`, so it names the cause
    ("only 3 of 40 images could be registered"), not a traceback.
    """
