"""Response parsing shared by every resource shell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .._exceptions import APIResponseValidationError
from .._transport import ApiResponse

__all__ = ["parse_json_object", "parse_model"]

M = TypeVar("M", bound=BaseModel)


def parse_json_object(response: ApiResponse, what: str) -> Mapping[str, Any]:
    body = response.json()
    if not isinstance(body, Mapping):
        raise APIResponseValidationError(f"expected {what} as a JSON object, got {type(body).__name__}", body=body)
    return body


def parse_model(model: type[M], response: ApiResponse) -> M:
    body = parse_json_object(response, model.__name__)
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise APIResponseValidationError(
            f"the {model.__name__} in the response is malformed: {err}", body=body
        ) from err
