"""Answers of the hosted REST endpoints read into models: a mismatch names where and what, never the values.

Imports: stdlib, pydantic, types, _exceptions, and core: requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .._exceptions import APIResponseValidationError
from ..types._base import describe_validation_error
from .requests import ApiResponse

__all__ = ["parse_json_object", "parse_model", "validate_model"]

M = TypeVar("M", bound=BaseModel)

# Answer fields that are credentials: kept out of the `body` an error carries, since errors get logged.
_SECRET_FIELDS = frozenset({"client_secret"})


def _without_secrets(body: object) -> object:
    if isinstance(body, Mapping) and _SECRET_FIELDS & set(body):
        return {key: ("***" if key in _SECRET_FIELDS else value) for key, value in body.items()}
    return body


def parse_json_object(response: ApiResponse, what: str) -> Mapping[str, Any]:
    body = response.json()
    if not isinstance(body, Mapping):
        raise APIResponseValidationError(
            f"expected {what} as a JSON object, got {type(body).__name__}", body=_without_secrets(body)
        )
    return body


def validate_model(model: type[M], body: object) -> M:
    """`model` from server data; a mismatch says where and what, never the values (a secret may be one)."""
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise APIResponseValidationError(
            f"the {model.__name__} in the response is malformed: {describe_validation_error(err)}",
            body=_without_secrets(body),
        ) from None


def parse_model(model: type[M], response: ApiResponse) -> M:
    return validate_model(model, parse_json_object(response, model.__name__))
