"""
The Celery app of the old email service, as the benchmark models it: Celery 5, Redis broker, no result backend,
late acks and a prefetch of one, the seven email tasks routed to the three email queues. A baseline for
bench/celery.ts, not a product. Run from bench/celery (or with it on PYTHONPATH):

    CELERY_BROKER_URL=redis://127.0.0.1:6379/7 SMTP_PORT=2525 DATABASE_URL=postgres://… USERS_TABLE=users \
      /usr/bin/python3 -m celery -A email_workers.celery_app worker \
      -Q auth_emails,booking_emails,waitlist_emails -P prefork -c 10 --loglevel=WARNING
"""
import os

from celery import Celery
from celery.signals import worker_ready

QUEUE_OF = {
    "send_otp_verification_email": "auth_emails",
    "send_welcome_email": "auth_emails",
    "send_booking_confirmation": "booking_emails",
    "send_booking_cancellation": "booking_emails",
    "send_waitlist_notification": "waitlist_emails",
    "send_waitlist_joined": "waitlist_emails",
    "send_waitlist_cancellation": "waitlist_emails",
}

app = Celery(
    "email_workers",
    broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7"),
    include=["email_workers.tasks"],
)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    # The old service's 1; the tuned row of bench/celery.ts sets 16 (CELERY_PREFETCH_MULTIPLIER).
    worker_prefetch_multiplier=int(os.environ.get("CELERY_PREFETCH_MULTIPLIER", "1")),
    task_routes={f"email_workers.tasks.{task}": {"queue": queue} for task, queue in QUEUE_OF.items()},
    timezone="UTC",
)


@worker_ready.connect
def announce_ready(**_):
    """One line on stdout when the worker consumes, since --loglevel=WARNING hides Celery's own "ready"."""
    print("celery worker ready", flush=True)
