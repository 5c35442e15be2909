"""Model access for the roles: configuration, litellm calls with retries, and the cost ledger.

Each role has its own model (config file, then environment). The name `offline` selects the
deterministic policies; a role whose model has no credentials (no API key in the environment
and no `api_base` of a local server) falls back to `offline` and the config says why. Every
call is recorded with its tokens, cost, latency, attempts and error, and a job stops calling
models once its cost budget is spent.
"""

from __future__ import annotations

import os
import random
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genoteam.agents.messages import ROLES
from genoteam.toolkit.errors import GenoteamError

OFFLINE = "offline"
Authoring = Literal["shipped", "model-first"]
AUTHORING_MODES = ("shipped", "model-first")


class RoleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = OFFLINE
    api_base: str | None = None
    api_key_env: str | None = None  # name of the environment variable holding the key
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=1.0, ge=0)
    temperature: float = 0.0
    max_tokens: int = Field(default=4096, gt=0)
    input_cost_per_token: float | None = Field(default=None, ge=0)  # overrides litellm's price table
    output_cost_per_token: float | None = Field(default=None, ge=0)
    offline_reason: str = ""  # why this role runs offline although a model was named

    @property
    def offline(self) -> bool:
        return self.model == OFFLINE


class TeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, RoleModel] = Field(default_factory=dict)
    max_revisions: int = Field(default=3, ge=0, le=20)  # revisions after the first attempt of a unit
    max_backtracks: int = Field(default=2, ge=0, le=20)  # per task
    max_steps: int = Field(default=60, ge=1)  # planner decisions per task, a guard against loops
    max_cost_usd: float | None = Field(default=None, ge=0)  # per job; None: no budget
    # shipped: code memory first (shipped snippets, then learned code), models only where it fails;
    # model-first: models write every unit, shipped snippets are only examples in their prompts
    authoring: Authoring = "shipped"
    prefer_learned: bool = False  # offer learned code before the shipped snippet (opt-in)

    def role(self, name: str) -> RoleModel:
        return self.models.get(name) or RoleModel()

    def all_offline(self) -> bool:
        return all(self.role(role).offline for role in ROLES)

    def require_models(self, roles: list[str], why: str) -> None:
        """Refuse to start when a role that must write code has no model (model-first authoring)."""
        missing = [
            f"{role} ({self.role(role).offline_reason or 'no model configured'})"
            for role in roles
            if self.role(role).offline
        ]
        if missing:
            raise GenoteamError(
                f"{why}, but these roles have no usable model: {'; '.join(missing)}",
                "configure [models.default] or [models.<role>] in the team config, or use --authoring shipped",
            )


def _credentials_reason(spec: RoleModel, env: dict[str, str]) -> str:
    """Empty when the role can call its model; else why it cannot."""
    if spec.api_base:
        return ""  # a local OpenAI-compatible server; keys are optional there
    if spec.api_key_env:
        return "" if env.get(spec.api_key_env) else f"environment variable {spec.api_key_env} is not set"
    _quiet_litellm()
    import litellm

    try:
        found = litellm.validate_environment(spec.model)
    except Exception as error:  # an unknown provider prefix lands here
        return f"litellm does not know model {spec.model!r}: {error}"
    missing = [key for key in found.get("missing_keys") or [] if not env.get(key)]
    if found.get("keys_in_environment") or (found.get("missing_keys") and not missing):
        return ""
    return "no API key in the environment (" + ", ".join(missing or ["?"]) + ")"


def load_team_config(path: Path | None = None, env: dict[str, str] | None = None) -> TeamConfig:
    """The team's configuration: file (`path` or $GENOTEAM_CONFIG), then environment overrides.

    File (TOML): `[team]` max_revisions, max_backtracks, max_steps, max_cost_usd, authoring,
    prefer_learned;
    `[models.default]` and `[models.<role>]` with the fields of `RoleModel`.
    Environment: GENOTEAM_MODEL (all roles), GENOTEAM_MODEL_<ROLE>, GENOTEAM_API_BASE,
    GENOTEAM_MAX_COST_USD.
    """
    env = dict(os.environ if env is None else env)
    path = path or (Path(env["GENOTEAM_CONFIG"]) if env.get("GENOTEAM_CONFIG") else None)
    raw: dict = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise GenoteamError(f"team config {path} cannot be read: {error}", "fix the TOML file") from None
    unknown = set(raw) - {"team", "models"}
    if unknown:
        raise GenoteamError(
            f"team config {path}: unknown section(s) {sorted(unknown)}", "use [team] and [models.*]"
        )
    models_raw: dict = dict(raw.get("models", {}))
    default = dict(models_raw.pop("default", {}))
    if env.get("GENOTEAM_MODEL"):
        default["model"] = env["GENOTEAM_MODEL"]
    if env.get("GENOTEAM_API_BASE"):
        default["api_base"] = env["GENOTEAM_API_BASE"]
    bad_roles = set(models_raw) - set(ROLES)
    if bad_roles:
        raise GenoteamError(
            f"team config {path}: unknown role(s) {sorted(bad_roles)}", f"roles: {', '.join(ROLES)}"
        )
    team = dict(raw.get("team", {}))
    if env.get("GENOTEAM_MAX_COST_USD"):
        team["max_cost_usd"] = float(env["GENOTEAM_MAX_COST_USD"])
    models: dict[str, RoleModel] = {}
    try:
        for role in ROLES:
            merged = {**default, **models_raw.get(role, {})}
            if env.get(f"GENOTEAM_MODEL_{role.upper()}"):
                merged["model"] = env[f"GENOTEAM_MODEL_{role.upper()}"]
            spec = RoleModel(**merged)
            if not spec.offline:
                reason = _credentials_reason(spec, env)
                if reason:
                    spec = spec.model_copy(
                        update={"offline_reason": f"{spec.model}: {reason}", "model": OFFLINE}
                    )
            models[role] = spec
        return TeamConfig(models=models, **team)
    except ValidationError as error:
        raise GenoteamError(
            f"team config {path or '(environment)'} is invalid: {error}", "see docs/agents.md"
        ) from None


class ModelCallError(GenoteamError):
    """A model call that produced no usable reply after its retries (or was refused by the budget)."""


@dataclass
class CallRecord:
    role: str
    purpose: str
    task_id: str
    unit: str | None
    model: str
    ok: bool = False
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    latency_s: float = 0.0
    reply_chars: int = 0


@dataclass
class Ledger:
    """All model calls of one job: the source of tokens and cost per role, task and job."""

    calls: list[CallRecord] = field(default_factory=list)

    @property
    def cost_usd(self) -> float:
        return sum(call.cost_usd for call in self.calls)

    def totals(self, key: str) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for call in self.calls:
            bucket = out.setdefault(
                getattr(call, key) or "-",
                {"calls": 0, "failed_calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
            )
            bucket["calls"] += 1
            bucket["failed_calls"] += 0 if call.ok else 1
            bucket["prompt_tokens"] += call.prompt_tokens
            bucket["completion_tokens"] += call.completion_tokens
            bucket["cost_usd"] += call.cost_usd
        return out

    def summary(self) -> dict:
        return {
            "calls": len(self.calls),
            "cost_usd": self.cost_usd,
            "cost_complete": all(call.cost_known for call in self.calls),
            "by_role": self.totals("role"),
            "by_task": self.totals("task_id"),
        }


_RETRYABLE_NAMES = {
    "Timeout",
    "APIConnectionError",
    "RateLimitError",
    "ServiceUnavailableError",
    "InternalServerError",
    "BadGatewayError",
    "APIError",
}


def _quiet_litellm() -> None:
    """Keep litellm off the network at import (bundled price table) and out of the logs."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")


class ModelClient:
    """Calls each role's model through litellm, with retries, timeouts, the ledger and the budget."""

    def __init__(self, config: TeamConfig, ledger: Ledger | None = None, sleep=time.sleep) -> None:
        self.config = config
        self.ledger = ledger or Ledger()
        self._sleep = sleep

    def is_offline(self, role: str) -> bool:
        return self.config.role(role).offline

    def complete(
        self, role: str, purpose: str, messages: list[dict], task_id: str, unit: str | None = None
    ) -> str:
        """The reply text; raises ModelCallError (recorded in the ledger) when there is none."""
        spec = self.config.role(role)
        record = CallRecord(role=role, purpose=purpose, task_id=task_id, unit=unit, model=spec.model)
        self.ledger.calls.append(record)
        if spec.offline:
            record.errors.append("role is offline")
            raise ModelCallError(f"role {role} has no model (offline)")
        budget = self.config.max_cost_usd
        if budget is not None and self.ledger.cost_usd >= budget:
            record.errors.append(f"budget of ${budget:.4f} spent")
            raise ModelCallError(
                f"the job's model budget (${budget:.4f}) is spent", "raise max_cost_usd in the team config"
            )
        _quiet_litellm()
        import litellm

        litellm.suppress_debug_info = True
        kwargs: dict = {
            "model": spec.model,
            "messages": messages,
            "timeout": spec.timeout_s,
            "temperature": spec.temperature,
            "max_tokens": spec.max_tokens,
            "num_retries": 0,
        }
        if spec.api_base:
            kwargs["api_base"] = spec.api_base
            kwargs["api_key"] = os.environ.get(spec.api_key_env or "", "") or "not-needed"
        elif spec.api_key_env:
            kwargs["api_key"] = os.environ.get(spec.api_key_env, "")
        started = time.monotonic()
        for attempt in range(spec.max_retries + 1):
            record.attempts = attempt + 1
            try:
                response = litellm.completion(**kwargs)
            except Exception as error:  # litellm maps provider errors to its own classes
                name = type(error).__name__
                record.errors.append(f"{name}: {str(error)[:300]}")
                if name not in _RETRYABLE_NAMES or attempt == spec.max_retries:
                    record.latency_s = time.monotonic() - started
                    raise ModelCallError(
                        f"{role} model {spec.model} failed after {attempt + 1} attempt(s): {name}",
                        "check the model name, api_base, key and timeout_s in the team config",
                    ) from None
                self._sleep(spec.backoff_s * (2**attempt) * (1 + random.random() / 4))
                continue
            record.latency_s = time.monotonic() - started
            self._account(record, spec, response)
            text = (response.choices[0].message.content or "") if response.choices else ""
            record.reply_chars = len(text)
            record.ok = True
            return text
        raise AssertionError("unreachable")

    @staticmethod
    def _account(record: CallRecord, spec: RoleModel, response) -> None:
        usage = getattr(response, "usage", None)
        record.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        record.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        if spec.input_cost_per_token is not None or spec.output_cost_per_token is not None:
            record.cost_usd = record.prompt_tokens * (
                spec.input_cost_per_token or 0.0
            ) + record.completion_tokens * (spec.output_cost_per_token or 0.0)
            return
        import litellm

        try:
            record.cost_usd = float(litellm.completion_cost(completion_response=response))
        except Exception:  # a model litellm has no price for: cost unknown, said so in provenance
            record.cost_known = False
