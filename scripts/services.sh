#!/usr/bin/env bash
# Local Kafka + Schema Registry + Cassandra as plain JVM processes on 127.0.0.1 (no Docker).
#
#   scripts/services.sh up            start what is not running yet, wait until each answers
#   scripts/services.sh down          stop what we started (reverse order)
#   scripts/services.sh status        one line per service
#   scripts/services.sh logs NAME [-f]  show (or follow) a server's log
#
# Servers: Kafka (KRaft, 127.0.0.1:9092), Apicurio Registry with its Confluent-compatible API
# (http://127.0.0.1:8081/apis/ccompat/v7), Cassandra (127.0.0.1:9042).
# The first run downloads them from Maven Central with Maven into a cache that survives
# fresh clones (${XDG_CACHE_HOME:-~/.cache}/sluice). Runtime state (data, logs, PID files,
# rendered configs) lives under .sluice/ at the repo root, so a wipe is one `rm -rf .sluice`.
#
# Knobs (environment):
#   SLUICE_SERVICES          services to act on (default "kafka registry cassandra")
#   SLUICE_STATE_DIR         runtime state (default <repo>/.sluice)
#   SLUICE_CACHE_DIR         downloaded servers (default ${XDG_CACHE_HOME:-~/.cache}/sluice)
#   SLUICE_KAFKA_TIMEOUT / SLUICE_REGISTRY_TIMEOUT / SLUICE_CASSANDRA_TIMEOUT
#                            readiness timeouts in seconds (60 / 90 / 180)
#   SLUICE_STOP_TIMEOUT      seconds between SIGTERM and SIGKILL on `down` (60)
#   SLUICE_CASSANDRA_HEAP    Cassandra's JVM heap (1G)
#   SLUICE_CASSANDRA_JVM_OPTS  more JVM flags for Cassandra, split on spaces (e.g. -Xlog:gc)
#   SLUICE_KAFKA_VERSION (4.4.0), SLUICE_CASSANDRA_VERSION (5.0.6),
#   SLUICE_APICURIO_VERSION  (3.3.3 with a Java 21+ JDK, else 3.0.9 on Java 17)
#   SLUICE_JAVA17_HOME, SLUICE_REGISTRY_JAVA_HOME   JDKs to use instead of the detected ones
set -euo pipefail
# Linux only (/proc, setpriv, GNU realpath); bash 5 for EPOCHREALTIME and associative arrays.
((BASH_VERSINFO[0] >= 5)) || { echo "services.sh: needs bash 5 or newer" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TPL=$ROOT/scripts/services
# Absolute paths: they end up in generated configs and JVM flags.
STATE=$(realpath -m "${SLUICE_STATE_DIR:-$ROOT/.sluice}")
CACHE=$(realpath -m "${SLUICE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice}")
SERVICES=${SLUICE_SERVICES:-kafka registry cassandra}
ALL_SERVICES=(kafka registry cassandra)

KAFKA_VERSION=${SLUICE_KAFKA_VERSION:-4.4.0}
# Cassandra's JVM heap: 1G is enough for the tests; `just bench` asks for 2G, since a
# full-speed drain plus its count(*) polling ran a 1G heap out of memory.
CASSANDRA_HEAP=${SLUICE_CASSANDRA_HEAP:-1G}
CASSANDRA_VERSION=${SLUICE_CASSANDRA_VERSION:-5.0.6}
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7

# Ports each service binds; all are checked before starting so that a foreign process on
# one of them gives a clear error instead of a confusing crash in the server's log.
declare -A PORTS=(
  [kafka]="9092 9093"          # client, KRaft controller
  [registry]="8081 9190"       # HTTP API, Quarkus management (moved off the usual 9000)
  [cassandra]="9042 7000 7199" # CQL, storage (gossip), JMX (local only)
)
declare -A TIMEOUTS=(
  [kafka]=${SLUICE_KAFKA_TIMEOUT:-60}
  [registry]=${SLUICE_REGISTRY_TIMEOUT:-90}
  [cassandra]=${SLUICE_CASSANDRA_TIMEOUT:-180}
)

# ------------------------------------------------------------------ helpers
say() { printf '%-10s %s\n' "$1" "$2"; }
die() { echo "services.sh: $*" >&2; exit 1; }

# Microseconds since the epoch (bash 5 builtin, no fork), and "12.3" seconds since a mark.
now_us() { local t=$EPOCHREALTIME; echo "${t//[.,]/}"; }
since() { local d=$(($(now_us) - $1)); printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10)); }

log_of() { echo "$STATE/logs/$1.log"; }
pidfile_of() { echo "$STATE/run/$1.pid"; }

# PID of our running server NAME, or failure. Every server is started with
# -Dsluice.service=NAME, so a recycled PID that belongs to something else is not mistaken
# for ours; stale PID files are removed.
pid_of() {
  local pidf pid
  pidf=$(pidfile_of "$1")
  [[ -s $pidf ]] || return 1
  pid=$(<"$pidf")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    grep -qaF -e "-Dsluice.service=$1" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  rm -f "$pidf"
  return 1
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rss_mb() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# Major version of a JDK home, from its `release` file (no JVM start needed).
java_major() { sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null; }

# First JDK home among the arguments and /usr/lib/jvm/* whose major version is in [MIN, MAX].
find_jdk() {
  local min=$1 max=$2 home major
  shift 2
  for home in "$@" /usr/lib/jvm/*; do
    [[ -n $home && -x $home/bin/java ]] || continue
    major=$(java_major "$home")
    [[ -n $major ]] && ((major >= min && major <= max)) && { echo "$home"; return 0; }
  done
  return 1
}

# Kafka 4.x and Cassandra 5.0 both run on Java 17 (Cassandra dies on 21+).
java17() {
  find_jdk 17 17 "${SLUICE_JAVA17_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 ||
    die "no Java 17 JDK found (set SLUICE_JAVA17_HOME); Kafka and Cassandra need it"
}

# Apicurio 3.3.x needs Java 21+; 3.0.x is the newest that runs on Java 17.
REGISTRY_JAVA="" APICURIO_VERSION=""
pick_registry_runtime() {
  [[ -n $APICURIO_VERSION ]] && return 0
  local newer
  if [[ -n ${SLUICE_REGISTRY_JAVA_HOME:-} ]]; then
    REGISTRY_JAVA=$SLUICE_REGISTRY_JAVA_HOME
  elif newer=$(find_jdk 21 99 /usr/lib/jvm/temurin-25-jdk-amd64); then
    REGISTRY_JAVA=$newer
  else
    REGISTRY_JAVA=$(java17)
  fi
  if (($(java_major "$REGISTRY_JAVA") >= 21)); then
    APICURIO_VERSION=${SLUICE_APICURIO_VERSION:-3.3.3}
  else
    APICURIO_VERSION=${SLUICE_APICURIO_VERSION:-3.0.9}
  fi
}

# ------------------------------------------------------------------ downloads
# Copy the runtime dependencies of one of our throwaway poms into DEST. Maven runs in a
# scratch directory (never writes into the checkout) and the result is moved into place
# only when complete, so an interrupted download is never mistaken for a cached one.
mvn_fetch() {
  local name=$1 pom=$2 dest=$3 t0 tmp
  shift 3
  command -v mvn >/dev/null || die "Maven (mvn) is needed once to download $name"
  say "$name" "downloading from Maven Central (first run only) -> $dest"
  t0=$(now_us)
  mkdir -p "$CACHE"
  rm -rf "$CACHE/.fetch-$name".*  # leftovers of an interrupted download (we hold the lock)
  tmp=$(mktemp -d "$CACHE/.fetch-$name.XXXXXX")
  cp "$pom" "$tmp/pom.xml"
  # Maven's output is kept aside and shown only on failure (even -q -B prints stray ANSI codes).
  if ! (cd "$tmp" && mvn -B -q -Dstyle.color=never "$@" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$tmp/lib") >"$tmp/mvn.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "downloading $name with Maven failed (Maven's output is above)"
  fi
  FETCHED=$tmp/lib
  FETCH_T0=$t0
}

ensure_kafka() {
  KAFKA_HOME=$CACHE/kafka-$KAFKA_VERSION
  [[ -d $KAFKA_HOME/lib ]] && return 0
  mvn_fetch kafka "$TPL/kafka-pom.xml" "$KAFKA_HOME" -Dkafka.version="$KAFKA_VERSION"
  mkdir -p "$KAFKA_HOME" && mv "$FETCHED" "$KAFKA_HOME/lib" && rm -rf "$(dirname "$FETCHED")"
  say kafka "downloaded $KAFKA_VERSION in $(since "$FETCH_T0") s ($(du -sh "$KAFKA_HOME" | cut -f1))"
}

ensure_cassandra() {
  CASSANDRA_HOME=$CACHE/cassandra-$CASSANDRA_VERSION
  [[ -d $CASSANDRA_HOME/lib ]] && return 0
  mvn_fetch cassandra "$TPL/cassandra-pom.xml" "$CASSANDRA_HOME" -Dcassandra.version="$CASSANDRA_VERSION"
  mkdir -p "$CASSANDRA_HOME" && mv "$FETCHED" "$CASSANDRA_HOME/lib" && rm -rf "$(dirname "$FETCHED")"
  say cassandra "downloaded $CASSANDRA_VERSION in $(since "$FETCH_T0") s ($(du -sh "$CASSANDRA_HOME" | cut -f1))"
}

# Apicurio ships as a tarball: unpack it once into the cache, then find its launcher jar
# (3.1+: Quarkus fast-jar quarkus-run.jar; 3.0.x: an uber *-runner.jar).
ensure_registry() {
  pick_registry_runtime
  local home=$CACHE/apicurio-$APICURIO_VERSION tarball
  if [[ ! -d $home ]]; then
    mvn_fetch registry "$TPL/registry-pom.xml" "$home" -Dapicurio.version="$APICURIO_VERSION"
    tarball=$(echo "$FETCHED"/*.tar.gz)
    mkdir -p "$FETCHED/unpacked"
    tar -xzf "$tarball" -C "$FETCHED/unpacked"
    mv "$FETCHED/unpacked" "$home" && rm -rf "$(dirname "$FETCHED")"
    say registry "downloaded Apicurio $APICURIO_VERSION in $(since "$FETCH_T0") s ($(du -sh "$home" | cut -f1))"
  fi
  REGISTRY_JAR=$(find "$home" -name quarkus-run.jar -print -quit)
  [[ -n $REGISTRY_JAR ]] || REGISTRY_JAR=$(find "$home" -name '*-runner.jar' -print -quit)
  [[ -n $REGISTRY_JAR ]] || die "no quarkus-run.jar or *-runner.jar under $home (delete it to re-download)"
}

# ------------------------------------------------------------------ start / wait / stop
# Start "$@" detached from this shell (its own session: a Ctrl-C or hang-up of the terminal
# that ran `up` does not reach the servers) with cwd DIR and stdout+stderr appended to the
# service's log. The inner bash writes its own PID and then execs the server, so the PID
# file holds the JVM's PID whatever wrappers (setsid, setpriv) sit in between.
spawn() {
  local name=$1 dir=$2 log pidf i
  shift 2
  log=$(log_of "$name")
  pidf=$(pidfile_of "$name")
  rm -f "$pidf"
  # 9>&-: the server must not inherit the lock of `up`/`down` (it would hold it forever).
  # shellcheck disable=SC2016 # $$ and $0 belong to the inner bash
  setsid bash -c 'echo $$ >"$0" && cd "$1" && shift && exec "$@"' "$pidf" "$dir" "$@" \
    </dev/null >>"$log" 2>&1 9>&- &
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidf ]] && return 0
    sleep 0.1
  done
  die "$name did not start; see $log"
}

ready_kafka() { python3 "$TPL/probe.py" kafka 127.0.0.1:9092 >/dev/null 2>&1; }
ready_registry() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$REGISTRY_URL/subjects") == 200 ]]
}
ready_cassandra() { python3 "$TPL/probe.py" cql 127.0.0.1:9042 >/dev/null 2>&1; }

# Poll NAME's real protocol until it answers; fail fast if the process dies.
wait_ready() {
  local name=$1 t0=$2 timeout=${TIMEOUTS[$1]} pid log
  log=$(log_of "$name")
  while ! "ready_$name"; do
    if ! pid=$(pid_of "$name"); then
      echo "---- last lines of $log ----" >&2
      tail -n 30 "$log" >&2 || true
      die "$name exited during startup; see its log: $log"
    fi
    if (($(now_us) - t0 > timeout * 1000000)); then
      die "$name is not answering after ${timeout} s (pid $pid is still running; \`$0 down\` stops it); see its log: $log"
    fi
    sleep 0.25
  done
}

check_ports_free() {
  local name=$1 port
  for port in ${PORTS[$name]}; do
    if port_open "$port"; then
      die "port 127.0.0.1:$port is taken by a process this script did not start; not starting $name"
    fi
  done
}

# Move the previous run's log aside so each log starts with the current run.
rotate_log() {
  local log
  log=$(log_of "$1")
  [[ -s $log ]] && mv -f "$log" "$log.1"
  : >"$log"
}

# Render a template from scripts/services/ with @STATE@ replaced.
render() { sed "s#@STATE@#$STATE#g" "$TPL/$1" >"$2"; }

start_kafka() {
  local java dir=$STATE/kafka cluster_id
  java=$(java17)/bin/java
  ensure_kafka
  mkdir -p "$dir/conf" "$dir/data"
  render kafka-server.properties "$dir/conf/server.properties"
  cp "$TPL/kafka-log4j2.properties" "$dir/conf/log4j2.properties"
  rotate_log kafka
  local jvm=(-Dlog4j2.configurationFile="$dir/conf/log4j2.properties" -cp "$KAFKA_HOME/lib/*")
  # KRaft storage is formatted once; meta.properties marks a formatted log dir.
  if [[ ! -f $dir/data/meta.properties ]]; then
    # Kafka's cluster ids are 16 random bytes, base64url without padding (not starting with '-').
    cluster_id=$(python3 -c 'import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not s.startswith("-"): print(s); break')
    "$java" "${jvm[@]}" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
      -c "$dir/conf/server.properties" >>"$(log_of kafka)" 2>&1 ||
      die "formatting Kafka's storage failed; see $(log_of kafka)"
  fi
  T0=$(now_us)
  spawn kafka "$dir" "$java" -Dsluice.service=kafka \
    -Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true "${jvm[@]}" kafka.Kafka "$dir/conf/server.properties"
}

start_registry() {
  local dir=$STATE/registry
  ensure_registry
  mkdir -p "$dir/h2"
  rotate_log registry
  T0=$(now_us)
  # File-backed H2 so that schemas (and their ids) survive restarts; the default is in
  # memory. Both ports on loopback: Quarkus' management port defaults to 0.0.0.0:9000.
  spawn registry "$dir" "$REGISTRY_JAVA/bin/java" -Dsluice.service=registry \
    -Xms64m -Xmx384m -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port=8081 \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port=9190 \
    -Dapicurio.datasource.url="jdbc:h2:file:$dir/h2/registry" \
    -jar "$REGISTRY_JAR"
}

# After the registry answers: Apicurio's default compatibility is NONE, Confluent's is
# BACKWARD; behave like the registry production uses.
configure_registry() {
  curl -fsS -o /dev/null --max-time 10 -X PUT -H 'Content-Type: application/json' \
    -d '{"compatibility":"BACKWARD"}' "$REGISTRY_URL/config" ||
    die "could not set the registry's compatibility to BACKWARD; see $(log_of registry)"
}

# JVM flags from Cassandra 5.0's conf/jvm17-server.options (cassandra-all does not ship
# the conf directory): the module exports/opens it needs on Java 17.
CASSANDRA_JDK17_FLAGS=(
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
  --add-exports java.base/sun.nio.ch=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.math=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens java.base/java.net=ALL-UNNAMED
)

start_cassandra() {
  local java dir=$STATE/cassandra jamm
  java=$(java17)/bin/java
  ensure_cassandra
  mkdir -p "$dir/conf" "$dir/data" "$dir/tmp" "$dir/triggers" "$dir/logs"
  render cassandra.yaml "$dir/conf/cassandra.yaml"
  cp "$TPL/cassandra-logback.xml" "$dir/conf/logback.xml"
  jamm=$(echo "$CASSANDRA_HOME"/lib/jamm-*.jar)
  [[ -f $jamm ]] || die "no jamm agent jar in $CASSANDRA_HOME/lib"
  rotate_log cassandra
  # As root, Cassandra's mlockall succeeds and pins the whole heap (RSS ~1.5 GB for a 1 GB
  # heap). Dropping CAP_IPC_LOCK makes it fail harmlessly (one warning in the log). Non-root
  # users cannot lock that much anyway.
  local wrap=()
  if ((EUID == 0)) && setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock true 2>/dev/null; then
    wrap=(setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock)
  fi
  T0=$(now_us)
  spawn cassandra "$dir" "${wrap[@]}" "$java" -Dsluice.service=cassandra \
    -Xms"$CASSANDRA_HEAP" -Xmx"$CASSANDRA_HEAP" -Xss256k -XX:+UseG1GC -XX:+PerfDisableSharedMem -XX:+ExitOnOutOfMemoryError \
    -javaagent:"$jamm" -Djdk.attach.allowAttachSelf=true \
    "${CASSANDRA_JDK17_FLAGS[@]}" ${SLUICE_CASSANDRA_JVM_OPTS:-} \
    -Dcassandra-foreground=yes \
    -Dcassandra.config="file://$dir/conf/cassandra.yaml" \
    -Dcassandra.storagedir="$dir/data" \
    -Dcassandra.logdir="$dir/logs" \
    -Dcassandra.triggers_dir="$dir/triggers" \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.jmx.local.port=7199 -Dcom.sun.management.jmxremote.rmi.port=7199 \
    -Djava.io.tmpdir="$dir/tmp" -Djna.tmpdir="$dir/tmp" \
    -Dlogback.configurationFile="$dir/conf/logback.xml" \
    -Djava.net.preferIPv4Stack=true \
    -cp "$dir/conf:$CASSANDRA_HOME/lib/*" org.apache.cassandra.service.CassandraDaemon
}

up_one() {
  local name=$1 pid
  if pid=$(pid_of "$name"); then
    # Ours and alive: nothing to start, but do not report success before it answers
    # (a previous `up` may have been interrupted while it was still starting).
    wait_ready "$name" "$(now_us)"
    say "$name" "already running (pid $pid)"
    return 0
  fi
  check_ports_free "$name"
  "start_$name"
  wait_ready "$name" "$T0"
  [[ $name == registry ]] && configure_registry
  say "$name" "ready in $(since "$T0") s (pid $(pid_of "$name"), log $(log_of "$name"))"
}

stop_one() {
  local name=$1 pid t0 timeout=${SLUICE_STOP_TIMEOUT:-60}
  if ! pid=$(pid_of "$name"); then
    say "$name" "not running"
    return 0
  fi
  t0=$(now_us)
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if (($(now_us) - t0 > timeout * 1000000)); then
      say "$name" "still running ${timeout} s after SIGTERM: sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$(pidfile_of "$name")"
  say "$name" "stopped in $(since "$t0") s (pid $pid)"
}

status_one() {
  local name=$1 pid port note=""
  port=${PORTS[$name]%% *}
  if pid=$(pid_of "$name"); then
    port_open "$port" || note=" (not answering yet)"
    say "$name" "running  pid $pid  port $port  rss $(rss_mb "$pid") MB$note"
  else
    say "$name" "stopped"
  fi
}

# ------------------------------------------------------------------ main
# The services named in SLUICE_SERVICES, always in the canonical order (Kafka, registry,
# Cassandra), into the array SVCS.
select_services() {
  local s
  for s in $SERVICES; do
    [[ " ${ALL_SERVICES[*]} " == *" $s "* ]] || die "unknown service '$s' in SLUICE_SERVICES (known: ${ALL_SERVICES[*]})"
  done
  SVCS=()
  for s in "${ALL_SERVICES[@]}"; do
    if [[ " $SERVICES " == *" $s "* ]]; then SVCS+=("$s"); fi
  done
}

# One `up`/`down` at a time per state directory.
lock() {
  mkdir -p "$STATE/run" "$STATE/logs"
  exec 9>"$STATE/run/lock"
  flock -n 9 || { echo "waiting for another services.sh up/down to finish..." >&2; flock 9; }
}

cmd=${1:-}
case $cmd in
up)
  lock
  select_services
  command -v python3 >/dev/null || die "python3 is needed for the readiness probes"
  t_all=$(now_us)
  for s in "${SVCS[@]}"; do up_one "$s"; done
  say all "up in $(since "$t_all") s (state $STATE)"
  ;;
down)
  lock
  select_services
  for ((i = ${#SVCS[@]} - 1; i >= 0; i--)); do stop_one "${SVCS[i]}"; done
  ;;
status)
  select_services
  for s in "${SVCS[@]}"; do status_one "$s"; done
  ;;
logs)
  name=${2:-}
  [[ " ${ALL_SERVICES[*]} " == *" $name "* ]] || die "usage: $0 logs {kafka|registry|cassandra} [-f]"
  log=$(log_of "$name")
  [[ -f $log ]] || die "no log for $name yet ($log)"
  if [[ ${3:-} == -f ]]; then exec tail -n 50 -F "$log"; fi
  exec tail -n "${SLUICE_LOG_LINES:-200}" "$log"
  ;;
*)
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  [[ -z $cmd || $cmd == help || $cmd == -h || $cmd == --help ]] || exit 2
  ;;
esac
