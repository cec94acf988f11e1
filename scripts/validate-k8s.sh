#!/usr/bin/env bash
# Validates the Kubernetes manifests under deploy/k8s (or the directory given):
#
#   bash scripts/validate-k8s.sh [DIR]
#
# Needs python3 with venv and pip, and PyPI (the first run installs
# kubernetes-validate into .sluice/venv-k8s; later runs reuse it). What is checked,
# and by what (docs/deploy.md says the same):
#
# - Every built-in resource (Deployment, ConfigMap, Secret, Service,
#   PodDisruptionBudget): kubernetes-validate, pinned below, in strict mode (an
#   unknown field is an error, not ignored) against the Kubernetes OpenAPI
#   schemas of each version in K8S_VERSIONS. A kind or apiVersion it has no
#   schema for is an error here (kubernetes-validate itself only warns).
# - The KEDA ScaledObject (a CRD: kubernetes-validate has no schema for it):
#   DIR/schemas/keda-scaledobject-v1alpha1.json, written from KEDA's
#   documentation, with jsonschema (installed with kubernetes-validate); its
#   spec.advanced.horizontalPodAutoscalerConfig.behavior, which KEDA hands to the
#   HPA it creates, against Kubernetes' own autoscaling/v2 schema, as an HPA.
# - What no schema can say, across the files: the ScaledObject scales the
#   Deployment of these manifests, maxReplicaCount <= the partition count in its
#   sluice/topic-partitions annotation, its kafka trigger names the brokers,
#   group, topic and offset reset policy that the hosts use (sluice.toml in the
#   ConfigMap, overridden by the container's SLUICE_* env and flags); the
#   Deployment has no `replicas` (the autoscaler owns it); --config points at a
#   mounted ConfigMap key holding parseable TOML; a non-loopback admin.listen has
#   SLUICE_ADMIN_TOKEN from a Secret key (never a literal), as check_exposure in
#   host/src/config.rs demands; every SLUICE_* variable is one the sources read;
#   the probes hit /healthz and /readyz on the admin port, the Service and its
#   prometheus.io/* annotations point at it; selectors match the pod labels;
#   terminationGracePeriodSeconds outlasts cassandra.request-timeout; YAML keys
#   are not repeated; no file in DIR is left unchecked.
# - host/tests/k8s_manifests.rs also loads the ConfigMap's sluice.toml with the
#   host's own config code (unknown keys are errors there) and checks broken
#   copies are rejected.
#
# Exit status: 0 valid, 1 invalid (each problem on a line of its own), 2 a setup
# failure (no venv module, PyPI unreachable), 3 python3 missing.
# SLUICE_K8S_EXPORT=DIR writes the ConfigMap's sluice.toml and the container's
# env (DIR/sluice.toml, DIR/env.json) for the Rust test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$ROOT/deploy/k8s}"
# Newest on PyPI on 2026-12-01 (`pip index versions kubernetes-validate`); it
# ships schemas for Kubernetes 1.25 to 1.37.
KUBERNETES_VALIDATE_VERSION=1.37.0
# 1.31: the oldest release the manifests are meant for (everything they use is
# GA there, the PDB's unhealthyPodEvictionPolicy last); 1.37: the newest that
# kubernetes-validate 1.37.0 knows.
K8S_VERSIONS="${SLUICE_K8S_VERSIONS:-1.31 1.37}"
VENV="${SLUICE_K8S_VENV:-$ROOT/.sluice/venv-k8s}"

if ! command -v python3 >/dev/null 2>&1; then
    echo "validate-k8s: python3 is not installed; it is needed to validate the manifests" >&2
    exit 3
fi
if [ ! -d "$DIR" ]; then
    echo "validate-k8s: $DIR is not a directory" >&2
    exit 2
fi

REQUIREMENTS=("kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" 'tomli==2.5.0; python_version < "3.11"')

setup_venv() {
    local stamp="$VENV/.sluice-requirements" want
    want="$(python3 -c 'import sys; print(sys.version.split()[0])') ${REQUIREMENTS[*]}"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    echo "validate-k8s: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $VENV" >&2
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >&2; then
        rm -rf "$VENV"
        echo "validate-k8s: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 2
    fi
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "${REQUIREMENTS[@]}" >&2; then
        rm -rf "$VENV"
        echo "validate-k8s: pip could not install ${REQUIREMENTS[0]} (is PyPI reachable?)" >&2
        exit 2
    fi
    echo "$want" >"$stamp"
}

mkdir -p "$(dirname "$VENV")"
if command -v flock >/dev/null 2>&1; then
    # Tests run this script in parallel: one of them builds the venv, the others wait.
    exec 9>"$VENV.lock"
    flock 9
    setup_venv
    flock -u 9
    exec 9>&-
else
    setup_venv
fi

exec "$VENV/bin/python" - "$ROOT" "$DIR" "$K8S_VERSIONS" <<'PY'
"""The checks listed at the top of scripts/validate-k8s.sh."""
import importlib.metadata
import ipaddress
import json
import os
import re
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

root, base, versions = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split()
problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")
    print(f"FAIL {where}: {text}")


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; the API server's parser refuses them."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)

# ---------------------------------------------------------------- read every file
resources = []  # (relative path, document)
schema_files = {}
for path in sorted(p for p in base.rglob("*") if p.is_file()):
    rel = path.relative_to(base).as_posix()
    if path.suffix in (".yaml", ".yml"):
        try:
            docs = [d for d in yaml.load_all(path.read_text(), Loader=UniqueKeyLoader) if d is not None]
        except yaml.YAMLError as e:
            problem(rel, f"not valid YAML: {e}")
            continue
        if not docs:
            problem(rel, "no Kubernetes resource in the file")
        for doc in docs:
            if not (isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str)
                    and isinstance(doc.get("kind"), str)
                    and isinstance((doc.get("metadata") or {}).get("name"), str)):
                problem(rel, "a document without apiVersion, kind and metadata.name")
                continue
            resources.append((rel, doc))
    elif path.suffix == ".json" and rel.startswith("schemas/"):
        try:
            schema = json.loads(path.read_text())
            jsonschema.Draft202012Validator.check_schema(schema)
            schema_files[rel] = schema
            print(f"OK   {rel}: a valid JSON Schema (draft 2020-12)")
        except (ValueError, jsonschema.SchemaError) as e:
            problem(rel, f"not a valid JSON Schema: {e}")
    else:
        problem(rel, "not a manifest (.yaml) nor a schema (schemas/*.json): nothing checks it")


def kn(doc):
    return f"{doc['kind']}/{doc['metadata']['name']}"


seen_names = {}
for rel, doc in resources:
    key = (doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else "", doc["kind"], doc["metadata"]["name"])
    if key in seen_names:
        problem(rel, f"{kn(doc)} is also defined in {seen_names[key]}")
    seen_names[key] = rel

# ---------------------------------------------------------------- schemas
SCALED_OBJECT = ("keda.sh/v1alpha1", "ScaledObject")
SO_SCHEMA = "schemas/keda-scaledobject-v1alpha1.json"


def error_path(e):
    return ".".join(str(p) for p in e.absolute_path) or "(top)"


for rel, doc in resources:
    if (doc["apiVersion"], doc["kind"]) == SCALED_OBJECT:
        if SO_SCHEMA not in schema_files:
            problem(rel, f"{kn(doc)}: {SO_SCHEMA} is missing: nothing to check a ScaledObject against")
            continue
        errors = sorted(jsonschema.Draft202012Validator(schema_files[SO_SCHEMA]).iter_errors(doc),
                        key=lambda e: list(e.absolute_path))
        for e in errors:
            problem(rel, f"{kn(doc)} does not match {SO_SCHEMA}: {error_path(e)}: {e.message}")
        if errors:
            continue
        spec = doc["spec"]
        behavior = ((spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}).get("behavior")
        # What KEDA creates from it: an autoscaling/v2 HPA; checked as one.
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"keda-hpa-{doc['metadata']['name']}"},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": spec["scaleTargetRef"].get("apiVersion", "apps/v1"),
                    "kind": spec["scaleTargetRef"].get("kind", "Deployment"),
                    "name": spec["scaleTargetRef"]["name"],
                },
                "minReplicas": max(spec.get("minReplicaCount", 0), 1),
                "maxReplicas": spec.get("maxReplicaCount", 100),
            },
        }
        if behavior is not None:
            hpa["spec"]["behavior"] = behavior
        ok = True
        for v in versions:
            try:
                kubernetes_validate.validate(hpa, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                ok = False
                problem(rel, f"{kn(doc)}: as the HPA KEDA creates (Kubernetes {v}): "
                             f"{error_path(e)}: {e.message}")
                break
        if ok:
            print(f"OK   {rel}: {kn(doc)} matches {SO_SCHEMA}; its HPA settings validate "
                  f"(Kubernetes {', '.join(versions)}, strict)")
        continue
    failed = False
    for v in versions:
        try:
            kubernetes_validate.validate(doc, v, strict=True)
        except kubernetes_validate.ValidationError as e:
            problem(rel, f"{kn(doc)} did not validate against Kubernetes {e.version} "
                         f"(strict): {error_path(e)}: {e.message}")
            failed = True
            break
        except kubernetes_validate.SchemaNotFoundError:
            problem(rel, f"{kn(doc)}: no schema for kind {doc['kind']} in {doc['apiVersion']} "
                         f"in Kubernetes {v}: a typo, or a custom resource nothing here checks")
            failed = True
            break
    if not failed:
        print(f"OK   {rel}: {kn(doc)} (Kubernetes {', '.join(versions)}, strict)")

# ---------------------------------------------------------------- across the files
def of_kind(kind, api=None):
    return [(rel, d) for rel, d in resources if d["kind"] == kind and (api is None or d["apiVersion"] == api)]


def duration_seconds(text):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*", str(text))
    if not m:
        return None
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# SLUICE_* names the host and its crates read (and the tests, harmlessly): a
# variable outside this set does nothing, usually a typo.
known_vars = set()
for src in [root / "host" / "src", *sorted((root / "crates").glob("*/src"))]:
    for f in src.rglob("*.rs"):
        known_vars.update(re.findall(r'"(SLUICE_[A-Z0-9_]+)"', f.read_text(errors="replace")))

# The env variables the host reads over sluice.toml keys (host/src/config.rs).
ENV_KEYS = {
    "SLUICE_KAFKA_BROKERS": ("kafka", "brokers"),
    "SLUICE_KAFKA_GROUP": ("kafka", "group-id"),
    "SLUICE_REGISTRY_URL": ("registry", "url"),
    "SLUICE_CASSANDRA_HOSTS": ("cassandra", "hosts"),
    "SLUICE_CASSANDRA_KEYSPACE": ("cassandra", "keyspace"),
    "SLUICE_ADMIN_LISTEN": ("admin", "listen"),
    "SLUICE_PLUGIN_DIR": ("pipeline", "plugin-dir"),
    "SLUICE_TOPICS": ("pipeline", "topics"),
}
FLAG_KEYS = {
    "--brokers": ("kafka", "brokers"),
    "--group": ("kafka", "group-id"),
    "--topic": ("pipeline", "topics"),
    "--admin-listen": ("admin", "listen"),
}
SECRET_VARS = {"SLUICE_ADMIN_TOKEN", "SLUICE_CASSANDRA_PASSWORD", "SLUICE_REGISTRY_PASSWORD"}

deployments = of_kind("Deployment", "apps/v1")
configmaps = {d["metadata"]["name"]: (rel, d) for rel, d in of_kind("ConfigMap", "v1")}
secrets = {d["metadata"]["name"]: (rel, d) for rel, d in of_kind("Secret", "v1")}
effective = {}  # (section, key) -> value the hosts run with
exported = None
admin_port = None
deployment = None

if len(deployments) != 1:
    problem(base.name, f"expected one Deployment (the hosts), found {len(deployments)}")
else:
    rel, deployment = deployments[0]
    where = f"{rel}: {kn(deployment)}"
    spec = deployment.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selects((spec.get("selector") or {}).get("matchLabels"), labels):
        problem(where, "spec.selector.matchLabels does not select the pod template's labels")
    containers = [c for c in pod.get("containers") or [] if "run" in (c.get("args") or c.get("command") or [])]
    ports = {}
    if len(containers) != 1:
        problem(where, "expected one container running `host run` (args: [run, ...])")
    else:
        c = containers[0]
        args = c.get("args") or []
        # ---- the config file: a mounted ConfigMap key
        toml_text, config_path, cm_rel, cm = None, None, "?", {"kind": "ConfigMap", "metadata": {"name": "?"}}
        if "--config" in args and args.index("--config") + 1 < len(args):
            config_path = args[args.index("--config") + 1]
        else:
            problem(where, "`host run` has no --config FILE: the ConfigMap's sluice.toml would be unused")
        if config_path:
            mount_dir, _, key = config_path.rpartition("/")
            mounts = {m["mountPath"].rstrip("/"): m["name"] for m in c.get("volumeMounts") or []}
            volumes = {v["name"]: v for v in pod.get("volumes") or []}
            cm_name = ((volumes.get(mounts.get(mount_dir)) or {}).get("configMap") or {}).get("name")
            if cm_name is None:
                problem(where, f"--config {config_path}: no ConfigMap volume is mounted at {mount_dir}")
            elif cm_name not in configmaps:
                problem(where, f"--config {config_path}: ConfigMap {cm_name} is not in these manifests")
            else:
                cm_rel, cm = configmaps[cm_name]
                toml_text = (cm.get("data") or {}).get(key)
                if toml_text is None:
                    problem(f"{cm_rel}: {kn(cm)}", f"has no key {key!r} (the file --config {config_path} reads)")
        config = {}
        if toml_text is not None:
            try:
                config = tomllib.loads(toml_text)
            except tomllib.TOMLDecodeError as e:
                problem(f"{cm_rel}: {kn(cm)}", f"{key} is not valid TOML: {e}")
        for section, values in config.items():
            if isinstance(values, dict):
                for k, v in values.items():
                    effective[(section, k)] = v
        # ---- environment
        plain, from_secret = {}, []
        for e in c.get("env") or []:
            name = e.get("name", "")
            if name.startswith("SLUICE_") and name not in known_vars:
                problem(where, f"env {name}: neither the host nor its crates read such a variable (a typo?)")
            if "value" in e:
                if name in SECRET_VARS:
                    problem(where, f"env {name} is written in the manifest: take it from a Secret (valueFrom.secretKeyRef)")
                plain[name] = e["value"]
                if name in ENV_KEYS:
                    section, k = ENV_KEYS[name]
                    env_value = [t.strip() for t in e["value"].split(",")] if name == "SLUICE_TOPICS" else e["value"]
                    if (section, k) in effective and effective[(section, k)] != env_value:
                        problem(where, f"env {name}={e['value']!r} disagrees with {section}.{k} = "
                                       f"{effective[(section, k)]!r} in sluice.toml (the env wins; keep them equal)")
                    effective[(section, k)] = env_value
            else:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    from_secret.append(name)
                    s = secrets.get(ref.get("name"))
                    if s is None:
                        problem(where, f"env {name}: Secret {ref.get('name')} is not in these manifests")
                    elif ref.get("key") not in {**(s[1].get("data") or {}), **(s[1].get("stringData") or {})}:
                        problem(where, f"env {name}: Secret {ref.get('name')} has no key {ref.get('key')!r}")
                    if name == "SLUICE_ADMIN_TOKEN" and ref.get("optional"):
                        problem(where, "env SLUICE_ADMIN_TOKEN must not be optional: the host refuses to start without it")
        # ---- flags override both
        for i, a in enumerate(args):
            if a in FLAG_KEYS and i + 1 < len(args):
                section, k = FLAG_KEYS[a]
                effective[(section, k)] = [args[i + 1]] if a == "--topic" else args[i + 1]
        for section, k in [("kafka", "brokers"), ("kafka", "group-id"), ("pipeline", "topics"), ("admin", "listen")]:
            if (section, k) not in effective:
                problem(where, f"{section}.{k} is not stated (sluice.toml, env or flag): "
                               "state it, the autoscaler and the probes depend on it")
        # ---- the admin endpoint: token, port, probes
        listen = str(effective.get(("admin", "listen"), "127.0.0.1:9180"))
        host_part, _, port_part = listen.rpartition(":")
        try:
            admin_port = int(port_part)
            ip = ipaddress.ip_address(host_part.strip("[]"))
            loopback = ip.is_loopback
        except ValueError:
            problem(where, f"admin.listen = {listen!r} is not IP:PORT")
            loopback = True
        if loopback:
            problem(where, f"admin.listen = {listen!r} is loopback: the kubelet's probes and Prometheus cannot reach it")
        elif "SLUICE_ADMIN_TOKEN" not in from_secret and not (config.get("admin") or {}).get("token"):
            problem(where, f"admin.listen = {listen!r} is not loopback, so the host needs admin.token: "
                           "set env SLUICE_ADMIN_TOKEN from a Secret (check_exposure, host/src/config.rs)")
        if (config.get("admin") or {}).get("token"):
            problem(f"{cm_rel}: {kn(cm)}", "admin.token is written in the ConfigMap: move it to the Secret")
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        if admin_port is not None and ports.get("admin") != admin_port:
            problem(where, f"container port `admin` is {ports.get('admin')}, admin.listen's port is {admin_port}")

        def probe_port(p):
            port = ((p or {}).get("httpGet") or {}).get("port")
            return ports.get(port) if isinstance(port, str) else port

        for probe, path in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")]:
            p = c.get(probe)
            if p is None:
                if probe != "startupProbe":
                    problem(where, f"no {probe} (GET {path})")
                continue
            got = (p.get("httpGet") or {}).get("path")
            if got != path:
                problem(where, f"{probe} is GET {got}, expected GET {path}")
            if probe_port(p) != admin_port:
                problem(where, f"{probe} port is {probe_port(p)}, the admin endpoint's is {admin_port}")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        timeout = duration_seconds(effective.get(("cassandra", "request-timeout"), "10s"))
        if timeout is not None and grace <= timeout:
            problem(where, f"terminationGracePeriodSeconds {grace} does not outlast cassandra.request-timeout "
                           f"({timeout:g} s): in-flight batches would be cut off")
        exported = {"plain": plain, "secret": from_secret, "args": args, "toml": toml_text or ""}
    # ---- services and budgets select the pods
    for kind in ("Service", "PodDisruptionBudget"):
        for srel, s in of_kind(kind):
            sel = (s.get("spec") or {}).get("selector") or {}
            sel = sel.get("matchLabels") if kind == "PodDisruptionBudget" else sel
            if not selects(sel, labels):
                problem(f"{srel}: {kn(s)}", f"its selector does not select {kn(deployment)}'s pods")
            if kind == "Service":
                sports = (s.get("spec") or {}).get("ports") or []
                targets = [p.get("targetPort", p.get("port")) for p in sports]
                if not any((ports.get(t) if isinstance(t, str) else t) == admin_port for t in targets):
                    problem(f"{srel}: {kn(s)}", f"no port targets the admin endpoint ({admin_port})")
                ann = (s.get("metadata") or {}).get("annotations") or {}
                if ann.get("prometheus.io/scrape") == "true":
                    if ann.get("prometheus.io/port") != str(admin_port):
                        problem(f"{srel}: {kn(s)}", f"prometheus.io/port is {ann.get('prometheus.io/port')!r}, "
                                                    f"the admin endpoint's port is {admin_port}")
                    if ann.get("prometheus.io/path") != "/metrics":
                        problem(f"{srel}: {kn(s)}", "prometheus.io/path must be /metrics")

# ---------------------------------------------------------------- the autoscaler
for rel, so in of_kind("ScaledObject", "keda.sh/v1alpha1"):
    where = f"{rel}: {kn(so)}"
    spec = so.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    if (ref.get("apiVersion", "apps/v1"), ref.get("kind", "Deployment")) != ("apps/v1", "Deployment") \
            or deployment is None or ref.get("name") != deployment["metadata"]["name"]:
        problem(where, f"scaleTargetRef ({ref.get('kind', 'Deployment')} {ref.get('name')}) does not name "
                       f"the Deployment of these manifests ({deployment['metadata']['name'] if deployment else 'none'})")
    elif "replicas" in (deployment.get("spec") or {}):
        problem(where, f"{kn(deployment)} sets spec.replicas: every `kubectl apply` would reset the count "
                       "the autoscaler chose; leave it out")
    annotation = ((so.get("metadata") or {}).get("annotations") or {}).get("sluice/topic-partitions")
    try:
        partitions = int(annotation)
    except (TypeError, ValueError):
        partitions = None
        problem(where, "annotation sluice/topic-partitions (the topic's partition count) is missing or not a number")
    lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if partitions is not None and hi > partitions:
        problem(where, f"maxReplicaCount {hi} is more than the topic's {partitions} partitions "
                       "(sluice/topic-partitions): the extra hosts would sit idle")
    if lo < 1:
        problem(where, f"minReplicaCount {lo}: keep at least one host, to take deploys and seed a new group")
    if lo > hi:
        problem(where, f"minReplicaCount {lo} > maxReplicaCount {hi}")
    kafka = [t for t in spec.get("triggers") or [] if t.get("type") == "kafka"]
    if not kafka:
        problem(where, "no trigger of type kafka (consumer lag)")
    group = effective.get(("kafka", "group-id"))
    topics = effective.get(("pipeline", "topics")) or []
    brokers = effective.get(("kafka", "brokers"))
    reset = effective.get(("kafka", "auto-offset-reset"), "earliest")
    for t in kafka:
        m = t.get("metadata") or {}
        for key in ("bootstrapServers", "consumerGroup", "topic", "lagThreshold"):
            if not m.get(key):
                problem(where, f"kafka trigger without {key}")
        if group is not None and m.get("consumerGroup") != group:
            problem(where, f"kafka trigger consumerGroup {m.get('consumerGroup')!r} is not the hosts' group "
                           f"{group!r} (kafka.group-id): KEDA would watch another group's lag")
        if m.get("topic") and m.get("topic") not in topics:
            problem(where, f"kafka trigger topic {m.get('topic')!r} is not among the hosts' topics {topics}")
        if brokers is not None and m.get("bootstrapServers") and \
                sorted(s.strip() for s in m["bootstrapServers"].split(",")) != sorted(s.strip() for s in str(brokers).split(",")):
            problem(where, f"kafka trigger bootstrapServers {m['bootstrapServers']!r} are not the hosts' "
                           f"kafka.brokers {brokers!r}")
        if m.get("offsetResetPolicy", "latest") != reset:
            problem(where, f"kafka trigger offsetResetPolicy {m.get('offsetResetPolicy', 'latest (the default)')!r} "
                           f"differs from kafka.auto-offset-reset {reset!r}: a new group's lag would be misjudged")
        if m.get("allowIdleConsumers") == "true":
            problem(where, "allowIdleConsumers \"true\": hosts beyond the partition count only sit idle")
    if not any(p.startswith(rel) for p in problems):
        print(f"OK   {rel}: {kn(so)} scales {ref.get('name')} to at most {hi} hosts "
              f"({partitions} partitions), on the lag of group {group!r}")

if os.environ.get("SLUICE_K8S_EXPORT") and exported is not None:
    out = Path(os.environ["SLUICE_K8S_EXPORT"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "sluice.toml").write_text(exported.pop("toml"))
    (out / "env.json").write_text(json.dumps(exported, indent=2))

print(f"validate-k8s: kubernetes-validate {kubernetes_validate.__version__}, jsonschema "
      f"{importlib.metadata.version('jsonschema')}, Kubernetes {', '.join(versions)}, strict")
if problems:
    print(f"validate-k8s: {len(problems)} problem(s) in {base}")
    sys.exit(1)
print(f"validate-k8s: {len(resources)} resources in {base}: valid")
PY
