"""Outgoing e-mail over SMTP, only when SMTP_HOST is configured."""
import logging
import smtplib
from email.message import EmailMessage

log = logging.getLogger(__name__)


def send(settings, to, subject, body):
    """Send a plain-text mail; True when it was handed to the SMTP server."""
    if not settings.get("SMTP_HOST"):
        return False
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings["MAIL_FROM"], to, subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(settings["SMTP_HOST"], settings["SMTP_PORT"], timeout=30) as smtp:
            if settings.get("SMTP_STARTTLS"):
                smtp.starttls()
            if settings.get("SMTP_USER"):
                smtp.login(settings["SMTP_USER"], settings["SMTP_PASSWORD"] or "")
            smtp.send_message(msg)
        return True
    except (OSError, smtplib.SMTPException):
        log.exception("could not send mail to %s", to)
        return False
