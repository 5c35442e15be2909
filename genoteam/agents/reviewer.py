"""The code reviewer: a structured verdict on one attempt, from the attempt and the task history only.

The rules come first and cannot be overruled: code that raised, or whose checks failed, is
rejected with the concrete failures as requests (no model call needed for that). An attempt
that ran and passed its checks goes to the reviewer's model when it has one; when it is offline,
or its reply is unusable, the checks are the review and the verdict says so.
"""

from __future__ import annotations

from genoteam.agents.llm import ModelCallError, ModelClient
from genoteam.agents.messages import ReviewRequest, ReviewVerdict
from genoteam.agents.parsing import extract_json_object
from genoteam.agents.prompts import review_messages


class Reviewer:
    role = "reviewer"

    def __init__(self, client: ModelClient) -> None:
        self.client = client

    def verdict(self, request: ReviewRequest, approved: bool, reason: str, requests: list[str], source: str):
        return ReviewVerdict(
            sender="reviewer",
            recipient=request.sender,
            task_id=request.task_id,
            in_reply_to=request.id,
            unit=request.attempt.unit,
            approved=approved,
            reason=reason,
            requests=requests,
            source=source,
        )

    def rule_verdict(self, request: ReviewRequest) -> ReviewVerdict | None:
        """A rejection when the attempt failed to run or failed a check; None when the rules find nothing."""
        attempt = request.attempt
        if attempt.status != "ok":
            first_line = (attempt.error or attempt.status).strip().splitlines()[0]
            return self.verdict(
                request,
                False,
                f"the code did not run to the end ({attempt.status}: {first_line[:300]})",
                [f"fix this error: {attempt.error or attempt.status}"],
                "rules",
            )
        failed = [check for check in attempt.checks if not check.get("passed")]
        if failed:
            return self.verdict(
                request,
                False,
                f"{len(failed)} of {len(attempt.checks)} check(s) failed",
                [f"{check['name']}: {check.get('detail', '')}" for check in failed],
                "rules",
            )
        return None

    def review(self, request: ReviewRequest) -> ReviewVerdict:
        rejected = self.rule_verdict(request)
        if rejected is not None:
            return rejected
        passed = f"the code ran and all {len(request.attempt.checks)} check(s) passed"
        if self.client.is_offline(self.role):
            return self.verdict(request, True, passed, [], "rules")
        try:
            reply = self.client.complete(
                self.role,
                "review",
                review_messages(request, request.task_id),
                request.task_id,
                request.attempt.unit,
            )
        except ModelCallError as error:
            return self.verdict(request, True, passed, [], f"rules (model unavailable: {error.problem})")
        data, problem = extract_json_object(reply)
        if data is None or not isinstance(data.get("approved"), bool):
            problem = problem or "the JSON has no boolean `approved`"
            return self.verdict(request, True, passed, [], f"rules (model reply unusable: {problem})")
        requests = [str(item) for item in data.get("requests") or [] if str(item).strip()]
        reason = str(data.get("reason") or "").strip() or "(no reason given)"
        if not data["approved"] and not requests:
            requests = [reason]  # a rejection must say what to change; the reason is the least we have
        return self.verdict(request, data["approved"], reason, requests, "model")
