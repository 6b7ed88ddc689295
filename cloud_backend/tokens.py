"""API tokens: 32 alphanumeric characters from ``secrets``; only their SHA-256 is stored."""
import base64
import hashlib
import secrets
import string
from typing import NamedTuple

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select

from . import mail
from .models import Token, TokenRequest
from .projects import ProtocolError

ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 32


class Letter(NamedTuple):
    request_id: int
    mail: str
    token: str
    body: str


def new_token():
    return "".join(secrets.choice(ALPHABET) for _ in range(TOKEN_LENGTH))


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token):
    return len(token) == TOKEN_LENGTH and all(c in ALPHABET for c in token)


def find(session, token):
    """The active Token row for ``token``, or None (unknown, malformed or revoked)."""
    if not token or not looks_like_token(token):
        return None
    row = session.scalar(select(Token).where(Token.token_hash == token_hash(token)))
    return row if row is not None and row.revoked is None else None


def create(session, settings, mail_address, forename="", lastname="",
           credit=None, limit_photos=None, limit_filesize=None):
    """Create a token; returns (row, plaintext). The plaintext exists only in this return value."""
    token = new_token()
    row = Token(
        token_hash=token_hash(token), mail=mail_address, forename=forename, lastname=lastname,
        credit=settings["DEFAULT_CREDIT"] if credit is None else credit,
        limit_photos=settings["DEFAULT_LIMIT_PHOTOS"] if limit_photos is None else limit_photos,
        limit_filesize=(settings["DEFAULT_LIMIT_FILESIZE"]
                        if limit_filesize is None else limit_filesize))
    session.add(row)
    session.flush()
    return row, token


def request(session, settings, mail_address, forename, lastname):
    """Record a /requestToken call; issue at once unless the server wants admin approval.

    Returns the letter `deliver` mails once the session has committed, or None
    while the request waits for approval."""
    waiting = session.scalar(select(TokenRequest.id).where(
        func.lower(TokenRequest.mail) == mail_address.lower(), TokenRequest.state == "pending"))
    if waiting:
        raise ProtocolError("a token request for this address already waits for approval", 429)
    req = TokenRequest(mail=mail_address, forename=forename, lastname=lastname)
    session.add(req)
    session.flush()
    return issue(session, settings, req) if settings["TOKEN_ISSUE"] == "auto" else None


def issue(session, settings, req):
    """Create the token for a request and keep it sealed in the request (for the admin CLI)
    until `deliver` has mailed it. Returns the letter for `deliver`."""
    row, token = create(session, settings, req.mail, req.forename, req.lastname)
    req.state, req.token_id = "issued", row.id
    req.sealed_token = _fernet(settings).encrypt(token.encode()).decode()
    # nothing the requester typed goes into the mail: it must not carry text of theirs as ours
    body = (f"Hello,\n\nyour OpenScan Cloud token is\n\n    {token}\n\n"
            f"Credit: {row.credit} bytes, up to {row.limit_photos} photos and "
            f"{row.limit_filesize} bytes per project.\n")
    return Letter(req.id, req.mail, token, body)


def deliver(db, settings, letter):
    """Mail an issued token, outside any database transaction (SMTP can take seconds, and
    SQLite writers would wait on it); once sent, forget the sealed copy. True if mailed."""
    if not mail.send(settings, letter.mail, "Your OpenScan Cloud token", letter.body):
        return False
    with db.session() as session:
        session.get(TokenRequest, letter.request_id).sealed_token = None
    return True


def unseal(settings, req):
    """The token of an issued request that has not been mailed, or None."""
    if not req.sealed_token:
        return None
    try:
        return _fernet(settings).decrypt(req.sealed_token.encode()).decode()
    except InvalidToken:  # the server secret changed since
        return None


def _fernet(settings):
    key = hashlib.sha256(b"token-seal:" + settings["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))
