"""The deployment files say what the code says: Kubernetes manifests validate offline against the
Kubernetes schemas (CloudNativePG's kinds against a small schema of the fields we use), the
kustomizations render (by a renderer of the kustomize subset k8s/ uses: no kustomize binary here),
docker-compose.yml is well formed, and both name the same services, ports and variables as
parts.py and each service's settings class. No network, no docker, no cluster."""

from __future__ import annotations

import base64
import copy
import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kube_schemas
from pydantic import ValidationError
from pydantic_settings import SettingsError
from referencing import Registry, Resource

from careloop_common.launcher.parts import ALL_PARTS, Part, part_named
from careloop_common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
KUBERNETES_VERSION = "1.33"
OVERLAYS = ("base", "overlays/dev", "overlays/prod")
DATABASE_PARTS = tuple(p for p in ALL_PARTS if p.has_database)
# Secrets made outside the manifests: by whoever holds them, or by CloudNativePG (<name>-db-app).
EXTERNAL_SECRETS = {"careloop-secrets", "careloop-backup-s3"} | {f"{p.name}-db-app" for p in DATABASE_PARTS}

Manifest = dict[str, Any]


# ---- a renderer of the kustomize subset k8s/ uses ------------------------------------------------


def load_documents(path: Path) -> list[Manifest]:
    """Return the non-empty YAML documents of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[Manifest]:
    """Render a kustomization (or component) directory to its resources."""
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    resources: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        target = directory / entry
        resources += render(target) if target.is_dir() else load_documents(target)
    for entry in kustomization.get("components", []):
        resources = apply_component(directory / entry, resources)
    resources += generate_secrets(kustomization)
    for patch in kustomization.get("patches", []):
        resources = apply_patch(directory, patch, resources)
    for image in kustomization.get("images", []):
        set_image(resources, image)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in ("Namespace",):
                resource["metadata"]["namespace"] = kustomization["namespace"]
    for label in kustomization.get("labels", []):
        add_labels(resources, label)
    return resources


def apply_component(directory: Path, resources: list[Manifest]) -> list[Manifest]:
    """Add a component's resources, then apply its patches to everything so far."""
    component = load_documents(directory / "kustomization.yaml")[0]
    assert component["kind"] == "Component", directory
    resources = resources + [
        doc for entry in component.get("resources", []) for doc in load_documents(directory / entry)
    ]
    for patch in component.get("patches", []):
        resources = apply_patch(directory, patch, resources)
    return resources


def generate_secrets(kustomization: Manifest) -> list[Manifest]:
    """Make the Secrets of ``secretGenerator`` (literals only; names kept: no hash suffix)."""
    assert (
        not kustomization.get("secretGenerator") or kustomization["generatorOptions"]["disableNameSuffixHash"]
    )
    secrets = []
    for generator in kustomization.get("secretGenerator", []):
        pairs = (literal.split("=", 1) for literal in generator["literals"])
        data = {key: base64.b64encode(value.encode()).decode() for key, value in pairs}
        secrets.append(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": generator["name"]}, "data": data}
        )
    return secrets


def matches(resource: Manifest, target: dict[str, str]) -> bool:
    """Tell whether a patch target selects a resource."""
    group = resource["apiVersion"].rpartition("/")[0]
    labels = resource["metadata"].get("labels", {})
    selector = dict(pair.split("=") for pair in target.get("labelSelector", "").split(",") if pair)
    return (
        target.get("kind", resource["kind"]) == resource["kind"]
        and target.get("name", resource["metadata"]["name"]) == resource["metadata"]["name"]
        and target.get("group", group) == group
        and all(labels.get(k) == v for k, v in selector.items())
    )


def apply_patch(directory: Path, patch: Manifest, resources: list[Manifest]) -> list[Manifest]:
    """Apply a JSON 6902 patch, or a strategic-merge ``$patch: delete``, to the targets."""
    text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
    body = yaml.safe_load(text)
    selected = [r for r in resources if matches(r, patch["target"])]
    assert selected, f"patch {patch['target']} in {directory} selects nothing"
    if isinstance(body, dict):
        assert body.get("$patch") == "delete", "only deleting strategic-merge patches are used"
        return [r for r in resources if not any(r is s for s in selected)]
    for resource in selected:
        for operation in body:
            json_patch(resource, operation)
    return resources


def json_patch(document: Manifest, operation: Manifest) -> None:
    """Apply one JSON patch operation (add, replace, remove) in place."""
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in operation["path"].split("/")[1:]]
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if operation["op"] == "remove":
        del node[key]
        return
    if operation["op"] == "replace":
        assert key in node if isinstance(node, dict) else key < len(node), f"nothing at {operation['path']}"
    node[key] = copy.deepcopy(operation["value"])


def containers(resource: Manifest) -> list[Manifest]:
    """Return the containers and init containers of a workload's pod template."""
    spec = pod_spec(resource)
    return [*spec.get("initContainers", []), *spec.get("containers", [])] if spec else []


def pod_spec(resource: Manifest) -> Manifest | None:
    """Return the pod spec of a Deployment, StatefulSet or Job."""
    if resource["kind"] in ("Deployment", "StatefulSet", "Job"):
        spec: Manifest = resource["spec"]["template"]["spec"]
        return spec
    return None


def set_image(resources: list[Manifest], image: Manifest) -> None:
    """Rewrite an image's name and tag in every container that uses it."""
    for resource in resources:
        for container in containers(resource):
            name = container["image"].split(":")[0]
            if name == image["name"]:
                tag = image.get("newTag", "latest")
                container["image"] = f"{image.get('newName', name)}:{tag}"


def add_labels(resources: list[Manifest], label: Manifest) -> None:
    """Add labels to metadata (and pod templates when asked), never to selectors."""
    for resource in resources:
        resource["metadata"].setdefault("labels", {}).update(label["pairs"])
        if label.get("includeTemplates") and pod_spec(resource) is not None:
            resource["spec"]["template"]["metadata"].setdefault("labels", {}).update(label["pairs"])


@cache
def rendered(name: str) -> tuple[Manifest, ...]:
    """Render base or an overlay once per test session."""
    return tuple(render(K8S / name))


def by_kind(resources: tuple[Manifest, ...], kind: str) -> dict[str, Manifest]:
    """Return the resources of a kind by name."""
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


# ---- schemas ----------------------------------------------------------------------------------------

# CloudNativePG's CRDs are not in the Kubernetes schemas: these check the fields k8s/ uses.
_RESOURCES = {"type": "object", "properties": {"requests": {"type": "object"}, "limits": {"type": "object"}}}
CNPG_SCHEMAS: dict[str, Manifest] = {
    "Cluster": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "postgresql.cnpg.io/v1"},
            "spec": {
                "type": "object",
                "required": ["instances", "storage", "bootstrap"],
                "additionalProperties": False,
                "properties": {
                    "instances": {"type": "integer", "minimum": 1},
                    "inheritedMetadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
                    "bootstrap": {
                        "type": "object",
                        "properties": {
                            "initdb": {
                                "type": "object",
                                "required": ["database", "owner"],
                                "properties": {"database": {"type": "string"}, "owner": {"type": "string"}},
                            }
                        },
                    },
                    "storage": {
                        "type": "object",
                        "required": ["size"],
                        "properties": {"size": {"type": "string"}, "storageClass": {"type": "string"}},
                    },
                    "resources": _RESOURCES,
                    "primaryUpdateStrategy": {"enum": ["supervised", "unsupervised"]},
                    "enablePDB": {"type": "boolean"},
                    "backup": {
                        "type": "object",
                        "properties": {
                            "retentionPolicy": {"type": "string", "pattern": "^[1-9][0-9]*[dwm]$"},
                            "barmanObjectStore": {
                                "type": "object",
                                "required": ["destinationPath"],
                                "properties": {"destinationPath": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    },
    "ScheduledBackup": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "postgresql.cnpg.io/v1"},
            "spec": {
                "type": "object",
                "required": ["schedule", "cluster"],
                "properties": {
                    # CNPG's schedules have six fields: seconds first.
                    "schedule": {"type": "string", "pattern": r"^(\S+ ){5}\S+$"},
                    "cluster": {"type": "object", "required": ["name"]},
                },
            },
        },
    },
}


# The newest release of KUBERNETES_VERSION's schemas, strict: unknown fields are errors.
SCHEMA_RELEASE = [
    v for v in kube_schemas.all_versions() if kube_schemas.major_minor(v) == KUBERNETES_VERSION
][-1]
SCHEMAS = f"kubernetes-json-schema/v{SCHEMA_RELEASE}-local-strict"


@cache
def kubernetes_validator(kind: str, api_version: str) -> jsonschema.Draft202012Validator:
    """Return a strict validator of one kind from kubernetes-validate's schemas, built once.

    ``kube_schemas.validate`` does the same but reads the 3 MB definitions file for every resource.
    """
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kube_schemas.schema_contents(
            f"{SCHEMAS}/{kind.lower()}-{group_version}.json", KUBERNETES_VERSION
        )
    except FileNotFoundError as exc:
        raise kube_schemas.SchemaNotFoundError(KUBERNETES_VERSION, kind, api_version) from exc
    registry: Registry = Resource.from_contents(schema) @ (definitions() @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def definitions() -> Resource:
    """Return the shared definitions every Kubernetes schema refers to."""
    return Resource.from_contents(
        kube_schemas.schema_contents(f"{SCHEMAS}/_definitions.json", KUBERNETES_VERSION)
    )


def validate(resource: Manifest) -> None:
    """Validate one resource: Kubernetes kinds strictly, CloudNativePG kinds against CNPG_SCHEMAS."""
    if resource["apiVersion"].startswith("postgresql.cnpg.io/"):
        jsonschema.validate(resource, CNPG_SCHEMAS[resource["kind"]])
        return
    kubernetes_validator(resource["kind"], resource["apiVersion"]).validate(resource)


def test_kubernetes_schemas_ship_with_the_package_no_network_needed() -> None:
    schemas = Path(kube_schemas.__file__).parent / "kubernetes-json-schema"
    assert any(path.name.startswith(f"v{KUBERNETES_VERSION}") for path in schemas.iterdir())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_manifest_validates_against_its_schema(overlay: str) -> None:
    resources = rendered(overlay)
    assert resources
    for resource in resources:
        try:
            validate(resource)
        except (jsonschema.ValidationError, kube_schemas.SchemaNotFoundError) as exc:
            pytest.fail(f"{overlay}: {resource['kind']}/{resource['metadata']['name']}: {exc}")


def test_a_broken_manifest_is_caught() -> None:
    """The validation above can fail: a typo'd field and a wrong type are both refused."""
    deployment = copy.deepcopy(by_kind(rendered("base"), "Deployment")["gateway"])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        validate(deployment)
    deployment = copy.deepcopy(by_kind(rendered("base"), "Deployment")["gateway"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(jsonschema.ValidationError):
        validate(deployment)
    cluster = copy.deepcopy(by_kind(rendered("base"), "Cluster")["gateway-db"])
    cluster["spec"]["instance"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate(cluster)


def kustomization_references(directory: Path) -> Iterator[Path]:
    """Yield every path a kustomization names."""
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    for entry in kustomization.get("resources", []) + kustomization.get("components", []):
        yield directory / entry
    for patch in kustomization.get("patches", []):
        if "path" in patch:
            yield directory / patch["path"]


def test_every_yaml_file_under_k8s_parses_and_is_used_by_a_kustomization() -> None:
    kustomizations = sorted(path.parent for path in K8S.rglob("kustomization.yaml"))
    used = {path.resolve() for path in kustomizations}
    for directory in kustomizations:
        for path in kustomization_references(directory):
            assert path.exists(), f"{directory / 'kustomization.yaml'} names {path}, which is missing"
            if path.is_dir():
                assert (path / "kustomization.yaml").exists(), f"{path} has no kustomization.yaml"
            used.add(path.resolve())
    for path in K8S.rglob("*.yaml"):
        assert load_documents(path), f"{path} is empty"
        assert path.resolve() in used or (path.name == "kustomization.yaml" and path.parent in used), (
            f"{path} is used by no kustomization"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_names_are_unique_and_references_resolve(overlay: str) -> None:
    resources = rendered(overlay)
    keys = [(r["kind"], r["metadata"]["name"]) for r in resources]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    config_maps = by_kind(resources, "ConfigMap")
    secrets = set(by_kind(resources, "Secret")) | EXTERNAL_SECRETS
    service_accounts = set(by_kind(resources, "ServiceAccount")) | {"default"}
    for resource in resources:
        spec = pod_spec(resource)
        if spec is None:
            continue
        assert spec.get("serviceAccountName", "default") in service_accounts
        for container in containers(resource):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in secrets, f"{resource['metadata']['name']}: no secret {ref['name']}"
    if overlay == "overlays/dev":  # everything is made here: every secret and key exists
        made = by_kind(resources, "Secret")
        for resource in resources:
            for container in containers(resource):
                for variable in container.get("env", []):
                    ref = variable.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["key"] in made[ref["name"]]["data"], ref
    # Every Service selects pods some workload makes, on a port they name.
    workloads = [r for r in resources if pod_spec(r) is not None]
    for service in by_kind(resources, "Service").values():
        selector = service["spec"]["selector"]
        chosen = [
            w for w in workloads if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert chosen, f"Service {service['metadata']['name']} selects no pods"
        named = {p["name"] for w in chosen for c in containers(w) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, (service["metadata"]["name"], port)


def test_each_part_has_its_deployment_service_and_the_rest_on_its_port() -> None:
    resources = rendered("base")
    kinds = ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "HorizontalPodAutoscaler")
    for part in ALL_PARTS:
        for kind in kinds:
            assert part.name in by_kind(resources, kind), f"no {kind} for {part.name}"
        assert f"{part.name}-config" in by_kind(resources, "ConfigMap")
        assert part.name in by_kind(resources, "NetworkPolicy")
        [container] = by_kind(resources, "Deployment")[part.name]["spec"]["template"]["spec"]["containers"]
        assert container["image"].startswith(f"careloop/{part.name}")
        assert [p["containerPort"] for p in container["ports"]] == [part.default_port]
        assert [p["port"] for p in by_kind(resources, "Service")[part.name]["spec"]["ports"]] == [
            part.default_port
        ]
        hpa = by_kind(resources, "HorizontalPodAutoscaler")[part.name]
        assert hpa["spec"]["scaleTargetRef"]["name"] == part.name
        if part.has_database:
            assert f"{part.name}-db" in by_kind(resources, "Cluster")
            job = by_kind(resources, "Job")[f"{part.name}-migrate"]
            [migrate] = containers(job)
            assert migrate["command"] == ["careloop", "db", "upgrade", "--service", part.name]
    assert set(by_kind(resources, "Deployment")) == {p.name for p in ALL_PARTS}
    assert set(by_kind(resources, "Ingress")) == {"gateway"}
    backend = by_kind(resources, "Ingress")["gateway"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == "gateway"


def test_containers_are_probed_bounded_non_root_and_read_only() -> None:
    for overlay in OVERLAYS:
        for resource in rendered(overlay):
            spec = pod_spec(resource)
            if spec is None:
                continue
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["automountServiceAccountToken"] is False
            for container in containers(resource):
                where = f"{overlay}: {resource['metadata']['name']}/{container['name']}"
                security = container["securityContext"]
                assert security["readOnlyRootFilesystem"] is True, where
                assert security["allowPrivilegeEscalation"] is False, where
                assert security["capabilities"]["drop"] == ["ALL"], where
                assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
                assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), where
    for deployment in by_kind(rendered("base"), "Deployment").values():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_network_policies_open_only_the_gateway_to_the_outside() -> None:
    resources = rendered("base")
    policies = by_kind(resources, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    outside = {
        name
        for name, policy in policies.items()
        for rule in policy["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if "namespaceSelector" in peer or "ipBlock" in peer
    }
    # The gateway from the ingress controller; databases from the CNPG operator only.
    assert outside == {"gateway"} | {f"{p.name}-db" for p in DATABASE_PARTS}
    for part in ALL_PARTS:
        egress = policies[part.name]["spec"]["egress"]
        reached = {
            label
            for rule in egress
            for peer in rule.get("to", [])
            for label in peer.get("podSelector", {}).get("matchLabels", {}).items()
        }
        databases = {v for k, v in reached if k == "careloop.io/database"}
        assert databases == ({part.name} if part.has_database else set()), part.name
        services = {v for k, v in reached if k == "app.kubernetes.io/name"} - {"nats"}
        if part.name == "gateway":
            assert services == {p.name for p in ALL_PARTS} - {"gateway"}
        elif part.name == "complaints":
            assert services == {"coverage-map"}  # intake's instant answer
        else:
            assert services == set(), part.name


def test_dev_swaps_cloudnativepg_for_statefulsets_and_prod_keeps_three_instances() -> None:
    dev = rendered("overlays/dev")
    assert not by_kind(dev, "Cluster")
    for part in DATABASE_PARTS:
        statefulset = by_kind(dev, "StatefulSet")[f"{part.name}-db"]
        labels = statefulset["spec"]["template"]["metadata"]["labels"]
        assert labels["careloop.io/database"] == part.name
        assert f"{part.name}-db-rw" in by_kind(dev, "Service")
    assert all(d["spec"]["replicas"] == 1 for d in by_kind(dev, "Deployment").values())
    prod = rendered("overlays/prod")
    for part in DATABASE_PARTS:
        cluster = by_kind(prod, "Cluster")[f"{part.name}-db"]
        assert cluster["spec"]["instances"] == 3
        assert "barmanObjectStore" in cluster["spec"]["backup"]
        assert (
            by_kind(prod, "ScheduledBackup")[f"{part.name}-db-nightly"]["spec"]["cluster"]["name"]
            == cluster["metadata"]["name"]
        )
    images = {c["image"] for r in prod for c in containers(r) if "careloop" in c["image"]}
    assert images == {f"registry.example.com/careloop/{p.name}:0.1.0" for p in ALL_PARTS}
    nats = by_kind(prod, "StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    assert "nats-2.nats-headless:6222" in by_kind(prod, "ConfigMap")["nats-config"]["data"]["nats.conf"]


# ---- the code's settings ---------------------------------------------------------------------------


@cache
def settings_class(part: Part) -> type[ServiceSettings]:
    """Return a part's settings class (the one its settings module defines)."""
    module = importlib.import_module(f"{part.package}.settings")
    [found] = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
    ]
    return found


def variable_names(part: Part) -> set[str]:
    """Return every variable name the part's settings read (prefixed, CARELOOP_, or an alias)."""
    prefix = settings_class(part).model_config.get("env_prefix", "")
    names = set()
    for name, field in settings_class(part).model_fields.items():
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias.upper())
        else:
            names |= {f"{prefix}{name}".upper(), f"CARELOOP_{name}".upper()}
    return names


def test_parts_and_settings_classes_agree() -> None:
    for part in ALL_PARTS:
        settings = settings_class(part)
        assert settings.model_config.get("env_prefix") == part.env_prefix
        assert settings.default_port == part.default_port


def assert_settings_accept(part: Part, environment: dict[str, str], where: str) -> None:
    """Each variable is a field of the part's settings, and the values parse."""
    unknown = set(environment) - variable_names(part)
    assert not unknown, f"{where}: {sorted(unknown)} are not settings of {part.name}"
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in list(os.environ):
                if name.startswith(("CARELOOP_", part.env_prefix, "OTEL_")) and name != "CARELOOP_HOME":
                    patch.delenv(name)
            for name, value in environment.items():
                patch.setenv(name, value)
            settings_class(part)()
    except (ValidationError, SettingsError) as exc:
        pytest.fail(f"{where}: the values do not parse as {part.name}'s settings: {exc}")


def k8s_environment(resources: tuple[Manifest, ...], workload: Manifest) -> dict[str, str]:
    """Return the variables a workload's containers get: config maps, literals, secrets (dummied)."""
    config_maps = by_kind(resources, "ConfigMap")
    environment: dict[str, str] = {}
    for container in containers(workload):
        for source in container.get("envFrom", []):
            environment.update(config_maps[source["configMapRef"]["name"]]["data"])
        for variable in container.get("env", []):
            environment[variable["name"]] = variable.get("value", dummy_secret(variable["name"]))
    return environment


def dummy_secret(name: str) -> str:
    """Stand in for a secret's value by what its variable expects."""
    return "postgresql://user:pass@db:5432/db" if name.endswith("DATABASE_URL") else "s3cret"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_sets_only_real_settings_of_each_service(overlay: str) -> None:
    resources = rendered(overlay)
    for part in ALL_PARTS:
        deployment = by_kind(resources, "Deployment")[part.name]
        assert_settings_accept(part, k8s_environment(resources, deployment), f"{overlay} {part.name}")
        if part.has_database:
            job = by_kind(resources, "Job")[f"{part.name}-migrate"]
            environment = k8s_environment(resources, job)
            assert_settings_accept(part, environment, f"{overlay} {part.name}-migrate")
            assert f"{part.env_prefix}DATABASE_URL" in environment
            assert k8s_environment(resources, deployment)[f"{part.env_prefix}RUN_MIGRATIONS"] == "false"


def test_the_settings_check_can_fail() -> None:
    with pytest.raises(AssertionError, match="not settings"):
        assert_settings_accept(part_named("complaints"), {"COMPLAINTS_COVERAGE_ULR": "x"}, "typo")
    with pytest.raises(pytest.fail.Exception, match="do not parse"):
        assert_settings_accept(part_named("gateway"), {"GATEWAY_CORS_ORIGINS": "not json"}, "bad value")


def test_a_plain_postgresql_url_gets_the_async_driver() -> None:
    """CloudNativePG's secret holds postgresql://…; the services speak asyncpg."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COMPLAINTS_DATABASE_URL", "postgresql://u:p@complaints-db-rw:5432/complaints")
        settings = settings_class(part_named("complaints"))()
    assert settings.database_url == "postgresql+asyncpg://u:p@complaints-db-rw:5432/complaints"


# ---- docker-compose.yml --------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


def interpolate(value: str) -> str:
    """Resolve ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` as compose would with .env
    filled in from .env.example's names (a made-up value each)."""

    def resolve(match: re.Match[str]) -> str:
        name, operator, default = match.groups()
        if operator in (":-", "-"):
            return default or ""
        return "postgres-password" if name.endswith("_PASSWORD") else f"value-of-{name.lower()}"

    return _INTERPOLATION.sub(resolve, value)


@cache
def compose() -> Manifest:
    """Return docker-compose.yml as compose reads it (YAML merge keys resolved)."""
    document: Manifest = yaml.safe_load(COMPOSE.read_text())
    return document


def compose_environment(service: Manifest) -> dict[str, str]:
    """Return a compose service's environment, interpolated."""
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "environment is written as a mapping"
    return {k: interpolate(str(v)) for k, v in environment.items()}


def test_compose_is_well_formed() -> None:
    services = compose()["services"]
    volumes = set(compose().get("volumes", {}))
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for dependency, condition in (
            service.get("depends_on", {}).items()
            if isinstance(service.get("depends_on"), dict)
            else ((d, {}) for d in service.get("depends_on", []))
        ):
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition.get("condition") == "service_healthy":
                healthy = (
                    "healthcheck" in services[dependency]
                    or "build" in services[dependency]
                    or any(
                        "build" in s and s.get("image") == services[dependency].get("image")
                        for s in services.values()
                    )
                )
                assert healthy, f"{name} waits for {dependency} to be healthy; it has no health check"
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert (source.startswith("./") and (ROOT / source).exists()) or source in volumes, (name, mount)
    # Only the gateway (and the trace viewer, on loopback) publish ports.
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"gateway", "jaeger"}


def test_compose_runs_each_part_from_its_own_image_after_its_migrations() -> None:
    services = compose()["services"]
    for part in ALL_PARTS:
        service = services[part.name]
        assert service["build"]["args"] == {
            "SERVICE": part.name,
            "PACKAGE": part.package,
            "PORT": str(part.default_port),
        }
        assert service["build"]["dockerfile"] == "Dockerfile"
        assert interpolate(service["image"]).endswith(f"/{part.name}:latest")
        assert service["read_only"] is True
        assert service["user"] == "10001:10001"
        if not part.has_database:
            continue
        database = services[f"{part.name}-db"]
        migrate = services[f"{part.name}-migrate"]
        assert migrate["command"] == ["careloop", "db", "upgrade", "--service", part.name]
        assert migrate["image"] == service["image"]
        assert migrate["depends_on"][f"{part.name}-db"] == {"condition": "service_healthy"}
        assert service["depends_on"][f"{part.name}-migrate"] == {
            "condition": "service_completed_successfully"
        }
        # Its own database and user, reached under its own name.
        url = compose_environment(service)[f"{part.env_prefix}DATABASE_URL"]
        db = database["environment"]
        assert url.endswith(f"@{part.name}-db:5432/{db['POSTGRES_DB']}")
        assert url.startswith(f"postgresql://{db['POSTGRES_USER']}:")
        assert url == compose_environment(migrate)[f"{part.env_prefix}DATABASE_URL"]
    users = [services[f"{p.name}-db"]["environment"]["POSTGRES_USER"] for p in DATABASE_PARTS]
    passwords = [services[f"{p.name}-db"]["environment"]["POSTGRES_PASSWORD"] for p in DATABASE_PARTS]
    assert len(set(users)) == len(users)
    assert len(set(passwords)) == len(passwords)
    assert "--jetstream" in services["nats"]["command"]
    assert any(v.startswith("nats-data:") for v in services["nats"]["volumes"])
    collector = compose_environment(services["complaints"])["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert collector.startswith("http://otel-collector:")
    gateway = compose_environment(services["gateway"])
    for part in ALL_PARTS:
        if part is not part_named("gateway"):
            assert gateway[f"GATEWAY_{part.package.upper()}_URL"] == f"http://{part.name}:{part.default_port}"


def test_compose_sets_only_real_settings_of_each_service() -> None:
    services = compose()["services"]
    for part in ALL_PARTS:
        assert_settings_accept(part, compose_environment(services[part.name]), f"compose {part.name}")
        if part.has_database:
            migrate = services[f"{part.name}-migrate"]
            assert_settings_accept(part, compose_environment(migrate), f"compose {part.name}-migrate")


def test_env_example_documents_every_variable_compose_reads() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    used = {m.group(1) for m in _INTERPOLATION.finditer(COMPOSE.read_text())}
    assert used <= documented, sorted(used - documented)
    required = {m.group(1) for m in _INTERPOLATION.finditer(COMPOSE.read_text()) if m.group(2) == ":?"}
    set_in_example = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert required <= set_in_example, "every required variable is listed, uncommented"


def test_the_dockerfile_builds_one_package_as_a_non_root_read_only_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, flags=re.MULTILINE)) == 2  # build, then runtime
    assert 'uv sync --frozen --no-dev --no-editable --package "careloop-${SERVICE}"' in dockerfile
    assert re.search(r"^USER 10001:10001$", dockerfile, flags=re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile
    runtime = dockerfile.split("AS runtime", 1)[1]
    assert "COPY --from=build /app/.venv /app/.venv" in runtime
    assert "COPY libs" not in runtime
    assert "COPY services" not in runtime
    # SERVICE names a workspace member: careloop-<name> in services/<name>/pyproject.toml.
    for part in ALL_PARTS:
        pyproject = (ROOT / "services" / part.name / "pyproject.toml").read_text()
        assert f'name = "careloop-{part.name}"' in pyproject


def uv_command() -> str | None:
    """Return the uv that runs these tests (``uv run`` sets UV), or one on PATH."""
    return os.environ.get("UV") or shutil.which("uv")


@pytest.mark.parametrize(("part_name", "data_file"), [("gateway", "migrations/env.py"), ("web", "static")])
def test_the_image_environment_holds_its_own_package_and_careloop_common_only(
    part_name: str, data_file: str, tmp_path: Path
) -> None:
    """Run the Dockerfile's two uv steps, offline from uv's cache, on a copy of the workspace."""
    uv = uv_command()
    if uv is None:
        pytest.skip("uv is not installed here")
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("tests", "__pycache__", "*.pyc", ".venv")
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    for name in ("libs", "services"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    environment = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"), "UV_OFFLINE": "1"}
    environment.pop("VIRTUAL_ENV", None)
    package = f"careloop-{part_name}"
    for extra in (["--no-install-workspace"], ["--no-editable"]):
        done = subprocess.run(
            [uv, "sync", "--frozen", "--no-dev", "--quiet", *extra, "--package", package],
            cwd=source,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    [site] = (tmp_path / "venv" / "lib").glob("python3*/site-packages")
    ours = {p.package for p in ALL_PARTS} | {"careloop_common"}
    installed = {path.name for path in site.iterdir() if path.name in ours}
    assert installed == {part_named(part_name).package, "careloop_common"}
    assert (site / part_named(part_name).package / data_file).exists()
    assert (tmp_path / "venv" / "bin" / "careloop").exists()  # the migration command
    assert not any(path.name.startswith("pytest") for path in site.iterdir())  # no dev tools
