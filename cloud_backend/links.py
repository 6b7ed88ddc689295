"""Signed, expiring links: ``ulink`` for one part of one project, ``dlink`` for a result.

The signature covers the purpose, the project and the part, so a link cannot be bent to another
project or part, and it carries its own timestamp, so it expires without any server state.
"""
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner


class LinkError(Exception):
    """The link is not valid; the message says why in words a user can act on."""


class LinkSigner:
    def __init__(self, secret):
        self._signer = TimestampSigner(secret, salt="openscan-cloud-links")

    def sign(self, purpose, uid, part=None):
        value = self._value(purpose, uid, part)
        signed = self._signer.sign(value).decode()
        return signed[len(value) + 1:]  # just "timestamp.signature"; the rest is in the URL path

    def verify(self, purpose, uid, part, signature, max_age):
        signed = f"{self._value(purpose, uid, part)}.{signature or ''}"
        try:
            self._signer.unsign(signed, max_age=max_age)
        except SignatureExpired:
            raise LinkError(f"this {purpose} link has expired; ask for a new one") from None
        except BadSignature:
            raise LinkError(f"invalid {purpose} link") from None

    @staticmethod
    def _value(purpose, uid, part):
        return f"{purpose}:{uid}:{'' if part is None else part}"
