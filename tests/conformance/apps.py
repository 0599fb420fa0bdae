"""ASGI apps for `chatkit conformance --app tests.conformance.apps:NAME` in the CLI tests."""

from __future__ import annotations

from tests.conformance.mutants import MUTANTS, documented_app, mutant_app

documented = documented_app()
"""openai-chatkit hosted as its guide shows."""

feedback_500 = mutant_app(next(mutant for mutant in MUTANTS if mutant.name == "feedback-500"))
"""A server failing one required case (`items.feedback`)."""

not_an_app = "a string"
