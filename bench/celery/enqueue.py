"""
Producer for the Celery baseline (bench/celery.ts): reads one JSON object a line from stdin,
{"task": "send_welcome_email", "queue": "auth_emails", "kwargs": {...}}, and sends each with
app.send_task("email_workers.tasks.<task>", kwargs=..., queue=...), as the old service's producers did.
Prints the number sent. Env: CELERY_BROKER_URL.
"""
import json
import sys

from email_workers.celery_app import app

sent = 0
with app.producer_or_acquire() as producer:
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        app.send_task(
            f"email_workers.tasks.{job['task']}",
            kwargs=job["kwargs"],
            queue=job["queue"],
            producer=producer,
        )
        sent += 1
print(sent)
