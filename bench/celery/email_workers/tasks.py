"""
The old service's seven email tasks, registered as email_workers.tasks.<name> and taking its keyword arguments:
OTP and welcome one `task_data` dict, the others `user_id` plus `booking_data` / `cancellation_data` /
`waitlist_data`. Each task looks the recipient up in PostgreSQL when addressed by user id (psycopg2, one
connection per worker process), renders a Jinja2 HTML and text template, and sends over one persistent smtplib
connection per worker process, reconnecting when it drops. Transient failures retry with backoff.

Env: SMTP_HOST (127.0.0.1), SMTP_PORT, FROM_ADDRESS, DATABASE_URL, USERS_TABLE (users, optionally schema.table),
APP_URL. The tuned row (bench/celery.ts) also sets FROZEN_HTML and FROZEN_TEXT: files holding one of the service's
own emails rendered once, as the bare pipeline sends it ({{name}} and {{event}} filled in per message), so that
every pipeline sends the same bytes and Jinja2's rendering is not what is compared.
"""
import os
import smtplib
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

import psycopg2
from jinja2 import Environment, FileSystemLoader, select_autoescape
from psycopg2 import sql

from .celery_app import app

SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
FROM_ADDRESS = os.environ.get("FROM_ADDRESS", "no-reply@localhost.localdomain")
FROM_NAME = os.environ.get("FROM_NAME", "Event Platform")
APP_URL = os.environ.get("APP_URL", "http://localhost:3000")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
USERS_QUERY = sql.SQL("SELECT email FROM {} WHERE id = %s AND is_active = true").format(
    sql.Identifier(*os.environ.get("USERS_TABLE", "users").split("."))
)

def _frozen(name):
    path = os.environ.get(name)
    if not path:
        return None
    with open(path, encoding="utf-8") as file:
        return file.read()


FROZEN_HTML, FROZEN_TEXT = _frozen("FROZEN_HTML"), _frozen("FROZEN_TEXT")

templates = Environment(
    loader=FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
    autoescape=select_autoescape(["html"]),
)
TRANSIENT = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError,
             psycopg2.OperationalError)


class PermanentError(Exception):
    """Not worth a retry: unknown user, a 5xx about the recipient."""


# ── Per-process connections: created lazily, so each prefork child opens its own after the fork ─────────────
_db = None
_smtp = None


def find_email(user_id):
    global _db
    for attempt in (1, 2):
        try:
            if _db is None or _db.closed:
                _db = psycopg2.connect(DATABASE_URL)
                _db.autocommit = True
            with _db.cursor() as cursor:
                cursor.execute(USERS_QUERY, (user_id,))
                row = cursor.fetchone()
            if row is None:
                raise PermanentError(f"user {user_id} not found or inactive")
            return row[0]
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            _db = None
            if attempt == 2:
                raise


def send_email(to, subject, template, **context):
    global _smtp
    context.update(brand=FROM_NAME, app_url=APP_URL, support_email=FROM_ADDRESS, year=datetime.now().year)
    message = EmailMessage()
    message["From"] = formataddr((FROM_NAME, FROM_ADDRESS))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain=FROM_ADDRESS.split("@")[-1])
    if FROZEN_HTML is not None:
        def fill(frozen):
            return frozen.replace("{{name}}", to).replace("{{event}}", context.get("event_name") or "your event")
        message.set_content(fill(FROZEN_TEXT))
        message.add_alternative(fill(FROZEN_HTML), subtype="html")
    else:
        message.set_content(templates.get_template(f"{template}.txt").render(**context))
        message.add_alternative(templates.get_template(f"{template}.html").render(**context), subtype="html")
    for attempt in (1, 2):
        try:
            if _smtp is None:
                _smtp = smtplib.SMTP(SMTP_HOST, SMTP_PORT, timeout=30)
            _smtp.send_message(message)
            return
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentError(str(error)) from error
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            _smtp = None
            if attempt == 2:
                raise


def result(email, **echo):
    return {"success": True, "email": email, "timestamp": datetime.now(timezone.utc).isoformat(), **echo}


def today():
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def email_task(function):
    """The old service's task options: late acks (app-wide), up to 3 retries with exponential backoff."""
    return app.task(
        bind=True, autoretry_for=TRANSIENT, max_retries=3, retry_backoff=2, retry_backoff_max=600, retry_jitter=True
    )(function)


# ── The tasks ───────────────────────────────────────────────────────────────────────────────────────────────
@email_task
def send_otp_verification_email(self, task_data):
    email, user = task_data["email"], task_data.get("user_data") or {}
    send_email(email, "Your verification code", "send_otp_verification_email",
               name=user.get("full_name") or user.get("username"), otp=str(task_data["otp"]),
               expires_in_minutes=task_data.get("expires_in_minutes", 10))
    return result(email, otp_sent=True)


@email_task
def send_welcome_email(self, task_data):
    email, user = task_data["email"], task_data.get("user_data") or {}
    send_email(email, f"Welcome to {FROM_NAME}", "send_welcome_email",
               name=user.get("full_name") or user.get("username"), username=user.get("username"),
               dashboard_url=task_data.get("dashboard_url") or APP_URL)
    return result(email, welcome_sent=True)


@email_task
def send_booking_confirmation(self, user_id, booking_data):
    email = find_email(user_id)
    event_name = booking_data.get("event_name") or "Event"
    send_email(email, f"Booking confirmed: {event_name}", "send_booking_confirmation",
               event_name=event_name, booking_id=booking_data.get("booking_id"),
               quantity=booking_data.get("quantity") or 1, total_price=float(booking_data.get("total_price") or 0),
               booking_date=booking_data.get("booking_date") or today())
    return result(email, user_id=user_id, booking_id=booking_data.get("booking_id"))


@email_task
def send_booking_cancellation(self, user_id, cancellation_data):
    email = find_email(user_id)
    event_name = cancellation_data.get("event_name") or "Event"
    send_email(email, f"Booking cancelled: {event_name}", "send_booking_cancellation",
               event_name=event_name, booking_id=cancellation_data.get("booking_id"),
               refund_amount=float(cancellation_data.get("refund_amount") or 0),
               reason=cancellation_data.get("reason"))
    return result(email, user_id=user_id, booking_id=cancellation_data.get("booking_id"))


@email_task
def send_waitlist_notification(self, user_id, waitlist_data):
    email = find_email(user_id)
    event_name = waitlist_data.get("event_name") or "Event"
    position = waitlist_data.get("position") or 1
    send_email(email, f"A spot opened up: {event_name}", "send_waitlist_notification",
               event_name=event_name, position=position,
               expiry_minutes=waitlist_data.get("expiry_minutes") or 30,
               claim_url=waitlist_data.get("claim_url") or APP_URL)
    return result(email, user_id=user_id, waitlist_position=position)


@email_task
def send_waitlist_joined(self, user_id, waitlist_data):
    email = find_email(user_id)
    event_name = waitlist_data.get("event_name") or "Event"
    position = waitlist_data.get("position") or 1
    send_email(email, f"You're on the waitlist: {event_name}", "send_waitlist_joined",
               event_name=event_name, position=position, joined_date=waitlist_data.get("joined_date") or today())
    return result(email, user_id=user_id, position=position)


@email_task
def send_waitlist_cancellation(self, user_id, waitlist_data):
    email = find_email(user_id)
    event_name = waitlist_data.get("event_name") or "Event"
    send_email(email, f"You left the waitlist: {event_name}", "send_waitlist_cancellation",
               event_name=event_name, cancellation_date=waitlist_data.get("cancellation_date") or today(),
               rejoin_url=waitlist_data.get("rejoin_url") or APP_URL)
    return result(email, user_id=user_id)
