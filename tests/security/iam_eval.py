"""A small IAM evaluator for the policy subset deployments/iam/ uses, and boto3 call mapping.

Supported: ``Allow`` statements with ``Action`` and ``Resource`` (strings or lists, ``*``
and ``?`` wildcards) and ``StringEquals`` / ``StringLike`` conditions. Anything else
(``Deny``, ``NotAction``, ``NotResource``, other operators) raises ``UnsupportedPolicyError``
so a policy never passes because the evaluator skipped a part it did not understand.
A request with no matching Allow is denied, as in IAM.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

IAM_DIR = Path(__file__).resolve().parents[2] / "deployments" / "iam"
SUPPORTED_OPERATORS = ("StringEquals", "StringLike")
PASSED_TO_SAGEMAKER = {"iam:PassedToService": "sagemaker.amazonaws.com"}


class UnsupportedPolicyError(ValueError):
    """The policy uses a feature this evaluator does not implement."""


class UnmappedOperationError(KeyError):
    """The code made an AWS call this module has no IAM mapping for."""


@dataclass(frozen=True)
class Access:
    """One IAM authorization a call needs: an action on a resource, with request context."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict, hash=False)
    call: str = ""  # the API call it came from, for messages

    def __str__(self) -> str:
        extra = f" {self.context}" if self.context else ""
        return f"{self.action} on {self.resource}{extra} (from {self.call})"


@cache
def _pattern(glob: str, *, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile("".join(parts), re.IGNORECASE if ignore_case else 0)


def wildcard_match(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` is any run of characters (``/`` included), ``?`` one."""
    return _pattern(glob, ignore_case=ignore_case).fullmatch(value) is not None


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        if operator not in SUPPORTED_OPERATORS:
            raise UnsupportedPolicyError(f"condition operator {operator!r} is not supported")
        for key, allowed in tests.items():
            if key not in context:  # IAM: a missing key fails a (non-IfExists) condition
                return False
            value = context[key]
            if operator == "StringEquals" and value not in _as_list(allowed):
                return False
            if operator == "StringLike" and not any(
                wildcard_match(glob, value) for glob in _as_list(allowed)
            ):
                return False
    return True


def check_supported(policy: dict[str, Any]) -> None:
    for statement in policy["Statement"]:
        unsupported = {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
        if statement.get("Effect") != "Allow" or unsupported:
            raise UnsupportedPolicyError(
                f"statement {statement.get('Sid')!r}: only Allow with Action/Resource is "
                f"supported, got Effect={statement.get('Effect')!r} {sorted(unsupported)}"
            )
        for operator in statement.get("Condition", {}):
            if operator not in SUPPORTED_OPERATORS:
                raise UnsupportedPolicyError(f"condition operator {operator!r} is not supported")


def statement_allows(statement: dict[str, Any], access: Access) -> bool:
    return (
        any(
            wildcard_match(a, access.action, ignore_case=True)
            for a in _as_list(statement["Action"])
        )
        and any(wildcard_match(r, access.resource) for r in _as_list(statement["Resource"]))
        and _condition_holds(statement.get("Condition", {}), access.context)
    )


def matching_statements(policy: dict[str, Any], access: Access) -> list[str]:
    """The Sids of the statements that allow ``access`` (empty: denied)."""
    check_supported(policy)
    return [s.get("Sid", "?") for s in policy["Statement"] if statement_allows(s, access)]


def is_allowed(policy: dict[str, Any], access: Access) -> bool:
    return bool(matching_statements(policy, access))


def render_policy(name: str, values: dict[str, str]) -> dict[str, Any]:
    """deployments/iam/<name>.json with its ``${Placeholder}``s substituted (all required)."""
    text = (IAM_DIR / f"{name}.json").read_text()
    return json.loads(Template(text).substitute(values))


# -- from recorded boto3 calls to the IAM authorizations they need ----------------------


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _kms_for_write(params: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """SSE-KMS writes need kms:GenerateDataKey on the key (S3 calls KMS as the caller)."""
    if params.get("ServerSideEncryption") == "aws:kms" and params.get("SSEKMSKeyId"):
        return [("kms:GenerateDataKey", params["SSEKMSKeyId"], {})]
    return []


def _s3_accesses(operation: str, params: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    bucket = params.get("Bucket", "")
    if operation in ("GetObject", "HeadObject"):
        return [("s3:GetObject", _object_arn(bucket, params["Key"]), {})]
    if operation == "PutObject":  # a conditional create (IfNoneMatch) is a PutObject too
        return [("s3:PutObject", _object_arn(bucket, params["Key"]), {}), *_kms_for_write(params)]
    if operation == "CopyObject":
        source = params["CopySource"]
        return [
            ("s3:GetObject", _object_arn(source["Bucket"], source["Key"]), {}),
            ("s3:PutObject", _object_arn(bucket, params["Key"]), {}),
            *_kms_for_write(params),
        ]
    if operation == "DeleteObject":
        return [("s3:DeleteObject", _object_arn(bucket, params["Key"]), {})]
    if operation in ("ListObjectsV2", "ListObjects"):
        return [
            ("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": params.get("Prefix", "")})
        ]
    raise UnmappedOperationError(f"s3.{operation}")


def _sagemaker_accesses(
    operation: str, params: dict[str, Any], region: str, account: str
) -> list[tuple[str, str, dict[str, str]]]:
    def job_arn(name: str) -> str:
        return f"arn:aws:sagemaker:{region}:{account}:labeling-job/{name.lower()}"

    if operation == "ListLabelingJobs":
        return [("sagemaker:ListLabelingJobs", "*", {})]
    if operation in ("DescribeLabelingJob", "StopLabelingJob"):
        return [(f"sagemaker:{operation}", job_arn(params["LabelingJobName"]), {})]
    if operation == "CreateLabelingJob":
        arn = job_arn(params["LabelingJobName"])
        needed = [
            ("sagemaker:CreateLabelingJob", arn, {}),
            ("iam:PassRole", params["RoleArn"], PASSED_TO_SAGEMAKER),
        ]
        if params.get("Tags"):  # tagging on create also needs sagemaker:AddTags
            needed.append(("sagemaker:AddTags", arn, {}))
        return needed
    raise UnmappedOperationError(f"sagemaker.{operation}")


def accesses_for_call(
    service: str, operation: str, params: dict[str, Any], *, region: str, account: str
) -> list[Access]:
    """The IAM authorizations one API call needs; unknown calls raise, never pass."""
    call = f"{service}.{operation}"
    if service == "s3":
        needed = _s3_accesses(operation, params)
    elif service == "sagemaker":
        needed = _sagemaker_accesses(operation, params, region, account)
    else:
        raise UnmappedOperationError(call)
    return [Access(action, resource, context, call) for action, resource, context in needed]
