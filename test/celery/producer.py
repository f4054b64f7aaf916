"""
A platform service as it calls the old Celery email service, unchanged: `send_task` with the qualified or bare
name, positional or keyword arguments, `.delay` through a registered signature, and `AsyncResult(id).get()`.
Used by the bridge's tests with Debian's python3-celery (run with /usr/bin/python3).

Reads one JSON action a line on stdin and prints one JSON line per action:
  {"op": "send_task", "name", "args"?, "kwargs"?, "queue", "countdown"?, "expires"?, "priority"?, "task_id"?,
   "serializer"?, "protocol"?}                                   → {"id"}
  {"op": "delay", "name", "args"?, "kwargs"?}                     → {"id"}   (routed to QUEUE by task_routes)
  {"op": "burst", "name", "queue", "count", "kwargs_of": "booking"} → {"ids"}
  {"op": "get", "id", "timeout"}                                  → {"result"} or {"error", "type"}
  {"op": "send_pickle_exploit", "name", "queue", "path"}          → {"id"}   (unpickling it would create `path`)
  {"op": "unpickle_exploit", "path"}                              → {"created"} (shows what unpickling does)
Env: CELERY_BROKER_URL, CELERY_RESULT_BACKEND (optional), QUEUE.
"""
import json
import os
import pickle
import sys

from celery import Celery



def celery_app(protocol):
    app = Celery("platform", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ.get("CELERY_RESULT_BACKEND"))
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_protocol=protocol,
        task_routes={"email_workers.tasks.*": {"queue": os.environ.get("QUEUE", "email_notifications")}},
    )
    return app


app = celery_app(2)
# An older client still on Celery 3's message format (protocol 1).
legacy_app = celery_app(1)


# How services declared the old tasks they call with .delay(): a stub under the real name, never run here.
@app.task(name="email_workers.tasks.send_welcome_email")
def send_welcome_email(task_data):
    raise RuntimeError("runs in the email service, not here")


@app.task(name="email_workers.tasks.send_booking_confirmation")
def send_booking_confirmation(user_id, booking_data):
    raise RuntimeError("runs in the email service, not here")


STUBS = {task.name: task for task in (send_welcome_email, send_booking_confirmation)}


class Exploit:
    """Unpickling calls open(path, "w"): a file appears if anything ever unpickles the message."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def run(action):
    op = action["op"]
    if op == "send_task":
        options = {k: action[k] for k in ("countdown", "expires", "priority", "task_id", "serializer") if k in action}
        sender = legacy_app if action.get("protocol") == 1 else app
        result = sender.send_task(
            action["name"], args=action.get("args"), kwargs=action.get("kwargs"), queue=action["queue"], **options
        )
        return {"id": result.id}
    if op == "delay":
        result = STUBS[action["name"]].delay(*action.get("args", []), **action.get("kwargs", {}))
        return {"id": result.id}
    if op == "burst":
        ids = []
        with app.producer_or_acquire() as producer:
            for n in range(action["count"]):
                result = app.send_task(
                    action["name"],
                    args=[action["user_id"], {"event_name": "Burst", "booking_id": f"BURST-{n}"}],
                    queue=action["queue"],
                    producer=producer,
                )
                ids.append(result.id)
        return {"ids": ids}
    if op == "get":
        try:
            return {"result": app.AsyncResult(action["id"]).get(timeout=action["timeout"])}
        except Exception as error:  # noqa: BLE001 (the test reads what the producer would see)
            return {"error": str(error), "type": type(error).__name__}
    if op == "send_pickle_exploit":
        result = app.send_task(
            action["name"], args=[Exploit(action["path"])], queue=action["queue"], serializer="pickle"
        )
        return {"id": result.id}
    if op == "unpickle_exploit":
        pickle.loads(pickle.dumps(Exploit(action["path"])))
        return {"created": os.path.exists(action["path"])}
    raise ValueError(f"unknown op {op}")


for line in sys.stdin:
    if line.strip():
        print(json.dumps(run(json.loads(line))), flush=True)
