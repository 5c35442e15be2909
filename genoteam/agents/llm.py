"""Model access for the roles: configuration, litellm calls with retries, and the cost ledger.

Each role has its own model (config file, then environment). The name `offline` selects the
deterministic policies; a role whose model has no credentials (no API key in the environment
and no `api_base` of a local server) falls back to `offline` and the config says why. Every
call is recorded with its tokens, cost, latency, attempts and error.

Budget: before each call its worst case (the prompt plus max_tokens of reply, at the model's
price) is checked against what is left; a call that could overshoot is refused with
BudgetExhausted, which ends the job as `budget_exhausted` (so spending never passes the budget by
more than one call's estimate error). A model without a price (litellm's table or the config)
is refused unless the role sets `allow_unpriced = true`; its calls are then counted as unpriced.
"""

from __future__ import annotations

import os
import random
import re
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
    # None: 0.0, except for models that accept no temperature (o1/o3/o4/gpt-5 families), sent none
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, gt=0)  # None: the model's own output limit, at most 8192
    input_cost_per_token: float | None = Field(default=None, ge=0)  # overrides litellm's price table
    output_cost_per_token: float | None = Field(default=None, ge=0)
    allow_unpriced: bool = False  # a model without a known price may be called (its cost is unknown)
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


# What a role section that names its own model still takes from [models.default]: how to call,
# never what to call (api_base, key, prices, token limits belong to one model).
INHERITED_BY_OTHER_MODELS = ("timeout_s", "max_retries", "backoff_s")


def _role_settings(default: dict, own: dict) -> dict:
    """A role's settings: its own section over [models.default]; a section naming another model
    than the default's inherits only INHERITED_BY_OTHER_MODELS."""
    if "model" in own and own["model"] != default.get("model"):
        inherited = {key: default[key] for key in INHERITED_BY_OTHER_MODELS if key in default}
        return {**inherited, **own}
    return {**default, **own}


def _price_reason(spec: RoleModel) -> str:
    """Empty when calls of this role can be priced (or may go unpriced); else why not."""
    if spec.allow_unpriced or (
        spec.input_cost_per_token is not None and spec.output_cost_per_token is not None
    ):
        return ""
    if model_prices(spec) is not None:
        return ""
    return (
        f"model {spec.model} has no known price: set input_cost_per_token and output_cost_per_token "
        "(0 for a free local model), or allow_unpriced = true to call it with its cost unknown"
    )


def model_prices(spec: RoleModel) -> tuple[float, float] | None:
    """(input, output) USD per token: the config's, else litellm's bundled table; None if unknown."""
    if spec.input_cost_per_token is not None and spec.output_cost_per_token is not None:
        return spec.input_cost_per_token, spec.output_cost_per_token
    _quiet_litellm()
    import litellm

    try:
        info = litellm.get_model_info(spec.model)
    except Exception:  # litellm raises for models it does not know
        return None
    low, high = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if low is None or high is None:
        return None
    return (
        spec.input_cost_per_token if spec.input_cost_per_token is not None else float(low),
        spec.output_cost_per_token if spec.output_cost_per_token is not None else float(high),
    )


def load_team_config(path: Path | None = None, env: dict[str, str] | None = None) -> TeamConfig:
    """The team's configuration: file (`path` or $GENOTEAM_CONFIG), then environment overrides.

    File (TOML): `[team]` max_revisions, max_backtracks, max_steps, max_cost_usd, authoring,
    prefer_learned;
    `[models.default]` and `[models.<role>]` with the fields of `RoleModel`.
    Environment: GENOTEAM_MODEL (all roles), GENOTEAM_MODEL_<ROLE>, GENOTEAM_API_BASE,
    GENOTEAM_MAX_COST_USD. A role section naming its own model inherits only
    INHERITED_BY_OTHER_MODELS from [models.default]; a model without a price is refused unless
    `allow_unpriced`.
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
            own = dict(models_raw.get(role, {}))
            if env.get(f"GENOTEAM_MODEL_{role.upper()}"):
                own["model"] = env[f"GENOTEAM_MODEL_{role.upper()}"]
            spec = RoleModel(**_role_settings(default, own))
            if not spec.offline:
                unpriced = _price_reason(spec)
                if unpriced:
                    raise GenoteamError(f"team config {path or '(environment)'}: role {role}: {unpriced}")
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
    """A model call that produced no usable reply after its retries."""


class BudgetExhausted(GenoteamError):
    """The job's model budget cannot pay for the next call: the job stops (status budget_exhausted).

    Not a ModelCallError on purpose: the roles fall back to rules on a failed call, but a spent
    budget must end the job, not let it go on without its models."""


@dataclass(frozen=True)
class ModelReply:
    """What a call returned: the text, why the model stopped, and any tool calls (name, arguments)."""

    text: str
    finish_reason: str | None = None
    tool_calls: list[dict] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


_NO_TEMPERATURE = re.compile(r"^(o\d|gpt-5)")  # model families that accept only their default temperature


def accepts_temperature(model: str) -> bool:
    return not _NO_TEMPERATURE.match(model.rsplit("/", 1)[-1])


def output_limit(spec: RoleModel) -> int:
    """max_tokens for a call: the role's setting, else the model's output limit (at most 8192)."""
    if spec.max_tokens is not None:
        return spec.max_tokens
    _quiet_litellm()
    import litellm

    try:
        limit = litellm.get_model_info(spec.model).get("max_output_tokens")
    except Exception:  # unknown to litellm's table
        limit = None
    return min(int(limit), 8192) if limit else 4096


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
    finish_reason: str = ""


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

    def _worst_case_usd(self, spec: RoleModel, messages: list[dict], max_tokens: int) -> float | None:
        """The most this call can cost (prompt at ~3 characters a token, plus a full reply)."""
        prices = model_prices(spec)
        if prices is None:
            return None
        prompt_tokens = sum(len(str(m.get("content") or "")) for m in messages) // 3 + 16
        return prompt_tokens * prices[0] + max_tokens * prices[1]

    def complete(
        self, role: str, purpose: str, messages: list[dict], task_id: str, unit: str | None = None
    ) -> ModelReply:
        """The reply; raises ModelCallError (recorded in the ledger) when there is none, and
        BudgetExhausted when the budget cannot pay for this call."""
        spec = self.config.role(role)
        record = CallRecord(role=role, purpose=purpose, task_id=task_id, unit=unit, model=spec.model)
        self.ledger.calls.append(record)
        if spec.offline:
            record.errors.append("role is offline")
            raise ModelCallError(f"role {role} has no model (offline)")
        max_tokens = output_limit(spec)
        budget = self.config.max_cost_usd
        if budget is not None:
            worst = self._worst_case_usd(spec, messages, max_tokens)
            spent = self.ledger.cost_usd
            if worst is not None and spent + worst > budget:
                record.errors.append(
                    f"budget: ${spent:.4f} of ${budget:.4f} spent, this call may cost ${worst:.4f}"
                )
                raise BudgetExhausted(
                    f"the job's model budget is exhausted: ${spent:.4f} of ${budget:.4f} spent, and the next "
                    f"{role} call ({purpose}) may cost up to ${worst:.4f}",
                    "raise max_cost_usd in the team config, or lower max_tokens",
                )
        _quiet_litellm()
        import litellm

        litellm.suppress_debug_info = True
        kwargs: dict = {
            "model": spec.model,
            "messages": messages,
            "timeout": spec.timeout_s,
            "max_tokens": max_tokens,
            "num_retries": 0,
        }
        if spec.temperature is not None:
            kwargs["temperature"] = spec.temperature  # the user's choice, sent as set
        elif accepts_temperature(spec.model):
            kwargs["temperature"] = 0.0
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
                if name == "UnsupportedParamsError" and "temperature" in kwargs and spec.temperature is None:
                    kwargs.pop("temperature")  # the model takes no temperature; the user set none
                    continue
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
            reply = _reply_of(response)
            record.reply_chars = len(reply.text)
            record.finish_reason = reply.finish_reason or ""
            record.ok = True
            return reply
        raise AssertionError("unreachable")

    @staticmethod
    def _account(record: CallRecord, spec: RoleModel, response) -> None:
        usage = getattr(response, "usage", None)
        record.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        record.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        prices = model_prices(spec)
        if prices is None:  # allowed unpriced: cost unknown, said so in provenance
            record.cost_known = False
            return
        record.cost_usd = record.prompt_tokens * prices[0] + record.completion_tokens * prices[1]


def _reply_of(response) -> ModelReply:
    """ModelReply from a litellm response (content, finish_reason, tool calls)."""
    if not response.choices:
        return ModelReply("")
    choice = response.choices[0]
    message = choice.message
    calls = [
        {"name": call.function.name, "arguments": call.function.arguments}
        for call in (getattr(message, "tool_calls", None) or [])
        if getattr(call, "function", None) is not None
    ]
    return ModelReply(message.content or "", getattr(choice, "finish_reason", None), calls)
