"""The deployment stack in deploy/ without Docker: the compose file, Prometheus config and rules, and the Grafana
provisioning and dashboard parse and agree with each other; every zhiku metric a panel or an alert uses is one a
real `zhiku serve` exports (its live /metrics on loopback, after a real answer); every ZHIKU_* variable the stack
sets is a real setting, with a value the settings accept. Renaming a metric or a setting fails here."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest
import yaml

from tests.loadtest.conftest import bench_home, stack, standin  # noqa: F401 - fixtures: a real server + upstream

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILES = ("docker-compose.yml", "compose.lora.yml")

# vLLM's own metrics the dashboard and alerts may use: the names vLLM's V1 engine registers
# (vllm/v1/metrics/loggers.py), as sample names. Not checkable here (no GPU server); keep this list in step with
# the pinned vllm/vllm-openai image when it is bumped.
VLLM_METRICS = {
    "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
    "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:num_preemptions_total",
    "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total",
    "vllm:time_to_first_token_seconds_bucket", "vllm:e2e_request_latency_seconds_bucket",
    "vllm:inter_token_latency_seconds_bucket",
}  # fmt: skip
PROMETHEUS_BUILTIN = {"up"}  # set by Prometheus itself for every target
# ZHIKU_* variables the code reads that are not settings fields (each is checked to be read in src/)
NOT_SETTINGS = {"ZHIKU_CONFIG"}

_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                 "offset", "inf", "nan"}  # fmt: skip
_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are neither functions, keywords, label names
    (inside {} or by/without/on/ignoring lists) nor parts of strings, ranges and numbers."""
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # string literals (label values, regexes)
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # ranges, e.g. [5m], [$__rate_interval]
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?", e):
        name, call = m.group(1), m.group(2)
        if not call and name.lower() not in _PROMQL_WORDS:
            names.add(name)
    return names


def test_metric_names_parses_promql():
    expr = ('histogram_quantile(0.99, sum by (le, route) (rate(zhiku_http_request_seconds_bucket{route="/api/x",'
            'status=~"5.."}[$__rate_interval]))) / clamp_min(sum(rate(vllm:generation_tokens_total[5m])), 1e-9) > 2'
            ' and on (instance) up == 0')  # fmt: skip
    assert metric_names(expr) == {"zhiku_http_request_seconds_bucket", "vllm:generation_tokens_total", "up"}


def _compose(name: str = "docker-compose.yml") -> dict:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _with_defaults(value: str) -> str:
    """Compose's ${VAR:-default} interpolation with nothing set: the default."""
    return _VAR.sub(lambda m: m.group(2) or "", value)


def _dashboard() -> dict:
    return json.loads((DEPLOY / "grafana/dashboards/zhiku.json").read_text(encoding="utf-8"))


def _expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every dashboard panel target and alert rule."""
    out = [(f"panel '{p['title']}'", t["expr"]) for p in _dashboard()["panels"] for t in p.get("targets", [])]
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text(encoding="utf-8"))
    out += [(f"alert {r['alert']}", r["expr"]) for g in rules["groups"] for r in g["rules"]]
    return out


# ---- the files parse and agree ---------------------------------------------------------------------------------


def test_compose_has_the_stack_with_healthchecks_and_a_gpu_for_vllm():
    services = _compose()["services"]
    for name in ("zhiku", "zhiku-init", "lb", "etcd", "minio", "milvus", "vllm", "prometheus", "grafana"):
        assert name in services, f"service {name} missing"
    for name in ("zhiku", "etcd", "minio", "milvus", "vllm"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name, svc in services.items():  # pinned images: no floating tags
        image = svc.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: image {image!r} is not pinned"
    assert int(_with_defaults(str(services["zhiku"]["deploy"]["replicas"]))) >= 2
    assert (DEPLOY.parent / services["zhiku"]["build"]["dockerfile"]).is_file()
    gpu = services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_vllm_runs_with_the_seed_flags_and_serves_the_model_zhiku_asks_for(name):
    services = _compose(name)["services"]
    flags = [_with_defaults(f) for f in services["vllm"]["command"]]
    for flag in ("--gpu-memory-utilization=0.85", "--max-model-len=4096", "--max-num-seqs=128",
                 "--enable-prefix-caching"):  # fmt: skip
        assert flag in flags, f"{name}: vllm lacks {flag}"
    model = _env(services["zhiku"]).get("ZHIKU_LLM__MODEL") or _env(_compose()["services"]["zhiku"])["ZHIKU_LLM__MODEL"]
    served = {f.split("=", 1)[1] for f in flags if f.startswith("--served-model-name=")}
    served |= {f.split("=", 1)[1].split("=")[0] for f in flags if f.startswith("--lora-modules=")}
    assert _with_defaults(model) in served, f"{name}: zhiku asks for {model!r}, vLLM serves {served}"
    if name == "compose.lora.yml":
        assert "--enable-lora" in flags
    else:
        assert "awq" in _with_defaults(flags[0]).lower(), "the default model is an AWQ checkpoint"


def test_prometheus_scrapes_zhiku_and_vllm_and_loads_the_rules():
    services = _compose()["services"]
    prom = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text(encoding="utf-8"))
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    port = int(_env(services["zhiku"])["ZHIKU_SERVER__PORT"])
    sd = jobs["zhiku"]["dns_sd_configs"][0]  # one target per replica, on the port zhiku serves
    assert (sd["names"], sd["type"], sd["port"]) == (["zhiku"], "A", port)
    assert jobs["vllm"]["static_configs"][0]["targets"] == ["vllm:8000"]
    mounted = {m.split(":")[1]: m.split(":")[0] for m in services["prometheus"]["volumes"] if m.startswith("./")}
    for rule_file in prom["rule_files"]:
        assert (DEPLOY / mounted[rule_file]).is_file(), f"rule file {rule_file} is not mounted from deploy/"
    rules = yaml.safe_load((DEPLOY / mounted[prom["rule_files"][0]]).read_text(encoding="utf-8"))
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"ZhikuHighErrorRate", "ZhikuP99LatencyHigh", "ZhikuQueueFull"} <= alerts


def test_grafana_provisions_the_datasource_the_dashboard_uses():
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8"))
    uid = ds["datasources"][0]["uid"]
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    dash = _dashboard()
    used = {p["datasource"]["uid"] for p in dash["panels"] if "datasource" in p}
    used |= {t["datasource"]["uid"] for p in dash["panels"] for t in p.get("targets", [])}
    assert used == {uid}
    titles = " | ".join(p["title"] for p in dash["panels"]).lower()
    for topic in ("request rate", "p50 / p99", "time to first token", "tokens/s", "queue", "rejections",
                  "retrieval", "vllm"):  # fmt: skip
        assert topic in titles, f"no panel on {topic}"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"


# ---- metrics: what the panels and alerts read is what zhiku exports ------------------------------------------------


_SAMPLES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def _exported(text: str) -> tuple[dict[str, set[str]], set[str]]:
    """({family: the sample names a query may use}, names that have samples) from a /metrics page. A family comes
    from its # TYPE line, so a labelled counter nobody has incremented yet still counts as exported."""
    families, sampled = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            if not name.endswith("_created"):  # prometheus_client's creation timestamps, not metrics to watch
                families[name] = {name + s for s in _SAMPLES.get(kind, ("",))}
        elif line and not line.startswith("#"):
            sampled.add(re.match(r"[\w:]+", line).group(0))
    return families, sampled


@pytest.fixture(scope="module")
def live_metrics(stack):  # noqa: F811
    """/metrics of a real server after one streamed answer and one search, so its histograms have samples."""
    with httpx.Client(base_url=stack.base, timeout=60) as c:
        question = {"query": "劳动合同的试用期最长可以约定多久？"}
        with c.stream("POST", "/api/rag/chat", json=question) as r:
            assert r.status_code == 200
            assert "event: done" in "\n".join(r.iter_lines())
        assert c.post("/api/search", json={"query": "试用期"}).status_code == 200
        return c.get("/metrics").text


def test_every_zhiku_metric_the_dashboard_and_alerts_use_is_exported(live_metrics):
    families, sampled = _exported(live_metrics)
    declared = set().union(*families.values())
    problems, used_zhiku = [], set()
    for where, expr in _expressions():
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr!r}"
        for name in names:
            if name.startswith("zhiku_"):
                used_zhiku.add(name)
                if name not in declared:
                    problems.append(f"{where}: {name} is not exported by zhiku serve")
            elif name not in VLLM_METRICS | PROMETHEUS_BUILTIN:
                problems.append(f"{where}: {name} is neither zhiku's, a listed vLLM metric nor a Prometheus one")
    assert not problems, "\n".join(problems)
    # after a real answer the histograms the panels draw have data
    for name in used_zhiku:
        if name.endswith(("_bucket", "_sum", "_count")):
            assert name in sampled, f"{name} has no samples after an answer"
    # and every metric zhiku exports is watched: a new one gets a panel (or an alert)
    unwatched = [f for f, names in families.items() if f.startswith("zhiku_") and not names & used_zhiku]
    assert not unwatched, f"zhiku metrics no panel or alert uses: {unwatched}"


def test_the_healthcheck_and_scrape_paths_answer_on_a_live_server(stack, live_metrics):  # noqa: F811
    health = " ".join(_compose()["services"]["zhiku"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:\d+(/\w+)", health).group(1)
    assert httpx.get(stack.base + path, timeout=10).status_code == 200
    prom = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text(encoding="utf-8"))
    zhiku_job = next(j for j in prom["scrape_configs"] if j["job_name"] == "zhiku")
    assert zhiku_job["metrics_path"] == "/metrics" and "zhiku_http_requests_total" in live_metrics


# ---- settings: every ZHIKU_* variable is a real setting with a valid value --------------------------------------


def _setting_path(var: str) -> str | None:
    """The settings field a ZHIKU_* variable sets (as a.b), or None: walks the model as pydantic-settings does
    (prefix ZHIKU_, nested with __, case-insensitive, field names or their aliases)."""
    from pydantic import AliasChoices, BaseModel

    from zhiku.config import Settings

    model, path = Settings, []
    parts = var.removeprefix("ZHIKU_").lower().split("__")
    for i, part in enumerate(parts):
        match = None
        for fname, field in model.model_fields.items():
            alias = field.validation_alias
            names = {fname} | (set(alias.choices) if isinstance(alias, AliasChoices) else {alias} if alias else set())
            if part in names:
                match = (fname, field)
        if match is None:
            return None
        path.append(match[0])
        annotation = match[1].annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return None
            model = annotation
    return ".".join(path)


def test_setting_path_walks_the_model():
    assert _setting_path("ZHIKU_STORE__URI") == "store.uri"
    assert _setting_path("ZHIKU_LLM__TOP_K") == "llm.sample_top_k"  # the deprecated alias still reads
    assert _setting_path("ZHIKU_HOME") == "home"
    assert _setting_path("ZHIKU_STORE__URL") is None
    assert _setting_path("ZHIKU_HOME__X") is None


def _stack_env() -> list[tuple[str, str, str]]:
    """(file:service, variable, value) for every ZHIKU_* variable the stack sets: compose files and Dockerfile."""
    out = []
    for name in COMPOSE_FILES:
        for svc_name, svc in _compose(name)["services"].items():
            out += [(f"{name}:{svc_name}", k, v) for k, v in _env(svc).items() if k.startswith("ZHIKU_")]
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("ENV "):
            out += [("Dockerfile", k, v) for k, v in re.findall(r"(ZHIKU_\w+)=(\S+)", line)]
    return out


def test_every_zhiku_variable_the_stack_sets_is_a_setting(monkeypatch):
    from zhiku.config import Settings

    env = _stack_env()
    assert len(env) >= 10, "the stack configures zhiku through ZHIKU_* variables"
    src = "\n".join(p.read_text(encoding="utf-8") for p in (DEPLOY.parent / "src/zhiku").rglob("*.py"))
    unknown = []
    for where, var, _ in env:
        if var in NOT_SETTINGS:
            assert f'"{var}"' in src, f"{var} is listed as read by the code, but src/ never reads it"
        elif _setting_path(var) is None:
            unknown.append(f"{where}: {var} is not a setting in src/zhiku/config.py")
    assert not unknown, "\n".join(unknown)
    # and the values validate: the zhiku service's environment, as compose would pass it
    for key in [k for k in os.environ if k.startswith("ZHIKU_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(DEPLOY)  # no zhiku.toml here
    for where, var, value in env:
        if where.startswith("docker-compose.yml:zhiku"):
            monkeypatch.setenv(var, _with_defaults(value))
    s = Settings()
    assert (s.store.backend, s.llm.backend, s.server.host) == ("milvus", "openai", "0.0.0.0")
    assert s.store.uri == "http://milvus:19530" and s.llm.base_url == "http://vllm:8000/v1"
    assert "zhiku" in s.server.allowed_hosts


def test_init_script_makes_one_admin_key_that_lets_the_replicas_bind_all_interfaces(tmp_path, monkeypatch):
    """zhiku-init.sh, run for real (the `zhiku` it calls is this checkout's CLI): a key file only the owner reads,
    holding a working admin key, kept on a second run; with it, the compose settings bind 0.0.0.0."""
    import stat
    import subprocess
    import sys

    from zhiku.config import Settings
    from zhiku.serve.auth import KeyStore
    from zhiku.serve.launch import bind

    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "zhiku").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m zhiku "$@"\n')
    (shim / "zhiku").chmod(0o755)
    home = tmp_path / "data"
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "ZHIKU_HOME": str(home)}
    script = DEPLOY / "zhiku-init.sh"
    for _ in range(2):
        done = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    key_file = home / "admin.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keys = KeyStore(home)
    assert len(keys.list()) == 1, "a second run made another key"
    assert keys.verify(key_file.read_text().strip()).scope == "admin"
    keys.close()

    compose_env = _env(_compose()["services"]["zhiku"])
    server = {"host": compose_env["ZHIKU_SERVER__HOST"], "port": compose_env["ZHIKU_SERVER__PORT"]}
    s = Settings(home=home, server=server)
    where = bind(s)
    assert (where.host, where.port, where.notice) == ("0.0.0.0", 8000, "")
    assert bind(Settings(home=tmp_path / "empty", server={"host": "0.0.0.0"})).host == "127.0.0.1"  # why init exists
