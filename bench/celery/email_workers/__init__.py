"""The old Celery email service, rebuilt as a benchmark baseline for bench/celery.ts (see celery_app.py)."""
