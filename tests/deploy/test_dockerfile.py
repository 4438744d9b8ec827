"""deploy/Dockerfile read as a build tool reads it: stages, base, user, secrets, commands."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy.commands import OUR_PACKAGES, ROOT, command_problem

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMMANDS = ("api", "worker", "bridge", "migrate", "search-attributes")
PINNED_SLIM = re.compile(r"python:3\.\d+\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE|CREDENTIAL", re.IGNORECASE)


@pytest.fixture(scope="module")
def parser() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def _instructions(parser: DockerfileParser, name: str) -> list[str]:
    return [item["value"] for item in parser.structure if item["instruction"] == name]


def _last_stage(parser: DockerfileParser) -> list[dict[str, str]]:
    starts = [i for i, item in enumerate(parser.structure) if item["instruction"] == "FROM"]
    return parser.structure[starts[-1] :]


def test_multi_stage_on_a_pinned_slim_python(parser: DockerfileParser) -> None:
    stages = _instructions(parser, "FROM")
    assert len(stages) >= 2
    assert [stage.split()[-1] for stage in stages] == ["build", "runtime"]
    for image in parser.parent_images:
        assert PINNED_SLIM.fullmatch(image), image


def test_the_runtime_stage_runs_as_a_numeric_non_root_user(parser: DockerfileParser) -> None:
    users = [item["value"] for item in _last_stage(parser) if item["instruction"] == "USER"]
    assert users, "the runtime stage names no USER"
    user, _, group = users[-1].partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert user.isdigit()
    assert int(user) != 0
    assert not group or int(group) != 0


def test_only_the_runtime_lock_is_installed(parser: DockerfileParser) -> None:
    # Instructions only: comments may name the dev lock to say it stays out.
    text = " ".join(item["value"] for item in parser.structure if item["instruction"] != "COMMENT")
    assert "requirements.lock" in text
    assert "requirements-dev.lock" not in text
    assert "pyproject.toml" not in " ".join(_instructions(parser, "COPY"))


def test_no_secret_is_baked_in(parser: DockerfileParser) -> None:
    for instruction in ("ENV", "ARG", "LABEL"):
        for value in _instructions(parser, instruction):
            assert not SECRET_NAME.search(value), f"{instruction} {value}"
    assert not any(SECRET_NAME.search(name) for name in parser.envs)
    copied = " ".join(_instructions(parser, "COPY"))
    assert ".env" not in copied
    assert "secret" not in copied.lower()


def test_everything_copied_exists_and_is_in_the_build_context(parser: DockerfileParser) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    allowed = {line.removeprefix("!").rstrip("/") for line in ignore if line.startswith("!")}
    sources = []
    for value in _instructions(parser, "COPY"):
        words = [word for word in shlex.split(value) if not word.startswith("--")]
        if "--from=" not in value:
            sources += words[:-1]
    assert sorted(sources) == sorted(["requirements.lock", *OUR_PACKAGES])
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source in allowed, f".dockerignore leaves {source} out"
    assert ignore[0] == "*", ".dockerignore must start from nothing"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_it_names_exists(parser: DockerfileParser, name: str) -> None:
    command = parser.labels[f"io.edgewright.command.{name}"]
    assert command_problem(shlex.split(command)) is None


def test_the_default_command_is_the_api(parser: DockerfileParser) -> None:
    default = shlex.split(parser.labels["io.edgewright.command.api"])
    assert parser.cmd is not None
    assert json.loads(parser.cmd) == default


def test_the_image_listens_where_the_api_command_does(parser: DockerfileParser) -> None:
    assert _instructions(parser, "EXPOSE") == ["8000"]
    assert parser.envs["EDGEWRIGHT_API_PORT"] == "8000"
    assert Path(parser.envs["EDGEWRIGHT_DATA_DIR"]).is_absolute()
