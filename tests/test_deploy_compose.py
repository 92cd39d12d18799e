"""deploy/compose.yaml and the files it names: the shape the runbook (deploy/README.md) relies on.

There is no Docker engine here: the file is checked as data (PyYAML), and
validated by docker-compose (Debian's 1.29, which needs no engine for
`config`) when it is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
STORE_URL = "riak://riak1:8098,riak2:8098,riak3:8098?type=utakata"
RIAKS = ("riak1", "riak2", "riak3")
BOARD_ROLES = {"web1": "web", "web2": "web", "fanout": "fanout", "jobs": "jobs", "beat": "beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in service.get("environment", {}).items()}


def test_it_runs_the_board_three_riak_nodes_and_their_helpers(services):
    assert set(services) == {*RIAKS, *BOARD_ROLES, "proxy", "redis", "minio", "minio-setup"}
    for name, role in BOARD_ROLES.items():
        assert services[name]["command"] == [role]


def test_the_riak_nodes_are_built_from_deploy_riak_and_know_each_other(services):
    seeds = []
    for name in RIAKS:
        node = services[name]
        assert node["build"]["context"] == "riak"
        assert node["hostname"] == name
        e = env(node)
        assert e["RIAK_NODENAME"] == f"riak@{name}"
        assert e["RIAK_PEERS"] == "http://riak1:8098,http://riak2:8098,http://riak3:8098"
        assert e["RIAK_COOKIE"].startswith("${RIAK_COOKIE:?")  # no default cookie
        assert node["volumes"] == [f"{name}:/var/lib/riak/data"]
        assert node["healthcheck"]["test"] == ["CMD", "riak-node", "health"]
        if e.get("RIAK_SEED") == "1":
            seeds.append(name)
    assert seeds == ["riak1"]  # one seed: two could start two clusters
    dockerfile = (DEPLOY / "riak" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["riak-node"]' in dockerfile
    assert "ARG RIAK_TARBALL" in dockerfile
    assert os.access(DEPLOY / "riak" / "riak-node", os.X_OK)


def test_the_board_reads_the_riak_cluster_and_writes_the_s3_log(services):
    for name in BOARD_ROLES:
        e = env(services[name])
        assert e["UTAKATA_STORE_URL"] == STORE_URL
        assert e["UTAKATA_LOG_URL"].startswith("s3://")
        assert e["UTAKATA_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert e["REDIS_URL"] == "redis://redis:6379/0"
    hosts = {h.split(":")[0] for h in STORE_URL.removeprefix("riak://").split("?")[0].split(",")}
    assert hosts <= set(services)


def test_only_the_proxy_publishes_a_port(services):
    assert [name for name, s in services.items() if "ports" in s] == ["proxy"]
    assert services["proxy"]["ports"] == ["${UTAKATA_HTTP_PORT:-8000}:80"]
    for web in ("web1", "web2"):
        assert services[web]["expose"] == ["8000"]


def test_the_web_containers_read_the_client_address_from_the_proxy(services):
    for web in ("web1", "web2"):
        e = env(services[web])
        assert e["UTAKATA_CLIENT_ADDR_HEADER"] == "HTTP_X_FORWARDED_FOR"
        assert e["UTAKATA_TRUSTED_PROXY_HOPS"] == "${UTAKATA_TRUSTED_PROXY_HOPS:-1}"
        assert e["UTAKATA_TRUSTED_PROXIES"] == "${UTAKATA_TRUSTED_PROXIES:-172.28.0.10/32}"
    assert services["proxy"]["networks"]["default"]["ipv4_address"] == "172.28.0.10"
    for other in ("fanout", "jobs", "beat"):
        assert "UTAKATA_CLIENT_ADDR_HEADER" not in env(services[other])


def test_the_proxy_mounts_nginx_conf_read_only_and_it_names_both_web_containers(services):
    assert services["proxy"]["volumes"][0] == "./nginx.conf:/etc/nginx/conf.d/default.conf:ro"
    upstreams = re.findall(r"^\s*server\s+(\S+?):8000\b", (DEPLOY / "nginx.conf").read_text(), re.MULTILINE)
    assert upstreams == ["web1", "web2"]


def test_the_proxy_mounts_its_error_pages_read_only_where_nginx_conf_serves_them(services):
    mount = "./errors:/usr/share/nginx/utakata-errors:ro"
    assert mount in services["proxy"]["volumes"]
    assert "alias /usr/share/nginx/utakata-errors/;" in (DEPLOY / "nginx.conf").read_text()
    served = set(re.findall(r"^\s*error_page [0-9 ]+ /\.errors/(\S+);", (DEPLOY / "nginx.conf").read_text(), re.M))
    assert served and all((DEPLOY / "errors" / name).is_file() for name in served)


def test_every_dependency_exists_and_waits_for_a_healthcheck_that_exists(services):
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for target, how in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert how["condition"] in conditions
            if how["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s missing healthcheck"


def test_only_web1_restores_an_empty_store_at_first_start(services):
    assert services["web2"]["depends_on"]["web1"] == {"condition": "service_healthy"}


def test_every_named_volume_is_declared(compose, services):
    declared = set(compose["volumes"])
    used = set()
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                used.add(source)
            else:
                assert (DEPLOY / source).exists(), f"bind-mounted {source} is missing"
    assert used == declared


def test_docker_compose_validates_the_file():
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing in CI: scripts/ensure-test-services installs it")
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose; make test installs it)")
    environment = dict(os.environ, UTAKATA_SECRET_KEY="test", RIAK_COOKIE="test")
    done = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_the_secrets_have_no_defaults():
    environment = {k: v for k, v in os.environ.items() if k not in ("UTAKATA_SECRET_KEY", "RIAK_COOKIE")}
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed")
    done = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "set UTAKATA_SECRET_KEY" in done.stderr or "set RIAK_COOKIE" in done.stderr


def test_every_riak_node_variable_is_documented_in_the_runbook():
    script = (DEPLOY / "riak" / "riak-node").read_text()
    readme = (DEPLOY / "README.md").read_text()
    variables = set(re.findall(r"\$\{?(RIAK_[A-Z_]+)", script)) - {"RIAK_PIPE_DIR"}  # bin/riak's own
    assert variables
    missing = sorted(v for v in variables if f"`{v}`" not in readme)
    assert not missing, f"not in deploy/README.md: {missing}"


def test_fan_out_and_the_jobs_each_have_a_worker_of_their_own():
    from boards_site.celery import app

    entrypoint = (DEPLOY / "entrypoint.sh").read_text()
    assert re.search(r"^  fanout\)\n.*--queues fanout ", entrypoint, re.MULTILINE)
    assert re.search(r"^  jobs\)\n.*--queues jobs ", entrypoint, re.MULTILINE)
    route = app.amqp.router.route
    assert route({}, "utakata.fanout.apply")["queue"].name == "fanout"
    for task in ("utakata.lifecycle.due", "utakata.lifecycle.snapshot", "utakata.lifecycle.rollup"):
        assert route({}, task)["queue"].name == "jobs"


def test_the_web_containers_are_healthy_while_they_can_read_their_store(services):
    for web in ("web1", "web2"):
        assert "http://127.0.0.1:8000/readyz" in services[web]["healthcheck"]["test"][-1]
