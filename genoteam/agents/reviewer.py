"""The code reviewer: a structured verdict on one attempt, from the attempt and the task history only.

The rules come first and cannot be overruled: code that raised, or whose checks failed, is
rejected with the concrete failures as requests (no model call needed for that). An attempt
that ran and passed its checks goes to the reviewer's model when it has one; when it is offline,
the checks are the review and the verdict says so. Review fails closed: a reply that holds no
readable verdict is asked again once, and a second unreadable reply (or a reviewer that cannot
be reached) is a rejection, never an approval.
"""

from __future__ import annotations

from genoteam.agents.llm import ModelCallError, ModelClient
from genoteam.agents.messages import ReviewRequest, ReviewVerdict
from genoteam.agents.parsing import extract_json_object
from genoteam.agents.prompts import ReviewBrief, review_messages


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

    def review(self, request: ReviewRequest, brief: ReviewBrief | None = None) -> ReviewVerdict:
        rejected = self.rule_verdict(request)
        if rejected is not None:
            return rejected
        passed = f"the code ran and all {len(request.attempt.checks)} check(s) passed"
        if self.client.is_offline(self.role):
            return self.verdict(request, True, passed, [], "rules")
        messages = review_messages(request, request.task_id, brief)
        problem = ""
        for ask in (1, 2):
            try:
                reply = self.client.complete(
                    self.role, "review", messages, request.task_id, request.attempt.unit
                )
            except ModelCallError as error:
                return self.verdict(
                    request,
                    False,
                    f"the reviewer could not be asked: {error.problem}",
                    [
                        "no change needed if the code is right; the attempt is retried because it was not reviewed"
                    ],
                    "rules (reviewer unavailable: fails closed)",
                )
            data, problem = _verdict_of(reply)
            if data is not None:
                requests = [str(item) for item in data.get("requests") or [] if str(item).strip()]
                reason = str(data.get("reason") or "").strip() or "(no reason given)"
                if not data["approved"] and not requests:
                    requests = [
                        reason
                    ]  # a rejection must say what to change; the reason is the least we have
                source = "model" if ask == 1 else "model (asked twice)"
                return self.verdict(request, data["approved"], reason, requests, source)
            messages = messages + [
                {"role": "assistant", "content": reply.text},
                {
                    "role": "user",
                    "content": f"Your reply could not be read as a verdict ({problem}). Answer again with only "
                    'the JSON object {"approved": true|false, "reason": "...", "requests": [...]}.',
                },
            ]
        return self.verdict(
            request,
            False,
            f"the reviewer's verdict could not be read, twice ({problem})",
            [
                "the attempt was not approved because no verdict could be read; "
                "make the output show plainly that the unit did what it asks"
            ],
            f"rules (reviewer reply unusable twice: {problem}; fails closed)",
        )


def _verdict_of(reply) -> tuple[dict | None, str]:
    """The verdict object of a reviewer reply, or None and why it cannot be read."""
    if reply.truncated:
        return None, "the reply was cut off at max_tokens"
    data, problem = extract_json_object(reply.text)
    if data is None:
        return None, problem
    if not isinstance(data.get("approved"), bool):
        return None, "the JSON has no boolean `approved`"
    return data, ""
