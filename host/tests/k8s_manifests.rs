//! The Kubernetes manifests in deploy/k8s: `scripts/validate-k8s.sh` accepts
//! them (kubernetes-validate from PyPI in strict mode, the KEDA ScaledObject
//! schema in deploy/k8s/schemas, the checks across the files), the host's own
//! config code accepts the ConfigMap's sluice.toml with the Deployment's env and
//! flags, and broken copies are rejected, each for its own reason.
//!
//! Needs python3 with venv, and PyPI the first time (the script installs the
//! validator into .sluice/venv-k8s). Skipped, saying so, only when python3 is
//! not installed.

use clap::Parser;
use host::cli::{Cli, Command as HostCommand};
use host::config::Config;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf()
}

fn manifests() -> PathBuf {
    workspace().join("deploy/k8s")
}

/// True (after saying why) when python3 is absent: the one reason to skip.
fn python3_missing(test: &str) -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "{test}: SKIPPED: python3 is not installed, and scripts/validate-k8s.sh needs it"
        );
    }
    !found
}

/// Runs the validator on `dir`; with `export`, it also writes the ConfigMap's
/// sluice.toml and the container's env there.
fn validate(dir: &Path, export: Option<&Path>) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(workspace().join("scripts/validate-k8s.sh"))
        .arg(dir);
    match export {
        Some(e) => cmd.env("SLUICE_K8S_EXPORT", e),
        None => cmd.env_remove("SLUICE_K8S_EXPORT"),
    };
    cmd.output().expect("running bash scripts/validate-k8s.sh")
}

fn shown(o: &Output) -> String {
    format!(
        "exit status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of deploy/k8s with `from` replaced by `to` in `file`; `from` must
/// occur exactly once, so that an edit of the manifests cannot turn a case
/// into a silent no-op.
fn broken_copy(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&manifests(), dir.path());
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "deploy/k8s/{file} should contain {from:?} exactly once (the manifests changed: update this case)"
    );
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    dir
}

/// What the validator exported: the config text, the container's env
/// (literal values; names taken from a Secret) and its args.
struct Exported {
    toml: String,
    plain: HashMap<String, String>,
    secret: Vec<String>,
    args: Vec<String>,
}

fn exported(dir: &Path) -> Exported {
    let toml = std::fs::read_to_string(dir.join("sluice.toml")).expect("exported sluice.toml");
    let env: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("env.json")).unwrap()).unwrap();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    Exported {
        toml,
        plain: env["plain"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        secret: strings(&env["secret"]),
        args: strings(&env["args"]),
    }
}

/// The config a pod runs with: the file, then the env (Secret values stood in
/// for, unless left out), then the flags, as `host run` layers them.
fn pod_config(e: &Exported, with_secrets: bool) -> anyhow::Result<Config> {
    let mut config = Config::from_toml(&e.toml)?;
    config.apply_env(|k| {
        e.plain.get(k).cloned().or_else(|| {
            (with_secrets && e.secret.iter().any(|s| s == k))
                .then(|| "a-long-random-test-token".to_string())
        })
    });
    let cli = Cli::try_parse_from(std::iter::once("host".to_string()).chain(e.args.clone()))?;
    let HostCommand::Run(run) = cli.command else {
        anyhow::bail!("the container does not run `host run`: {:?}", e.args);
    };
    run.apply(&mut config)?;
    Ok(config)
}

#[test]
fn the_manifests_validate_and_the_host_accepts_their_config() {
    if python3_missing("the_manifests_validate_and_the_host_accepts_their_config") {
        return;
    }
    let export = tempfile::tempdir().unwrap();
    let out = validate(&manifests(), Some(export.path()));
    let text = shown(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for file in [
        "configmap.yaml",
        "deployment.yaml",
        "service.yaml",
        "pdb.yaml",
        "secret/secret.yaml",
        "keda/scaledobject.yaml",
        "schemas/keda-scaledobject-v1alpha1.json",
    ] {
        assert!(
            text.contains(&format!("OK   {file}:")),
            "{file} not checked:\n{text}"
        );
    }
    assert!(!text.contains("FAIL"), "{text}");

    let e = exported(export.path());
    let config = pod_config(&e, true).unwrap_or_else(|err| panic!("{err:#}\n{}", e.toml));
    config
        .validate()
        .unwrap_or_else(|err| panic!("the host would refuse this config: {err:#}"));
    assert_eq!(
        config.pipeline.plugin.as_deref(),
        Some("flatten.wasm"),
        "--plugin seeds the group"
    );
    // The token is what lets it listen beyond loopback: without the Secret it
    // refuses to start, as check_exposure says.
    let err = pod_config(&e, false).unwrap().validate().unwrap_err();
    assert!(format!("{err:#}").contains("admin.token"), "{err:#}");
}

/// A copy of deploy/k8s with one thing wrong, and what the validator must say.
struct Broken {
    what: &'static str,
    file: &'static str,
    /// Replaced by `to`; occurs exactly once in `file`.
    from: &'static str,
    to: &'static str,
    expect: &'static str,
}

#[test]
fn broken_copies_of_the_manifests_are_rejected() {
    if python3_missing("broken_copies_of_the_manifests_are_rejected") {
        return;
    }
    let cases = [
        Broken {
            what: "a replica count that is not a number",
            file: "deployment.yaml",
            from: "spec:\n  selector:",
            to: "spec:\n  replicas: \"three\"\n  selector:",
            expect: "spec.replicas: 'three' is not of type 'integer'",
        },
        Broken {
            what: "a field Kubernetes does not have (strict mode)",
            file: "deployment.yaml",
            from: "          readinessProbe:",
            to: "          readinessProbes:",
            expect: "'readinessProbes' was unexpected",
        },
        Broken {
            what: "a misspelt kind, which kubernetes-validate alone only warns about",
            file: "pdb.yaml",
            from: "kind: PodDisruptionBudget",
            to: "kind: PodDisruptionBudgett",
            expect: "no schema for kind PodDisruptionBudgett",
        },
        Broken {
            what: "a key written twice",
            file: "deployment.yaml",
            from: "      terminationGracePeriodSeconds: 60\n",
            to: "      terminationGracePeriodSeconds: 60\n      terminationGracePeriodSeconds: 5\n",
            expect: "'terminationGracePeriodSeconds' appears twice",
        },
        Broken {
            what: "more hosts than the topic has partitions",
            file: "keda/scaledobject.yaml",
            from: "maxReplicaCount: 6",
            to: "maxReplicaCount: 12",
            expect: "maxReplicaCount 12 is more than the topic's 6 partitions",
        },
        Broken {
            what: "an autoscaler aimed at another Deployment",
            file: "keda/scaledobject.yaml",
            from: "    name: sluice\n  pollingInterval",
            to: "    name: sluice-old\n  pollingInterval",
            expect: "does not name the Deployment of these manifests",
        },
        Broken {
            what: "an autoscaler watching another consumer group",
            file: "keda/scaledobject.yaml",
            from: "consumerGroup: sluice",
            to: "consumerGroup: sluice-v2",
            expect: "is not the hosts' group 'sluice'",
        },
        Broken {
            what: "a kafka trigger without its lag threshold",
            file: "keda/scaledobject.yaml",
            from: "        lagThreshold: \"20000\"\n",
            to: "",
            expect: "'lagThreshold' is a required property",
        },
        Broken {
            what: "a ScaledObject field KEDA does not have",
            file: "keda/scaledobject.yaml",
            from: "  pollingInterval: 15\n",
            to: "  pollingInterval: 15\n  maxReplicas: 6\n",
            expect: "does not match schemas/keda-scaledobject-v1alpha1.json",
        },
        Broken {
            what: "the admin token written into the Deployment",
            file: "deployment.yaml",
            from: "- name: SLUICE_ADMIN_TOKEN\n              valueFrom:\n                secretKeyRef:\n                  name: sluice-secrets\n                  key: admin-token\n",
            to: "- name: SLUICE_ADMIN_TOKEN\n              value: hunter2\n",
            expect: "env SLUICE_ADMIN_TOKEN is written in the manifest",
        },
        Broken {
            what: "a misspelt SLUICE_ variable",
            file: "deployment.yaml",
            from: "- name: SLUICE_CACHE_DIR",
            to: "- name: SLUICE_CACHEDIR",
            expect: "env SLUICE_CACHEDIR: neither the host nor its crates read",
        },
        Broken {
            what: "an env override that disagrees with sluice.toml",
            file: "configmap.yaml",
            from: "brokers = \"kafka.kafka.svc.cluster.local:9092\"",
            to: "brokers = \"kafka-0.kafka.svc.cluster.local:9092\"",
            expect: "disagrees with kafka.brokers",
        },
        Broken {
            what: "a readiness probe on the wrong path",
            file: "deployment.yaml",
            from: "path: /readyz",
            to: "path: /ready",
            expect: "readinessProbe is GET /ready, expected GET /readyz",
        },
    ];
    let mut wrong = Vec::new();
    for case in &cases {
        let dir = broken_copy(case.file, case.from, case.to);
        let out = validate(dir.path(), None);
        let text = shown(&out);
        // 1 is "invalid"; 2 would be a setup failure, which proves nothing.
        if out.status.code() != Some(1) || !text.contains(case.expect) {
            wrong.push(format!(
                "{} ({}): expected exit 1 and {:?}\n{text}",
                case.what, case.file, case.expect
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} broken copies were not rejected as expected:\n\n{}",
        wrong.len(),
        wrong.join("\n\n")
    );
}

/// The script only parses the ConfigMap's TOML; the keys are the host's to
/// judge: a misspelt one passes the script and is refused by the host.
#[test]
fn a_sluice_toml_key_the_host_does_not_know_is_refused_by_the_host() {
    if python3_missing("a_sluice_toml_key_the_host_does_not_know_is_refused_by_the_host") {
        return;
    }
    let dir = broken_copy(
        "configmap.yaml",
        "session-timeout = \"10s\"",
        "session-timout = \"10s\"",
    );
    let export = tempfile::tempdir().unwrap();
    let out = validate(dir.path(), Some(export.path()));
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let err = pod_config(&exported(export.path()), true).unwrap_err();
    assert!(format!("{err:#}").contains("session-timout"), "{err:#}");
}
