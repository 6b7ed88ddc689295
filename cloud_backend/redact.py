"""Secrets out of the logs. Tokens (``?token=``), link signatures (``sig=``), webhook URLs
(``webhook=``: Slack-style hook URLs are credentials themselves) and presigned object-storage
credentials travel as query values, and access logs print request lines whole:
the database keeps only token hashes, the log must not undo that.

`install()` makes every log record this process creates pass through `redact`, whichever
server or logger writes it (gunicorn's access and error logs, Flask, Celery, ours)."""
import logging
import re

SECRET_PARAMS = ("token", "sig", "signature", "password", "webhook", "x-amz-signature", "x-amz-credential",
                 "x-amz-security-token", "awsaccesskeyid")
_SECRET = re.compile(r"(?<![\w-])(%s)=[^&\s\"'#]*" % "|".join(map(re.escape, SECRET_PARAMS)),
                     re.IGNORECASE)
MASK = "***"


def redact(text):
    """``text`` with the value of every secret query parameter replaced by ***."""
    return _SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)


def _redact_record(record):
    try:
        message = record.getMessage()
    except Exception:  # a broken format: leave it for logging to report as usual
        return
    record.msg, record.args = redact(message), ()
    if record.exc_info and not record.exc_text:  # exception messages can quote URLs too
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


def install():
    """Redact every log record created from now on in this process (idempotent)."""
    base = logging.getLogRecordFactory()
    if getattr(base, "redacts", False):
        return

    def factory(*args, **kwargs):
        record = base(*args, **kwargs)
        _redact_record(record)
        return record
    factory.redacts = True
    logging.setLogRecordFactory(factory)
