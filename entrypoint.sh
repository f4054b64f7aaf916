#!/bin/sh
# The image's entrypoint; tini runs it as PID 1's child and forwards signals to the process it execs.
#
#   workers [options]        (the default) the email workers; options go to start-workers, e.g. --queues
#   --option …               the same: `docker run IMAGE --queues auth_emails`, `docker run IMAGE --help`
#   monitor | --monitor …    the monitor (Bull Board and the task API) on MONITOR_PORT
#   migrate                  apply pending database migrations, then exit
#   healthcheck              what the image's HEALTHCHECK runs: the health endpoint of this container's mode
#   anything else            executed as given: `docker run IMAGE start-workers deliveries`, `… sh`
#
# Before the service starts: every NAME_FILE variable (a Docker secret) becomes NAME, read from the file; Redis
# and, when configured, PostgreSQL are waited for up to WAIT_TIMEOUT seconds (60; 0 skips the wait).
set -eu

# EMAIL_WORKERS_CLI: only to run this script outside the image (the tests do).
CLI=${EMAIL_WORKERS_CLI:-/app/dist/cli/start-workers.js}
# Where this container's health endpoint is written down for `healthcheck` (the URL holds no secret).
HEALTH_URL_FILE=${TMPDIR:-/tmp}/email-workers-health-url

say() { printf 'entrypoint: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

# NAME_FILE=/run/secrets/name sets NAME to the file's content (without its final newline); NAME and NAME_FILE
# both set is an error, as a value from two places is one too many.
read_file_secrets() {
  for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p'); do
    file='' both=''
    eval "file=\${${name}_FILE}"
    eval "both=\${${name}+set}"
    [ "$both" != set ] || die "both ${name} and ${name}_FILE are set: set one of them"
    [ -r "$file" ] || die "${name}_FILE: cannot read ${file}"
    value=$(cat "$file") || die "${name}_FILE: cannot read ${file}"
    export "${name}=${value}"
    unset "${name}_FILE"
  done
}

# The old Celery service fetched its secrets from a secrets manager with ZERO_TOKEN. Nothing reads it now.
explain_zero_token() {
  if [ -n "${ZERO_TOKEN:-}" ]; then
    say 'ZERO_TOKEN is set but not used: secrets are no longer fetched from a secrets manager; pass each as a variable, or as a Docker secret with NAME_FILE=/run/secrets/name (README, "Deploying")'
  fi
  unset ZERO_TOKEN
}

wait_for_services() {
  [ "${WAIT_TIMEOUT:-60}" != 0 ] || return 0
  node "$CLI" wait --timeout "${WAIT_TIMEOUT:-60}"
}

# HEALTH_PORT=auto picks a free port: with host networking, replicas share one network and cannot all bind 8004.
# The port is written to HEALTH_URL_FILE (and logged by the workers), where `healthcheck` and people find it.
prepare_health_port() {
  if [ "${HEALTH_PORT:-}" = auto ]; then
    HEALTH_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    export HEALTH_PORT
    say "HEALTH_PORT=auto: health endpoints on port ${HEALTH_PORT}"
  fi
}

record_health_url() {
  if [ -n "$1" ]; then echo "$1" >"$HEALTH_URL_FILE"; else rm -f "$HEALTH_URL_FILE"; fi
}

healthcheck() {
  if [ ! -s "$HEALTH_URL_FILE" ]; then
    echo "no health endpoint in this container's mode"
    exit 0
  fi
  exec node -e '
    const url = process.argv[1];
    fetch(url, { signal: AbortSignal.timeout(4000) }).then(
      (response) => { console.log(url + ": " + response.status); process.exit(response.ok ? 0 : 1); },
      (error) => { console.log(url + ": " + (error.cause?.code ?? error.message)); process.exit(1); },
    );' "$(cat "$HEALTH_URL_FILE")"
}

wants_help() {
  for arg in "$@"; do
    case "$arg" in -h | --help) return 0 ;; esac
  done
  return 1
}

run_workers() {
  prepare_health_port
  if [ "${HEALTH_PORT:-8004}" = 0 ]; then
    record_health_url ''
  else
    record_health_url "http://127.0.0.1:${HEALTH_PORT:-8004}/health/ready"
  fi
  wants_help "$@" || wait_for_services
  say "starting start-workers $*"
  exec node "$CLI" "$@"
}

run_monitor() {
  base_path=${MONITOR_BASE_PATH:-}
  record_health_url "http://127.0.0.1:${MONITOR_PORT:-5555}${base_path%/}/health"
  wants_help "$@" || wait_for_services
  say "starting start-workers --monitor $*"
  exec node "$CLI" --monitor "$@"
}

mode=${1:-workers}
if [ "$mode" = healthcheck ]; then healthcheck; fi
explain_zero_token
read_file_secrets
case "$mode" in
  workers)
    [ "$#" -eq 0 ] || shift
    run_workers "$@"
    ;;
  monitor | --monitor)
    shift
    run_monitor "$@"
    ;;
  migrate)
    shift
    wait_for_services
    record_health_url ''
    exec node "$CLI" migrate "$@"
    ;;
  -*) run_workers "$@" ;;
  *) exec "$@" ;;
esac
