"""Signed links: ``ulink`` for one part of one project, ``dlink`` for a project's result.

The signature covers the purpose, the project and the part, so a link cannot be bent to another
project or part. Upload links carry their own timestamp and expire without server state.
Download links do not expire by time: OpenScan2 stores the dlink once and shows it forever, so it
must work for as long as the result is kept. It names the project's random ``uid``, which dies
with the project (reset deletes it, expiry deletes its result), and so does the link.
"""
from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner


class LinkError(Exception):
    """The link is not valid; the message says why in words a user can act on."""


class LinkSigner:
    def __init__(self, secret):
        self._expiring = TimestampSigner(secret, salt="openscan-cloud-links")
        self._lasting = Signer(secret, salt="openscan-cloud-lasting-links")

    def sign(self, purpose, uid, part=None, lasting=False):
        value = self._value(purpose, uid, part)
        signed = (self._lasting if lasting else self._expiring).sign(value).decode()
        return signed[len(value) + 1:]  # just "[timestamp.]signature"; the rest is in the URL path

    def verify(self, purpose, uid, part, signature, max_age=None):
        """Check a link; ``max_age`` None: a lasting link."""
        signed = f"{self._value(purpose, uid, part)}.{signature or ''}"
        try:
            if max_age is None:
                self._lasting.unsign(signed)
            else:
                self._expiring.unsign(signed, max_age=max_age)
        except SignatureExpired:
            raise LinkError(f"this {purpose} link has expired; ask for a new one") from None
        except BadSignature:
            raise LinkError(f"invalid {purpose} link") from None

    @staticmethod
    def _value(purpose, uid, part):
        return f"{purpose}:{uid}:{'' if part is None else part}"
